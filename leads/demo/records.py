"""What hangs off a contact besides its calls: deals, tasks, health history and interventions.

A mixin of WorldGenerator (it shares the generator's Random, calendar and id counters); each
method writes its rows into the chunk and returns what the contact row needs to know.
"""

import bisect
import random
from datetime import timedelta
from decimal import Decimal

from calls.models import CallOutcome, InterventionOutcome, InterventionStatus, InterventionType
from leads.demo import catalog as c
from leads.demo.rows import Chunk
from leads.models import PatternStatus, TaskStatus, Zone
from leads.services import health_zone_for

DAY = 86_400
HUBSPOT_ID_BASES = {
    "owner": 80_000_000,
    "contact": 10_000_000,
    "deal": 20_000_000_000,
    "task": 30_000_000_000,
}
# Days since the last session, by zone of the newest score.
DAYS_SINCE_SESSION = {
    Zone.RED: (14, 45),
    Zone.ORANGE: (7, 21),
    Zone.YELLOW: (3, 12),
    Zone.GREEN: (0, 7),
    Zone.PURPLE: (0, 4),
}
INTERVENTION_NOTES = {
    InterventionOutcome.SUCCESS: "Client re-engaged, sessions booked.",
    InterventionOutcome.PARTIAL: "Replied, no booking yet.",
    InterventionOutcome.FAILED: "No response after three attempts.",
}
INTERVENTION_DRAFT = "Hi {first}, checking in on how your sessions are going - can we find a time this week?"


