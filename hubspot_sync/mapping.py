"""HubSpot payloads to our fields: pure functions, no database, no HTTP.

Every HubSpot property value arrives as a string or null ("1500.5", "360000", ""), datetimes as
ISO-8601 UTC strings (sometimes epoch milliseconds). The values returned here are exactly what
the models store, so comparing them with a stored row tells whether anything changed.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.utils.html import strip_tags

from calls.models import CallOutcome, CallStatus, Direction
from leads.models import LeadStatus, LifecycleStage, TaskStatus, TaskType

# --- properties asked for, per object type ------------------------------------------------
CONTACT_PROPERTIES = [
    "firstname",
    "lastname",
    "email",
    "phone",
    "mobilephone",
    "city",
    "hubspot_owner_id",
    "lifecyclestage",
    "hs_lead_status",
    "hs_analytics_source",
    "createdate",
    "lastmodifieddate",
    "hs_merged_object_ids",
]
DEAL_PROPERTIES = [
    "dealname",
    "amount",
    "dealstage",
    "pipeline",
    "closedate",
    "createdate",
    "hs_lastmodifieddate",
    "hubspot_owner_id",
    "hs_is_closed",
    "hs_is_closed_won",
    "hs_v2_date_entered_current_stage",
]
CALL_PROPERTIES = [
    "hs_timestamp",
    "hs_call_title",
    "hs_call_body",
    "hs_call_direction",
    "hs_call_status",
    "hs_call_duration",
    "hs_call_disposition",
    "hubspot_owner_id",
    "hs_lastmodifieddate",
]
TASK_PROPERTIES = [
    "hs_timestamp",
    "hs_task_subject",
    "hs_task_status",
    "hs_task_type",
    "hs_task_completion_date",
    "hubspot_owner_id",
    "hs_lastmodifieddate",
]
PROPERTIES = {
    "contacts": CONTACT_PROPERTIES,
    "deals": DEAL_PROPERTIES,
    "calls": CALL_PROPERTIES,
    "tasks": TASK_PROPERTIES,
}
# Contacts use lastmodifieddate; every other object hs_lastmodifieddate (searching contacts on
# hs_lastmodifieddate finds nothing).
MODIFIED_PROPERTY = {
    "contacts": "lastmodifieddate",
    "deals": "hs_lastmodifieddate",
    "calls": "hs_lastmodifieddate",
    "tasks": "hs_lastmodifieddate",
}
OWNER_PROPERTY = "hubspot_owner_id"

# HubSpot's default call outcomes (hs_call_disposition GUIDs); portals add their own, whose
# labels are read at run time from the property's options.
DEFAULT_DISPOSITIONS = {
    "f240bbac-87c9-4f6e-bf70-924b57d47db7": "Connected",
    "73a0d17f-1163-4015-bdd5-ec830791da20": "No answer",
    "b2cf5968-551e-4856-9783-52b3da59a7d0": "Left voicemail",
    "a4c4c377-d246-4b32-a13b-75a56a4cd0ff": "Left live message",
    "9d9162e7-6cf3-4944-bf63-4dff82258764": "Busy",
    "17b47fee-58de-441e-a44c-c6300d46f273": "Wrong number",
}


# --- value parsing ----------------------------------------------------------------------
def text(value: object, max_length: int | None = None) -> str:
    result = "" if value is None else str(value).strip()
    return result[:max_length] if max_length else result


def moment(value: object) -> datetime | None:
    """An aware UTC datetime from ISO-8601 or epoch milliseconds; None for empty or unreadable."""
    raw = text(value)
    if not raw:
        return None
    if raw.isdigit():
        return datetime.fromtimestamp(int(raw) / 1000, tz=UTC)
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def day(value: object) -> date | None:
    parsed = moment(value)
    return parsed.date() if parsed else None


def money(value: object) -> Decimal | None:
    raw = text(value)
    if not raw:
        return None
    try:
        amount = Decimal(raw).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return None
    return amount if amount >= 0 else None


def flag(value: object) -> bool:
    return text(value).lower() == "true"


def epoch_ms(value: datetime) -> str:
    """A datetime as HubSpot's search filters want it: epoch milliseconds, as a string."""
    return str(int(value.timestamp() * 1000))


