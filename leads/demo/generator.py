"""One contact at a time: identity, owner history, calls and the facts derived from them.

Everything about a contact is generated in memory before its row is written, so the facts the
contact carries (counts, last call, last activity, next task, open deal, current health, call
rhythm) are computed from exactly the rows written next to it, by the rules of
`calls.services.contact_facts_rebuild` and `calls.services.pattern_breaks_detect`.
"""

import bisect
import random
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import datetime

from calls.models import CallOutcome, CallStatus, Channel, Direction
from calls.services import (
    PATTERN_BREAK_RATIO,
    PATTERN_CURRENT,
    PATTERN_MIN_CALLS,
    PATTERN_MIN_HISTORY,
    PATTERN_USUAL_WEEKS,
    PATTERN_WINDOW,
    last_activity,
    note_excerpt,
)
from leads.demo import catalog as c
from leads.demo.calendar import BusinessCalendar
from leads.demo.people import (
    NamePools,
    TypedPhone,
    email_for,
    landline_number,
    mobile_number,
    phone_for,
    typed,
)
from leads.demo.records import DAY, HUBSPOT_ID_BASES, RecordsMixin
from leads.demo.rows import Chunk
from leads.models import LeadStatus, LifecycleStage, PatternStatus, Tier, Zone
from leads.phones import normalise_phone

HUBSPOT_CALL_ID_BASE = 40_000_000_000
# pattern_breaks_detect's windows, in the generator's seconds.
PATTERN_CURRENT_SECONDS = int(PATTERN_CURRENT.total_seconds())
PATTERN_WINDOW_SECONDS = int(PATTERN_WINDOW.total_seconds())
PILOT_PROFILES = 10_000


@dataclass(slots=True)
class Profile:
    """How a contact behaves: stage, creation (POSIX seconds), calling rhythm; showcase overrides."""

    stage: str
    created: int
    rhythm: str
    rate: float = 0.0  # calls a week (steady, nurture) before scaling to the call target
    attempts: int = 0  # first-contact attempts (attempts) before scaling
    breaker: bool = False  # steady rhythm, but no call this business week nor in the last 7 days
    phase: float = 0.0  # where in the week a steady contact is usually called (0 = opening)
    zone: str | None = None  # None: drawn
    dropping: bool | None = None
    overdue_task: bool = False
    recent_owner_change: bool = False
    coach: bool | None = None
    tier: str | None = None
    deal_amount: int | None = None


# The demo setter's first contacts: one of each situation the queue and follow-up pages handle,
# so `setter / demo` sees them whatever the seed. Here `created` counts seconds before now.
SHOWCASE = (
    Profile(LifecycleStage.LEAD, 240, c.NONE, tier=Tier.A_PLUS),  # speed to lead
    Profile(LifecycleStage.LEAD, 9_000, c.NONE, tier=Tier.A),
    Profile(LifecycleStage.CUSTOMER, 120 * DAY, c.STEADY, rate=1.0, zone=Zone.RED, dropping=True),
    Profile(LifecycleStage.CUSTOMER, 150 * DAY, c.STEADY, rate=2.0, breaker=True, zone=Zone.ORANGE),
    Profile(LifecycleStage.SQL, 6 * DAY, c.ATTEMPTS, attempts=4, overdue_task=True, tier=Tier.A),
    Profile(LifecycleStage.OPPORTUNITY, 60 * DAY, c.NURTURE, rate=0.2, coach=False, deal_amount=45_000),
    Profile(
        LifecycleStage.CUSTOMER,
        100 * DAY,
        c.STEADY,
        rate=1.0,
        zone=Zone.YELLOW,
        dropping=True,
        recent_owner_change=True,
    ),
    Profile(LifecycleStage.MQL, 40 * DAY, c.NURTURE, rate=0.3),
    Profile(LifecycleStage.CUSTOMER, 90 * DAY, c.STEADY, rate=1.5, zone=Zone.GREEN),
    Profile(LifecycleStage.CUSTOMER, 170 * DAY, c.STEADY, rate=1.0, zone=Zone.PURPLE),
)
MIN_AGE_DAYS = {
    LifecycleStage.CUSTOMER: 30, LifecycleStage.EVANGELIST: 30, LifecycleStage.OPPORTUNITY: 10,
    LifecycleStage.SQL: 3, LifecycleStage.SUBSCRIBER: 20, LifecycleStage.LOST: 20,
}  # fmt: skip


