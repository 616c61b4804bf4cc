"""The facts a draft message uses (SPEC S8), and the situation they describe.

Free text is cleaned and cut when a DraftFacts is built, so every DraftFacts is safe to render
into a template, to put into a prompt as data, and to hash as a cache key."""

import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from calls.models import CallOutcome, CallStatus, Channel
from crm import timeutils
from leads.models import OWNER_RECENTLY_CHANGED_DAYS, Contact, LifecycleStage, Zone

GOING_COLD_DAYS = 7  # SPEC S2: "7+ days since last contact"
PACKAGE_ENDING_DAYS = 14
PACKAGE_ENDING_SESSIONS = 2

# Free text is cut to these lengths before it reaches a template or a prompt.
NAME_LIMIT = 40
REASON_LIMIT = 200
FACTOR_LIMIT = 80
MAX_FACTORS = 8
NOTES_LIMIT = 280

CLIENT_STAGES = {LifecycleStage.CUSTOMER, LifecycleStage.EVANGELIST}


class Situation(StrEnum):
    """Why the setter is reaching out, as far as the facts tell: picks the template's words."""

    NEW_LEAD = "new_lead"
    CALLBACK_REQUESTED = "callback_requested"
    NEW_OWNER = "new_owner"
    VOICEMAIL_LEFT = "voicemail_left"
    RED_ZONE = "red_zone"
    PACKAGE_ENDING = "package_ending"
    GOING_COLD = "going_cold"
    CHECK_IN = "check_in"


# Control and formatting characters (bidi overrides, zero-width spaces) can hide text from the
# person reading a note; joiners stay because some names need them.
_KEEP_FORMAT_CHARS = {"\u200c", "\u200d"}
_HIDING_CATEGORIES = {"Cc", "Cf", "Co", "Cs"}


class _HidingChars(dict):
    """A str.translate table that drops the characters above: a code point is classified the first
    time it is seen, so cleaning is one C-level pass. Remembers a bounded number of them, so text
    made of rare characters cannot grow it without end."""

    LIMIT = 10_000

    def __missing__(self, code: int) -> int | None:
        ch = chr(code)
        hides = ch not in _KEEP_FORMAT_CHARS and unicodedata.category(ch) in _HIDING_CATEGORIES
        kept = None if hides else code
        if len(self) < self.LIMIT:
            self[code] = kept
        return kept


_HIDING_CHARS = _HidingChars()


def _clean(text: str, limit: int) -> str:
    text = str(text or "")
    if not text.isprintable():  # printable text has none of those characters
        text = text.translate(_HIDING_CHARS)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class DraftFacts:
    """Exactly the facts one draft uses. Free text is cleaned and cut on construction, so every
    DraftFacts is safe to render and to hash."""

    first_name: str
    owner_first_name: str
    channel: str  # a Channel value
    lifecycle_stage: str = ""  # a LifecycleStage value
    zone: str = ""  # a Zone value; "" when the contact has no health score
    days_since_last_contact: int | None = None  # None: never called
    last_call_status: str = ""  # a CallStatus value
    last_call_outcome: str = ""  # a CallOutcome value
    owner_changed_recently: bool = False
    reason: str = ""  # the queue's reason line
    factors: tuple[str, ...] = ()  # the queue's urgency factors
    notes_excerpt: str = ""  # last call's notes: untrusted text
    sessions_left: int | None = None
    package_end_date: date | None = None

    def __post_init__(self) -> None:
        channel = str(self.channel).upper()
        if channel not in Channel.values:
            raise ValueError(f"unknown channel {self.channel!r}")
        object.__setattr__(self, "channel", channel)
        for name, limit in [
            ("first_name", NAME_LIMIT),
            ("owner_first_name", NAME_LIMIT),
            ("reason", REASON_LIMIT),
            ("notes_excerpt", NOTES_LIMIT),
            ("lifecycle_stage", 32),
            ("zone", 8),
            ("last_call_status", 16),
            ("last_call_outcome", 32),
        ]:
            object.__setattr__(self, name, _clean(getattr(self, name), limit))
        factors = tuple(_clean(f, FACTOR_LIMIT) for f in self.factors)
        object.__setattr__(self, "factors", tuple(f for f in factors if f)[:MAX_FACTORS])

    @property
    def never_called(self) -> bool:
        return self.days_since_last_contact is None

    @property
    def is_client(self) -> bool:
        return self.lifecycle_stage in CLIENT_STAGES or bool(self.zone)


def _display_name(name: str) -> str:
    # HubSpot imports often arrive as "ALI" or "ali"; mixed case is left as typed.
    name = (name or "").strip()
    return name.title() if name and (name.islower() or name.isupper()) else name


def draft_facts_for(
    contact: Contact,
    *,
    reason: str,
    channel: str,
    factors: list[str] | tuple[str, ...] = (),
    sessions_left: int | None = None,
    package_end_date: date | None = None,
) -> DraftFacts:
    """The facts a draft for `contact` uses. Reads only the contact row and its owner (load it
    with select_related("owner"): no query here). Sessions and package end live in HealthScore,
    so the caller passes them when it has them."""
    owner = contact.owner
    owner_changed_recently = bool(
        contact.owner_changed_at
        and contact.owner_changed_at >= timeutils.now() - timedelta(days=OWNER_RECENTLY_CHANGED_DAYS)
    )
    return DraftFacts(
        first_name=_display_name(contact.first_name),
        owner_first_name=_display_name(owner.first_name) if owner else "",
        channel=channel,
        lifecycle_stage=contact.lifecycle_stage,
        zone=contact.health_zone,
        days_since_last_contact=timeutils.days_since(contact.last_call_at),
        last_call_status=contact.last_call_status,
        last_call_outcome=contact.last_call_outcome,
        owner_changed_recently=owner_changed_recently,
        reason=reason,
        factors=tuple(factors),
        notes_excerpt=contact.last_call_note,
        sessions_left=sessions_left,
        package_end_date=package_end_date,
    )


def situation_of(facts: DraftFacts) -> Situation:
    """The one situation a draft addresses, most specific first."""
    if facts.never_called and not facts.is_client:
        return Situation.NEW_LEAD
    if facts.last_call_outcome == CallOutcome.CALLBACK_REQUESTED:
        return Situation.CALLBACK_REQUESTED
    if facts.owner_changed_recently:
        return Situation.NEW_OWNER
    if facts.last_call_status == CallStatus.VOICEMAIL or facts.last_call_outcome == CallOutcome.LEFT_MESSAGE:
        return Situation.VOICEMAIL_LEFT
    if facts.zone == Zone.RED:
        return Situation.RED_ZONE
    if _package_ending(facts):
        return Situation.PACKAGE_ENDING
    if (facts.days_since_last_contact or 0) >= GOING_COLD_DAYS:
        return Situation.GOING_COLD
    return Situation.CHECK_IN


def _package_ending(facts: DraftFacts) -> bool:
    if facts.sessions_left is not None and facts.sessions_left <= PACKAGE_ENDING_SESSIONS:
        return True
    if facts.package_end_date is None:
        return False
    days_left = (facts.package_end_date - timeutils.business_today()).days
    return 0 <= days_left <= PACKAGE_ENDING_DAYS