# --- per object type ----------------------------------------------------------------------
def props(record: dict) -> dict:
    return record.get("properties") or {}


def owner_id_of(record: dict) -> str:
    return text(props(record).get(OWNER_PROPERTY))


def modified_at(object_type: str, record: dict) -> datetime | None:
    return moment(props(record).get(MODIFIED_PROPERTY[object_type])) or moment(record.get("updatedAt"))


_LIFECYCLE = {stage.value for stage in LifecycleStage}
_LEAD_STATUS = {status.value for status in LeadStatus}


def contact_fields(record: dict) -> dict:
    """The contact's own fields (not owner, phones or merge: those need the database)."""
    p = props(record)
    stage = text(p.get("lifecyclestage")).lower()
    return {
        "first_name": text(p.get("firstname"), 100),
        "last_name": text(p.get("lastname"), 100),
        "email": text(p.get("email"), 254),
        "city": text(p.get("city"), 100),
        # Custom stages (numeric ids) are "other" here: the pages work the default stages.
        "lifecycle_stage": stage
        if stage in _LIFECYCLE
        else (LifecycleStage.OTHER if stage else LifecycleStage.LEAD),
        "lead_status": text(p.get("hs_lead_status")) if text(p.get("hs_lead_status")) in _LEAD_STATUS else "",
        "lead_source": text(p.get("hs_analytics_source"), 100),
        "hs_created_at": moment(p.get("createdate")) or moment(record.get("createdAt")),
        "hs_updated_at": modified_at("contacts", record),
        "is_archived": bool(record.get("archived")),
    }


def merged_ids(record: dict) -> list[str]:
    """Ids of the records merged into this one (hs_merged_object_ids is "a;b;c")."""
    own = str(record.get("id"))
    return [
        i.strip()
        for i in text(props(record).get("hs_merged_object_ids")).split(";")
        if i.strip() and i.strip() != own
    ]


@dataclass(frozen=True)
class Stage:
    pipeline_label: str
    label: str
    is_closed: bool
    is_won: bool


def deal_fields(record: dict, stages: dict[tuple[str, str], Stage]) -> dict:
    p = props(record)
    pipeline, stage_id = text(p.get("pipeline"), 64), text(p.get("dealstage"), 64)
    stage = stages.get((pipeline, stage_id))
    is_closed = (
        flag(p.get("hs_is_closed"))
        if p.get("hs_is_closed") not in (None, "")
        else bool(stage and stage.is_closed)
    )
    is_won = (
        flag(p.get("hs_is_closed_won"))
        if p.get("hs_is_closed_won") not in (None, "")
        else bool(stage and stage.is_won)
    )
    return {
        "name": text(p.get("dealname"), 255) or f"Deal {record.get('id')}",
        "pipeline": pipeline,
        "pipeline_label": stage.pipeline_label[:150] if stage else "",
        "stage": stage_id,
        "stage_label": stage.label[:150] if stage else "",
        "amount": money(p.get("amount")),
        "close_date": day(p.get("closedate")),
        "is_closed": is_closed or is_won,
        "is_won": is_won,
        "hs_created_at": moment(p.get("createdate")) or moment(record.get("createdAt")),
        "hs_updated_at": modified_at("deals", record),
        "is_archived": bool(record.get("archived")),
    }


def deal_stage_entered_at(record: dict) -> datetime | None:
    return moment(props(record).get("hs_v2_date_entered_current_stage"))


def stages_from_pipelines(pipelines: list[dict]) -> dict[tuple[str, str], Stage]:
    """(pipeline id, stage id) -> labels and closed/won, from GET /pipelines/deals. Custom stages
    have numeric ids, so labels always come from here, never from the id."""
    stages = {}
    for pipeline in pipelines:
        for stage in pipeline.get("stages", []):
            metadata = stage.get("metadata") or {}
            closed = text(metadata.get("isClosed")).lower() == "true"
            try:
                won = closed and float(metadata.get("probability") or 0) >= 1.0
            except (TypeError, ValueError):
                won = False
            stages[(str(pipeline["id"]), str(stage["id"]))] = Stage(
                text(pipeline.get("label")), text(stage.get("label")), closed, won
            )
    return stages