@dataclass(frozen=True)
class OwnerSpec:
    id: int
    first_name: str
    last_name: str
    is_setter: bool
    is_active: bool
    capacity: int

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(slots=True)
class CallFacts:
    """What contact_facts_rebuild derives from a contact's calls (duck-types as a Contact for
    calls.services.last_activity)."""

    times: list[int]
    call_count: int = 0
    outgoing_call_count: int = 0
    answered_call_count: int = 0
    booking_count: int = 0
    last_call_at: datetime | None = None
    last_call_time: int | None = None
    last_call_status: str = ""
    last_call_outcome: str = ""
    last_call_note: str = ""
    last_reached_at: datetime | None = None


@dataclass(slots=True)
class ContactDraft:
    """A contact while it is being generated."""

    id: int
    profile: Profile
    first: str
    last: str
    city: str
    owner_id: int | None
    merged_into: int | None
    opt_outs: dict[str, bool]
    owner_changes: list[int] = field(default_factory=list)  # moments, oldest first
    owner_chain: list[int | None] = field(default_factory=list)  # chain[i] owned it until changes[i]
    facts: CallFacts | None = None
    pattern: str = ""


class WorldGenerator(RecordsMixin):
    def __init__(
        self,
        *,
        seed: int,
        calendar: BusinessCalendar,
        owners: list[OwnerSpec],
        first_ids: dict[str, int],
        contacts: int,
        calls: int,
        deals: int,
        manager_user_id: int | None,
    ) -> None:
        self.rng = random.Random(seed)
        self.cal = calendar
        self.names = NamePools.build(seed)
        self.ids = dict(first_ids)
        # Recent contacts a duplicate can be merged into (already written or in the same chunk):
        # (id, first, last, email, national number, city, stage, owner id).
        self.merge_targets: deque[tuple] = deque(maxlen=1_000)
        self.manager_user_id = manager_user_id
        self.all_owner_ids = [owner.id for owner in owners]
        self.showcase_owner_id = owners[0].id if owners else None
        setters = [o for o in owners if o.is_setter and o.is_active]
        self.setter_ids = [o.id for o in setters]
        self.pick_setter = c.Weighted([(o.id, o.capacity) for o in setters]) if setters else None
        coaches = [o for o in owners if not o.is_setter and o.is_active]
        self.coach_ids = [o.id for o in coaches]
        self.coach_names = [o.full_name for o in coaches]
        self.call_scale = self._call_scale(seed, calls, contacts)
        self.deal_scale = self._deal_scale(deals, contacts)

    def _next(self, table: str) -> int:
        value = self.ids[table]
        self.ids[table] = value + 1
        return value

    # --- scale ----------------------------------------------------------------------------
    def _call_scale(self, seed: int, calls: int, contacts: int) -> float:
        """Multiplier of every rhythm so the world has about `calls` calls, measured on a pilot
        sample of profiles drawn from their own Random (the world's draws stay untouched)."""
        if not calls or not contacts:
            return 0.0
        pilot = random.Random(seed * 7_919 + 1)
        raw = sum(len(self._call_times(pilot, self._profile(pilot), 1.0)) for _ in range(PILOT_PROFILES))
        return calls / contacts / (raw / PILOT_PROFILES) if raw else 0.0

    @staticmethod
    def _deal_scale(deals: int, contacts: int) -> float:
        if not deals or not contacts:
            return 0.0
        stages = c.STAGES
        weights = [
            high - low for low, high in zip([0.0, *stages.cumulative], stages.cumulative, strict=False)
        ]
        per_contact = (
            sum(w * c.DEAL_RATES[s] for s, w in zip(stages.values, weights, strict=True)) / stages.total
        )
        return deals / contacts / per_contact

    # --- profile and call times -------------------------------------------------------------
    def _profile(self, rng: random.Random) -> Profile:
        now = self.cal.now
        stage = c.STAGES(rng)
        if stage == LifecycleStage.LEAD:
            u = rng.random()
            if u < c.NEW_LEAD_LAST_HOUR_SHARE:
                return Profile(stage, now - rng.randrange(60, 3_600), c.NONE)
            if u < c.NEW_LEAD_LAST_HOUR_SHARE + c.NEW_LEAD_LAST_DAY_SHARE:
                return Profile(stage, now - rng.randrange(3_600, DAY), c.NONE)
        min_days = MIN_AGE_DAYS.get(stage, 1)
        skew = 1.6 if stage in (LifecycleStage.LEAD, LifecycleStage.MQL) else 1.0
        created = now - int((min_days + (c.CREATED_SPREAD_DAYS - min_days) * rng.random() ** skew) * DAY)
        rhythm = c.RHYTHMS[stage](rng)
        if rhythm == c.ATTEMPTS and created < self.cal.window_start:
            rhythm = c.NURTURE  # its first attempts are older than the call history
        profile = Profile(stage, created, rhythm)
        if rhythm == c.STEADY:
            profile.rate = c.STEADY_RATES(rng)
            profile.phase = rng.random()
            # Only a rhythm of a call a week or more is one the detector can see broken.
            old_enough = created < now - PATTERN_WINDOW_SECONDS
            profile.breaker = profile.rate >= 1 and old_enough and rng.random() < c.PATTERN_BREAK_SHARE
        elif rhythm == c.NURTURE:
            profile.rate = 0.15 + 0.35 * rng.random()
        elif rhythm == c.ATTEMPTS:
            profile.attempts = rng.randint(2, 7)
        return profile

    def _call_times(self, rng: random.Random, profile: Profile, scale: float) -> list[int]:
        """When the contact was called, sorted, all within business hours and before now."""
        cal = self.cal
        now = cal.now
        start = max(profile.created, cal.window_start)
        times: list[int] = []
        if profile.rhythm in (c.STEADY, c.NURTURE):
            rate = profile.rate * scale
            # A breaker has had no call this business week nor in the last 7 days (the detector's
            # "current week"), so both readings of "broke the pattern" agree.
            end = min(cal.this_week_start, now - PATTERN_CURRENT_SECONDS) if profile.breaker else now
            steady = profile.rhythm == c.STEADY
            for week in cal.weeks[cal.week_index(start) :]:
                count = int(rate + rng.random())
                for number in range(count):
                    # Steady contacts are called on their usual days, give or take a couple of
                    # hours; nurtured ones whenever.
                    u = (
                        ((number + profile.phase) / count + rng.gauss(0, 0.03)) % 1
                        if steady
                        else rng.random()
                    )
                    moment = week.slot(u)
                    if start <= moment < end:
                        times.append(moment)
        elif profile.rhythm == c.ATTEMPTS:
            moment = profile.created
            for attempt in range(int(profile.attempts * scale + rng.random())):
                # The first attempt comes minutes after the form, the next ones about 1.5 days apart.
                moment += 60 + int(rng.expovariate(1 / (1_200 if attempt == 0 else 129_600)))
                snapped = cal.snap(moment, rng)
                if snapped is None or snapped >= now:
                    break
                times.append(snapped)
                moment = snapped
        times.sort()
        return times

    # --- one contact ----------------------------------------------------------------------
    def contact(self, index: int, chunk: Chunk) -> None:
        rng, cal = self.rng, self.cal
        now = cal.now
        profile = self._profile(rng)
        showcase = index < len(SHOWCASE) and self.showcase_owner_id is not None
        if showcase:
            profile = replace(SHOWCASE[index], created=now - SHOWCASE[index].created)
        contact_id = self._next("contact")
        merged_into = None
        if not showcase and self.merge_targets and rng.random() < c.MERGED_SHARE:
            # A duplicate HubSpot merged into an earlier record: same person, number typed otherwise.
            merged_into, first, last, email, national, city, stage, owner_id = rng.choice(self.merge_targets)
            profile = Profile(stage, max(profile.created, now - 170 * DAY), c.NURTURE, rate=0.1)
            phone = TypedPhone(national, normalise_phone(typed(rng, national)))
        else:
            first, last = self.names.person(rng)
            city = c.CITIES(rng)
            email = "" if rng.random() < c.NO_EMAIL_SHARE else email_for(rng, first, last, contact_id)
            national = landline_number(rng, city) if rng.random() < c.LANDLINE_SHARE else mobile_number(rng)
            phone = phone_for(rng, national)
            owner_id = self.showcase_owner_id if showcase else self._owner_for(rng, profile.stage)
        stage = profile.stage
        mobile = phone_for(rng, mobile_number(rng)) if rng.random() < c.MOBILE_SHARE else None
        opt_outs = {name: rng.random() < share for name, share in c.OPT_OUT_SHARES.items()}
        plain = merged_into is None and not showcase
        if plain and rng.random() < 0.5:
            self.merge_targets.append((contact_id, first, last, email, national, city, stage, owner_id))
        d = ContactDraft(contact_id, profile, first, last, city, owner_id, merged_into, opt_outs)

        self._owner_changes(rng, d, chunk)
        d.facts = self._calls(rng, d, chunk)
        d.pattern = self._pattern_status(d.facts.times)
        deal_change, open_deal_amount = self._deals(rng, d, chunk)
        next_task_due = self._tasks(rng, d, chunk)
        # The newest HealthScore row, copied as leads.services.health_score_record does.
        health = self._health(rng, d, chunk) if stage in c.CLIENT_STAGES and merged_into is None else {}

        source, utm_source, utm_medium = c.LEAD_SOURCES(rng)
        coach = ""
        wants_coach = profile.coach if profile.coach is not None else rng.random() < c.COACH_SHARE
        if stage in c.COACHED_STAGES and self.coach_names and wants_coach:
            coach = rng.choice(self.coach_names)
        utm_content = ""
        if utm_medium == "paid_social" and rng.random() < 0.6:
            utm_content = rng.choice(c.UTM_CONTENTS)
        hs_updated = profile.created + int((now - profile.created) * (1 - rng.random() ** 3))
        created_here = min(now, profile.created + rng.randrange(600))
        facts = d.facts
        chunk.add(
            "contact",
            id=contact_id,
            hubspot_id=str(HUBSPOT_ID_BASES["contact"] + contact_id),
            first_name=first,
            last_name=last,
            email=email,
            phone=phone.stored.value,
            phone_is_valid=phone.stored.is_valid,
            mobile=mobile.stored.value if mobile else "",
            mobile_is_valid=mobile.stored.is_valid if mobile else True,
            city=city,
            owner_id=owner_id,
            owner_changed_at=cal.to_datetime(d.owner_changes[-1]) if d.owner_changes else None,
            assigned_coach=coach,
            lifecycle_stage=stage,
            lead_status=self._lead_status(stage, facts),
            lead_source=source,
            utm_source=utm_source,
            utm_medium=utm_medium,
            utm_campaign=f"{rng.choice(c.UTM_CAMPAIGNS)}-{cal.today.year}" if utm_source else "",
            utm_term=rng.choice(c.UTM_TERMS) if utm_medium == "cpc" else "",
            utm_content=utm_content,
            tier=(profile.tier or c.TIERS(rng)) if stage in c.TIER_STAGES else "",
            hs_created_at=cal.to_datetime(profile.created),
            hs_updated_at=cal.to_datetime(hs_updated),
            merged_into_id=merged_into,
            is_archived=plain and rng.random() < c.ARCHIVED_SHARE,
            do_not_contact=rng.random() < c.DO_NOT_CONTACT_SHARE,
            **opt_outs,
            last_call_at=facts.last_call_at,
            last_call_status=facts.last_call_status,
            last_call_outcome=facts.last_call_outcome,
            last_call_note=facts.last_call_note,
            last_reached_at=facts.last_reached_at,
            call_count=facts.call_count,
            outgoing_call_count=facts.outgoing_call_count,
            answered_call_count=facts.answered_call_count,
            booking_count=facts.booking_count,
            last_activity_at=last_activity(
                facts, cal.to_datetime(deal_change) if deal_change is not None else None
            ),
            next_task_due_at=cal.to_datetime(next_task_due) if next_task_due is not None else None,
            open_deal_amount=open_deal_amount,
            health_score=health.get("score"),
            health_zone=health.get("zone", ""),
            predictive_risk=health.get("predictive_risk"),
            pattern_status=health.get("pattern_status", d.pattern),
            package_end_date=health.get("package_end_date"),
            sessions_left=health.get("sessions_left"),
            created_at=cal.to_datetime(created_here),
            updated_at=cal.to_datetime(max(created_here, hs_updated)),
        )

    def _owner_for(self, rng: random.Random, stage: str) -> int | None:
        if self.pick_setter is None or rng.random() < c.UNOWNED_SHARE:
            return None
        if stage in c.CLIENT_STAGES and self.coach_ids and rng.random() < 0.2:
            return rng.choice(self.coach_ids)
        return self.pick_setter(rng)

    def _owner_changes(self, rng: random.Random, d: ContactDraft, chunk: Chunk) -> None:
        """One to three earlier owners, the newest change sometimes in the last 7 days."""
        now, profile = self.cal.now, d.profile
        d.owner_chain = [d.owner_id]
        share = c.OWNER_CHANGE_SHARE.get(profile.stage, c.OWNER_CHANGE_DEFAULT_SHARE)
        start = profile.created + 3_600
        wanted = profile.recent_owner_change or rng.random() < share
        if d.owner_id is None or len(self.all_owner_ids) < 2 or not wanted or now - start < DAY:
            return
        count = 1 + (rng.random() < 0.3) + (rng.random() < 0.1)
        times = sorted(start + int(rng.random() * (now - start - 60)) for _ in range(count))
        if profile.recent_owner_change:
            times[-1] = max(times[-1], now - 2 * DAY)
        elif rng.random() < c.RECENT_OWNER_CHANGE_SHARE:
            times[-1] = max(times[-1], now - rng.randrange(3_600, 7 * DAY))
        for i in range(1, count):  # distinct moments: (contact, changed_at, to_owner) is unique
            times[i] = max(times[i], times[i - 1] + 1)
        chain = [d.owner_id]
        for _ in range(count):
            chain.append(rng.choice([o for o in self.all_owner_ids if o != chain[-1]]))
        chain.reverse()
        for i, moment in enumerate(times):
            source = c.OWNER_CHANGE_SOURCES(rng)
            manual = source == "manual"
            chunk.add(
                "owner_change",
                id=self._next("owner_change"),
                contact_id=d.id,
                from_owner_id=chain[i],
                to_owner_id=chain[i + 1],
                changed_at=self.cal.to_datetime(moment),
                source=source,
                changed_by_id=self.manager_user_id if manual else None,
                note=rng.choice(c.OWNER_CHANGE_NOTES) if manual else "",
            )
        d.owner_changes, d.owner_chain = times, chain

    def _calls(self, rng: random.Random, d: ContactDraft, chunk: Chunk) -> CallFacts:
        """The contact's call rows, and the facts contact_facts_rebuild derives from them."""
        cal = self.cal
        now, to_datetime = cal.now, cal.to_datetime
        allowed = [ch for ch in Channel.values if not d.opt_outs[c.OPT_OUT_FIELD[ch]]] or [Channel.PHONE]
        answered_outcomes = c.ANSWERED_OUTCOMES[d.profile.stage]
        rows = chunk.rows["call"]
        facts = CallFacts(times=self._call_times(rng, d.profile, self.call_scale))
        for moment in facts.times:
            call_id = self._next("call")
            channel = c.CHANNELS(rng)
            if channel not in allowed:
                channel = allowed[0]
            inbound = rng.random() < c.INBOUND_SHARE[channel]
            if channel != Channel.PHONE:
                status = c.MESSAGE_STATUSES(rng)
            else:
                status = c.INBOUND_STATUSES(rng) if inbound else c.PHONE_STATUSES(rng)
            answered = status == CallStatus.ANSWERED
            outcome = answered_outcomes(rng) if answered else c.UNANSWERED_OUTCOMES[status](rng)
            duration = 0
            if channel == Channel.PHONE and answered:
                talk = 30 + int(rng.expovariate(1 / 240)) + (300 if outcome == CallOutcome.BOOKED else 0)
                duration = min(3_600, talk)
            elif channel == Channel.PHONE and status == CallStatus.VOICEMAIL:
                duration = 15 + rng.randrange(30)
            notes = ""
            if rng.random() < (c.ANSWERED_NOTE_SHARE if answered else c.OTHER_NOTE_SHARE):
                notes = self._note(rng, outcome, d)
            source = c.CALL_SOURCES(rng)
            if source == "twilio" and channel != Channel.PHONE:
                source = "hubspot"
            if source == "hubspot":
                external_id = str(HUBSPOT_CALL_ID_BASE + call_id)
            else:
                external_id = f"CA{call_id:032x}" if source == "twilio" else ""
            if d.owner_id is None:
                caller = rng.choice(self.setter_ids) if self.setter_ids else None
            else:
                caller = d.owner_chain[bisect.bisect_right(d.owner_changes, moment)]
            started_at = to_datetime(moment)
            synced = min(now, moment + duration + 30 + rng.randrange(900))
            direction = Direction.INBOUND if inbound else Direction.OUTBOUND
            rows.append(
                (call_id, d.id, caller, direction, channel, status, outcome, started_at, duration, notes,
                 source, external_id, to_datetime(synced))
            )  # fmt: skip
            # Times are sorted and ids grow, so this call is the latest by (started_at, id).
            facts.call_count += 1
            facts.outgoing_call_count += not inbound
            facts.answered_call_count += answered
            facts.booking_count += outcome == CallOutcome.BOOKED
            facts.last_call_at, facts.last_call_time = started_at, moment
            facts.last_call_status, facts.last_call_outcome = status, outcome
            facts.last_call_note = note_excerpt(notes)
            if answered:
                facts.last_reached_at = started_at
        return facts

    def _pattern_status(self, times: list[int]) -> str:
        """What calls.services.pattern_breaks_detect concludes from these call times; "" when the
        contact has no rhythm yet (the detector leaves those alone)."""
        now = self.cal.now
        first = bisect.bisect_left(times, now - PATTERN_WINDOW_SECONDS)
        usual = bisect.bisect_left(times, now - PATTERN_CURRENT_SECONDS) - first
        current = len(times) - first - usual  # every call is before now
        if usual < PATTERN_MIN_CALLS or times[first] > now - PATTERN_MIN_HISTORY.total_seconds():
            return ""
        if current < PATTERN_BREAK_RATIO * usual / PATTERN_USUAL_WEEKS:
            return PatternStatus.PATTERN_BREAK
        return PatternStatus.ON_TRACK

    def _note(self, rng: random.Random, outcome: str, d: ContactDraft) -> str:
        values = {
            "first": d.first,
            "city": d.city,
            "package": rng.choice(c.PACKAGES),
            "day": rng.choice(c.NOTE_DAYS),
            "time": rng.choice(c.NOTE_TIMES),
        }
        if outcome in (CallOutcome.CONNECTED, CallOutcome.BOOKED) and rng.random() < c.TRANSCRIPT_SHARE:
            return "\n".join(line.format(**values) for line in c.TRANSCRIPT_LINES)
        return rng.choice(c.NOTES[outcome]).format(**values)

    @staticmethod
    def _lead_status(stage: str, facts: CallFacts) -> str:
        if stage in c.LEAD_STATUS_BY_STAGE:
            return c.LEAD_STATUS_BY_STAGE[stage]
        if facts.call_count == 0:
            return LeadStatus.NEW
        if facts.answered_call_count == 0:
            return LeadStatus.ATTEMPTED_TO_CONTACT
        if facts.last_call_outcome == CallOutcome.NOT_INTERESTED:
            return LeadStatus.BAD_TIMING
        return LeadStatus.IN_PROGRESS if stage == LifecycleStage.SQL else LeadStatus.CONNECTED