class RecordsMixin:
    def _deals(self, rng: random.Random, d, chunk: Chunk) -> tuple[int | None, Decimal | None]:
        """Deal rows. Returns the latest deal change (what the facts rebuild reads as
        Greatest(Coalesce(hs_updated_at, updated_at), updated_at): both are written equal) and
        the largest open deal amount."""
        if d.merged_into is not None:
            return None, None
        cal, profile = self.cal, d.profile
        now = cal.now
        count = int(c.DEAL_RATES[profile.stage] * self.deal_scale + rng.random())
        if profile.deal_amount is not None and self.deal_scale:
            count = max(count, 1)
        latest = open_amount = None
        stages = c.DEAL_STAGES.get(profile.stage, c.OTHER_DEAL_STAGES)
        for number in range(count):
            deal_id = self._next("deal")
            if profile.deal_amount is not None:
                stage = "contractsent"
            elif number == 0 and profile.stage in c.CLIENT_STAGES:
                stage = "closedwon"  # a customer bought something
            else:
                stage = stages(rng)
            created = profile.created + int(rng.random() * (now - profile.created))
            entered = created + int(rng.random() * (now - created))
            updated = entered + int(min(now - entered, rng.expovariate(1 / (3 * DAY))))
            if profile.deal_amount is not None:
                amount = Decimal(profile.deal_amount)
            elif rng.random() < c.DEAL_WITHOUT_AMOUNT_SHARE:
                amount = None
            else:
                span = c.DEAL_AMOUNT_MAX - c.DEAL_AMOUNT_MIN
                amount = Decimal(int((c.DEAL_AMOUNT_MIN + span * rng.random() ** 2) / 50) * 50)
            closed = stage in c.CLOSED_STAGES
            created_at, updated_at = cal.to_datetime(created), cal.to_datetime(updated)
            chunk.add(
                "deal",
                id=deal_id,
                hubspot_id=str(HUBSPOT_ID_BASES["deal"] + deal_id),
                contact_id=d.id,
                owner_id=d.owner_id,
                name=f"{d.first} {d.last} - {rng.choice(c.PACKAGES)}",
                pipeline=c.PIPELINE,
                pipeline_label=c.PIPELINE_LABEL,
                stage=stage,
                stage_label=c.DEAL_STAGE_LABELS[stage],
                amount=amount,
                close_date=cal.to_date(entered)
                if closed
                else cal.today + timedelta(days=rng.randint(-10, 60)),
                is_closed=closed,
                is_won=stage == "closedwon",
                hs_created_at=created_at,
                hs_updated_at=updated_at,
                stage_entered_at=cal.to_datetime(entered),
                is_archived=False,
                created_at=created_at,
                updated_at=updated_at,
            )
            latest = updated if latest is None else max(latest, updated)
            if not closed and amount is not None:
                open_amount = amount if open_amount is None else max(open_amount, amount)
        return latest, open_amount

    def _tasks(self, rng: random.Random, d, chunk: Chunk) -> int | None:
        """Callback and other tasks, some overdue. Returns when the earliest open one is due."""
        cal, profile, facts = self.cal, d.profile, d.facts
        now = cal.now
        wanted = []  # (task type, due moment)
        if facts.last_call_outcome == CallOutcome.CALLBACK_REQUESTED and rng.random() < c.CALLBACK_TASK_SHARE:
            due = cal.snap(facts.last_call_time + rng.randint(1, 3) * DAY, rng)
            wanted.append(("CALL", due if due is not None else facts.last_call_time + DAY))
        if profile.overdue_task:
            wanted.append(("CALL", now - 2 * DAY))
        if rng.random() < c.OTHER_TASK_SHARE:
            wanted.append(
                (c.TASK_TYPES(rng), profile.created + int(rng.random() * (now + 14 * DAY - profile.created)))
            )
        next_due = None
        for task_type, due in wanted:
            task_id = self._next("task")
            completed = None
            if due < now and not profile.overdue_task and rng.random() < 0.55:
                status = TaskStatus.COMPLETED
                completed = min(now, due + rng.randrange(-DAY, DAY))
            elif due < now:
                status = TaskStatus.NOT_STARTED  # overdue
            else:
                status = rng.choice(c.OPEN_TASK_STATUSES)
            created = min(now, max(profile.created, due - rng.randrange(DAY, 3 * DAY)))
            if completed is not None:
                completed = max(completed, created)
            changed = cal.to_datetime(completed if completed is not None else created)
            chunk.add(
                "task",
                id=task_id,
                hubspot_id=str(HUBSPOT_ID_BASES["task"] + task_id),
                contact_id=d.id,
                owner_id=d.owner_id,
                subject=rng.choice(c.TASK_SUBJECTS[task_type]).format(
                    first=d.first, package=rng.choice(c.PACKAGES)
                ),
                task_type=task_type,
                due_at=cal.to_datetime(due),
                status=status,
                completed_at=cal.to_datetime(completed) if completed is not None else None,
                hs_updated_at=changed,
                is_archived=False,
                created_at=cal.to_datetime(created),
                updated_at=changed,
            )
            if status != TaskStatus.COMPLETED:
                next_due = due if next_due is None else min(next_due, due)
        return next_due

    def _health(self, rng: random.Random, d, chunk: Chunk) -> dict:
        """A client's health history, one score per run of the nightly job every 5-12 days over
        the last 60 days, some dropping; then its interventions. Returns the newest row, whose
        pattern status is the call rhythm's (so the pattern-break job and this copy agree)."""
        cal, profile = self.cal, d.profile
        now = cal.now
        zone = profile.zone or c.HEALTH_ZONES(rng)
        newest = rng.randint(*c.ZONE_SCORES[zone])
        dropping = (
            profile.dropping if profile.dropping is not None else rng.random() < c.HEALTH_DROPPING_SHARE
        )
        step = rng.randint(4, 12)
        # The nightly job has run today once its last minute (02:29) is past.
        day = cal.today if cal.at(cal.today, c.HEALTH_JOB_HOUR, 30) <= now else cal.today - timedelta(days=1)
        oldest_day = max(
            cal.today - timedelta(days=c.HEALTH_HISTORY_DAYS),
            cal.to_date(profile.created) + timedelta(days=1),
        )
        package_value = Decimal(int((2_000 + 58_000 * rng.random() ** 1.5) / 100) * 100)
        package_end = cal.today + timedelta(days=rng.randint(-15, 150))
        sessions = rng.randint(0, 24)
        days_since = rng.randint(*DAYS_SINCE_SESSION[zone])
        older_status = PatternStatus.ON_TRACK if profile.rhythm == c.STEADY else PatternStatus.NO_PATTERN
        rows = []  # newest first
        for back in range(rng.randint(3, 8)):
            if day < oldest_day:
                break
            score = newest if back == 0 else newest + (step * back if dropping else 0) + rng.randint(-5, 5)
            score = min(100, max(0, score))
            moment = cal.at(day, c.HEALTH_JOB_HOUR, rng.randrange(30))
            rows.append(
                {
                    "id": self._next("health"),
                    "contact_id": d.id,
                    "score": score,
                    "zone": health_zone_for(score),
                    "predictive_risk": min(100, max(0, 100 - score + rng.randint(-12, 12))),
                    "package_value": package_value,
                    "sessions_left": sessions + back * rng.randint(0, 2),
                    "package_end_date": package_end,
                    "days_since_last_session": max(0, days_since - back * 3),
                    "pattern_status": (d.pattern or PatternStatus.NO_PATTERN) if back == 0 else older_status,
                    "computed_at": cal.to_datetime(moment),
                }
            )
            day -= timedelta(days=rng.randint(5, 12))
        if not rows:
            raise AssertionError("clients are at least 30 days old: their history has a row")
        rows.reverse()
        for row in rows:
            chunk.add("health", **row)
        if profile.zone is not None or rng.random() < c.INTERVENTION_SHARE:
            self._interventions(rng, d, rows, package_end, chunk)
        return rows[-1]

    def _interventions(
        self, rng: random.Random, d, health_rows: list[dict], package_end, chunk: Chunk
    ) -> None:
        cal = self.cal
        now = cal.now
        kinds = [InterventionType.WELLNESS_CHECK, InterventionType.RE_ENGAGEMENT]
        if d.owner_changes:
            kinds.append(InterventionType.NEW_OWNER_INTRODUCTION)
        if package_end <= cal.today + timedelta(days=30):
            kinds.append(InterventionType.RENEWAL)
        if d.profile.breaker:
            kinds.append(InterventionType.PATTERN_BREAK_FOLLOW_UP)
        moments = [int(row["computed_at"].timestamp()) for row in health_rows]
        # One of each kind at most, so "one open intervention per contact and type" always holds.
        for kind in rng.sample(kinds, rng.randint(1, min(3, len(kinds)))):
            created = moments[0] + int(rng.random() * (now - moments[0]))
            zone = health_rows[max(bisect.bisect_right(moments, created) - 1, 0)]["zone"]
            status = c.INTERVENTION_STATUSES(rng)
            outcome, completed, draft = "", None, ""
            if status == InterventionStatus.DONE:
                if rng.random() < c.INTERVENTION_SUCCESS[zone]:
                    outcome = InterventionOutcome.SUCCESS
                else:
                    outcome = rng.choice((InterventionOutcome.PARTIAL, InterventionOutcome.FAILED))
                completed = cal.to_datetime(created + int(rng.random() * (now - created)))
            elif status in (InterventionStatus.OPEN, InterventionStatus.IN_PROGRESS):
                draft = INTERVENTION_DRAFT.format(first=d.first)
            chunk.add(
                "intervention",
                id=self._next("intervention"),
                contact_id=d.id,
                intervention_type=kind,
                owner_id=d.owner_id,
                zone_at_creation=zone,
                created_by_id=self.manager_user_id if rng.random() < 0.3 else None,
                status=status,
                outcome=outcome,
                draft_message=draft,
                notes=INTERVENTION_NOTES.get(outcome, ""),
                created_at=cal.to_datetime(created),
                completed_at=completed,
            )