# Our outcome for a disposition label; a label not known here is kept as "other".
_OUTCOME_BY_LABEL = {
    "connected": CallOutcome.CONNECTED,
    "left voicemail": CallOutcome.LEFT_MESSAGE,
    "left live message": CallOutcome.LEFT_MESSAGE,
    "wrong number": CallOutcome.WRONG_NUMBER,
    "meeting booked": CallOutcome.BOOKED,
    "booked": CallOutcome.BOOKED,
    "not interested": CallOutcome.NOT_INTERESTED,
    "callback requested": CallOutcome.CALLBACK_REQUESTED,
    "call back": CallOutcome.CALLBACK_REQUESTED,
    "no answer": "",
    "busy": "",
}
# What the call status is when the outcome label says it.
_STATUS_BY_LABEL = {
    "no answer": CallStatus.NO_ANSWER,
    "busy": CallStatus.BUSY,
    "left voicemail": CallStatus.VOICEMAIL,
}
_STATUS_BY_HS_STATUS = {
    "NO_ANSWER": CallStatus.NO_ANSWER,
    "BUSY": CallStatus.BUSY,
    "FAILED": CallStatus.FAILED,
    "CANCELED": CallStatus.FAILED,
}
# Outcomes only an answered call can have (CallRecord's check constraint).
_CONVERSATION_OUTCOMES = {CallOutcome.CONNECTED, CallOutcome.BOOKED, CallOutcome.NOT_INTERESTED}


def call_fields(record: dict, dispositions: dict[str, str]) -> dict:
    """Status, outcome and the rest of a HubSpot call; `dispositions` maps outcome GUIDs to labels."""
    p = props(record)
    guid = text(p.get("hs_call_disposition"))
    label = dispositions.get(guid, "").strip().lower() if guid else ""
    if guid and not label:
        outcome = CallOutcome.OTHER  # a GUID this portal does not (or no longer) define
    else:
        outcome = _OUTCOME_BY_LABEL.get(label, CallOutcome.OTHER if label else "")
    hs_status = text(p.get("hs_call_status")).upper()
    try:
        duration_ms = int(float(text(p.get("hs_call_duration")) or 0))
    except ValueError:
        duration_ms = 0
    if label in _STATUS_BY_LABEL:
        status = _STATUS_BY_LABEL[label]
    elif hs_status in _STATUS_BY_HS_STATUS:
        status = _STATUS_BY_HS_STATUS[hs_status]
    elif guid or duration_ms > 0:
        status = CallStatus.ANSWERED  # an outcome was logged, or people talked
    else:
        status = CallStatus.NO_ANSWER
    if status != CallStatus.ANSWERED and outcome in _CONVERSATION_OUTCOMES:
        status = CallStatus.ANSWERED
    direction = (
        Direction.INBOUND if text(p.get("hs_call_direction")).upper() == "INBOUND" else Direction.OUTBOUND
    )
    title, body = text(p.get("hs_call_title")), " ".join(strip_tags(text(p.get("hs_call_body"))).split())
    return {
        "status": status,
        "outcome": outcome,
        "direction": direction,
        "started_at": moment(p.get("hs_timestamp")) or moment(record.get("createdAt")),
        "duration_seconds": max(duration_ms // 1000, 0),
        "notes": "\n".join(part for part in (title, body) if part),
    }


def call_is_scheduled(record: dict) -> bool:
    """HubSpot has the call QUEUED: planned, not happened (no attempt to count yet)."""
    return text(props(record).get("hs_call_status")).upper() == "QUEUED"


_TASK_STATUS = {status.value for status in TaskStatus}
_TASK_TYPE = {kind.value for kind in TaskType}


def task_fields(record: dict) -> dict:
    p = props(record)
    status = text(p.get("hs_task_status")).upper()
    status = status if status in _TASK_STATUS else TaskStatus.NOT_STARTED
    kind = text(p.get("hs_task_type")).upper()
    completed = status == TaskStatus.COMPLETED
    return {
        "subject": text(p.get("hs_task_subject"), 255) or "(no subject)",
        "task_type": kind if kind in _TASK_TYPE else TaskType.TODO,
        "due_at": moment(p.get("hs_timestamp")),
        "status": status,
        # The model allows a completion time only on completed tasks.
        "completed_at": (moment(p.get("hs_task_completion_date")) or modified_at("tasks", record))
        if completed
        else None,
        "hs_updated_at": modified_at("tasks", record),
        "is_archived": bool(record.get("archived")),
    }


def owner_fields(record: dict) -> dict:
    teams = record.get("teams") or []
    primary = next((t for t in teams if t.get("primary")), teams[0] if teams else None)
    return {
        "first_name": text(record.get("firstName"), 100),
        "last_name": text(record.get("lastName"), 100),
        "email": text(record.get("email"), 254),
        # Deactivated users' owners only appear with archived=true.
        "is_active": not record.get("archived"),
        "team": text(primary.get("name"), 100) if primary else "",
    }


@dataclass(frozen=True)
class OwnerTransition:
    from_owner: str  # HubSpot owner id, "" when unassigned
    to_owner: str
    at: datetime
    source_type: str


def owner_transitions(record: dict) -> list[OwnerTransition]:
    """The owner changes in a record's hubspot_owner_id history, oldest first. The first value is
    the initial assignment, not a change; repeated values are not changes either."""
    history = (record.get("propertiesWithHistory") or {}).get(OWNER_PROPERTY) or []
    entries = sorted(
        ((moment(e.get("timestamp")), text(e.get("value")), text(e.get("sourceType"))) for e in history),
        key=lambda e: e[0] or datetime.min.replace(tzinfo=UTC),
    )
    transitions, previous = [], None
    for at, value, source_type in entries:
        if at is None:
            continue
        if previous is not None and value != previous:
            transitions.append(OwnerTransition(previous, value, at, source_type))
        previous = value
    return transitions


def has_owner_history(record: dict) -> bool:
    return OWNER_PROPERTY in (record.get("propertiesWithHistory") or {})


# --- webhook events ---------------------------------------------------------------------
_BIGINT_MAX = 2**63 - 1  # subscription_id and event_id are BigIntegerFields
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST_MS = int((datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC) - _EPOCH).total_seconds() * 1000)


@dataclass(frozen=True)
class WebhookEventKey:
    """HubSpot's dedup key of one webhook event (eventId alone repeats)."""

    subscription_id: int
    event_id: int
    object_id: str
    occurred_at: datetime


def _whole(value: object, name: str) -> int:
    # JSON gives int for 25, float for 1.5 and str for "25"; bool is an int in Python but not an id
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        number = int(value)
    else:
        raise ValueError(f"{name} is not a whole number")
    if not 0 <= number <= _BIGINT_MAX:
        raise ValueError(f"{name} is out of range")
    return number


def _occurred_at(value: object) -> datetime:
    if isinstance(value, str) and not value.isdigit():
        parsed = moment(value)  # ISO-8601
        if parsed is None:
            raise ValueError("occurredAt is not a date")
        return parsed
    if value is None or value == "":
        raise ValueError("occurredAt is missing")
    ms = _whole(value, "occurredAt")
    if ms > _LATEST_MS:  # datetime stops at year 9999; a bigger number is not a moment
        raise ValueError("occurredAt is out of range")
    return _EPOCH + timedelta(milliseconds=ms)


def webhook_event_key(event: object) -> WebhookEventKey:
    """The checked dedup key of one webhook event; ValueError says why the event cannot be stored.
    A missing subscriptionId or eventId counts as 0 (as before); objectId and occurredAt are
    required."""
    if not isinstance(event, dict):
        raise ValueError("event is not a JSON object")
    object_id = event.get("objectId")
    if object_id is None or object_id == "":
        raise ValueError("objectId is missing")
    object_id = str(_whole(object_id, "objectId"))  # at most 19 digits: fits object_id's 32
    return WebhookEventKey(
        subscription_id=_whole(event.get("subscriptionId") or 0, "subscriptionId"),
        event_id=_whole(event.get("eventId") or 0, "eventId"),
        object_id=object_id,
        occurred_at=_occurred_at(event.get("occurredAt")),
    )
