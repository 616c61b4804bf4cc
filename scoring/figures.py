"""Per-owner follow-up figures (SPEC S3): the counts behind the summary cards and the setter
panel, kept in `FollowUpFigures` instead of counted on every request.

Counting the flags of every lead is one grouped pass over 200,000 contacts (about 80 ms), and the
page needs it for its cards, its panel and its paging. The counts change only two ways:

- a write to an owner's contacts (a call, a reassignment, a sync, a new lead...): the writer
  calls `follow_up_figures_forget` for the owners concerned (queue_scores_refresh does it for
  every contact it re-scores), which bumps their rows' version in the writer's transaction;
- time passing a boundary: "days since contact" and "called today" turn at business midnight,
  "overdue task" when a task comes due. A row records the first such moment as `valid_until`.

A read trusts a row inside its window; any other row is counted again, for its owner alone (the
owner index), and stored only if no write bumped its version meanwhile, so a count that raced a
write is never kept. The five-minute job recounts everyone, which also mends a write that forgot
to say so.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import cache

from django.db import connection
from django.db.models import Count, Min, Q

from crm import timeutils
from crm.statements import IdsIn, Statement
from leads.models import Contact, Owner
from scoring.follow_up import FOLLOW_UP_LEADS, FollowUpRules, Priority
from scoring.models import FollowUpFigures

UNOWNED_KEY = 0  # FollowUpFigures.owner_key of the contacts nobody owns
COUNTS = ("leads", "high", "medium", "going_cold", "missing_coach", "overdue", "called_today")

Figures = dict[int | None, dict[str, int]]  # per owner id (None: nobody's), COUNTS by name


def _key(owner_id: int | None) -> int:
    return owner_id or UNOWNED_KEY


def _owner_id(key: int) -> int | None:
    return key or None


def follow_up_figures(*, rules: FollowUpRules, owner_ids: Iterable[int | None] | None = None) -> Figures:
    """The counts of the given owners (None: every owner and the unowned contacts) as of
    `rules.now`, from the kept rows, counting again only the owners whose row does not hold.
    Owners with no leads are left out."""
    if owner_ids is None:
        keys = {UNOWNED_KEY, *Owner.objects.values_list("pk", flat=True)}
    else:
        keys = {_key(owner_id) for owner_id in owner_ids}
    rows = {row.owner_key: row for row in FollowUpFigures.objects.filter(owner_key__in=keys)}
    stale = sorted(key for key in keys if key not in rows or not rows[key].holds_at(rules.now))
    if stale:
        counted = _recount(stale, rules, versions={key: rows[key].version for key in stale if key in rows})
        rows.update(counted)
    return {
        _owner_id(key): {name: getattr(row, name) for name in COUNTS}
        for key, row in rows.items()
        if key in keys and row.leads
    }


def follow_up_figures_forget(owner_ids: Iterable[int | None]) -> None:
    """Mark the owners' figures as outdated: call it in the transaction that changes their
    contacts."""
    keys = sorted({_key(owner_id) for owner_id in owner_ids})
    if keys:
        _forget(" UNION ".join(["SELECT %s AS owner_key"] + ["SELECT %s"] * (len(keys) - 1)), keys)


def follow_up_figures_forget_for_contacts(contact_ids: list[int]) -> None:
    """follow_up_figures_forget for the current owners of these contacts."""
    if contact_ids:
        owners = _owners_of_ids(connection.vendor)
        owner_keys = (
            f"SELECT DISTINCT COALESCE(owner_id, {UNOWNED_KEY}) AS owner_key FROM ({owners.sql}) AS owners"
        )
        _forget(owner_keys, owners.bind(ids=contact_ids))


@cache
def _owners_of_ids(vendor: str) -> Statement:
    # Compiled once per process: every re-score of a sync page runs it.
    return Statement.compile(Contact.objects.filter(IdsIn("pk")).values_list("owner_id", flat=True))


def _forget(keys_sql: str, params) -> None:
    # One upsert: bump the version of each owner's row, or make a placeholder row (version 1) for
    # an owner who has none, so a read counting at this moment (before this write) cannot store
    # its count after it. Rows are taken in key order, so two writers never wait on each other crosswise.
    table = connection.ops.quote_name(FollowUpFigures._meta.db_table)
    zeros = ", ".join("0" for _ in COUNTS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (owner_key, {', '.join(COUNTS)}, version, computed_at, valid_until) "
            f"SELECT owner_key, {zeros}, 1, NULL, NULL FROM ({keys_sql}) AS chosen "
            "WHERE true ORDER BY owner_key "
            f"ON CONFLICT (owner_key) DO UPDATE SET version = {table}.version + 1, valid_until = NULL",
            params,
        )


def follow_up_figures_refresh(*, now: datetime | None = None) -> int:
    """Recount every owner (the five-minute job). Returns how many owners were counted."""
    rules = FollowUpRules(now=now or timeutils.now())
    keys = sorted({UNOWNED_KEY, *Owner.objects.values_list("pk", flat=True)})
    versions = dict(FollowUpFigures.objects.filter(owner_key__in=keys).values_list("owner_key", "version"))
    return len(_recount(keys, rules, versions=versions))


def _recount(
    keys: list[int], rules: FollowUpRules, *, versions: dict[int, int]
) -> dict[int, FollowUpFigures]:
    """Count the owners `keys` in one grouped pass and store the rows whose version is still the
    one read before counting (`versions`; no entry: there was no row)."""
    midnight = _next_midnight(rules.now)
    # An owner with no leads keeps zeros until a write or midnight.
    counted = {
        key: FollowUpFigures(owner_key=key, computed_at=rules.now, valid_until=midnight) for key in keys
    }
    for owner_id, figures in _count(keys, rules).items():
        row = counted[_key(owner_id)]
        next_due = figures.pop("next_due")
        for name, value in figures.items():
            setattr(row, name, value)
        if next_due is not None:
            row.valid_until = min(midnight, next_due)
    _store(counted.values(), versions)
    return counted


def _store(rows: Iterable[FollowUpFigures], versions: dict[int, int]) -> None:
    # One upsert for all: a row is overwritten only while its version is still the one read
    # before counting (no row read: version 0; a write's placeholder starts at 1, so it wins).
    table = connection.ops.quote_name(FollowUpFigures._meta.db_table)
    columns = ("owner_key", *COUNTS, "version", "computed_at", "valid_until")
    values, params = [], []
    for row in rows:
        values.append("(" + ", ".join(["%s"] * len(columns)) + ")")
        params += [row.owner_key, *(getattr(row, name) for name in COUNTS), versions.get(row.owner_key, 0)]
        params += [connection.ops.adapt_datetimefield_value(row.computed_at)]
        params += [connection.ops.adapt_datetimefield_value(row.valid_until)]
    updated = ", ".join(f"{name} = excluded.{name}" for name in (*COUNTS, "computed_at", "valid_until"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join(values)} "
            f"ON CONFLICT (owner_key) DO UPDATE SET {updated} WHERE {table}.version = excluded.version",
            params,
        )


def _count(keys: list[int], rules: FollowUpRules) -> dict[int | None, dict]:
    """The COUNTS per owner, and each owner's next task coming due (`next_due`), in one grouped
    pass over their leads."""
    today_starts = timeutils.start_of_day(timeutils.business_today(at=rules.now))
    today_ends = _next_midnight(rules.now)
    owners = Q(owner_id__in=[key for key in keys if key != UNOWNED_KEY])
    if UNOWNED_KEY in keys:
        owners |= Q(owner__isnull=True)
    # Counting a column of contact_follow_up_figures_idx (never NULL) rather than ids: every
    # column read here is in that index, so PostgreSQL can answer from the index alone.
    grouped = (
        Contact.objects.filter(FOLLOW_UP_LEADS, owners)
        .values("owner_id")
        .annotate(
            leads=Count("*"),
            high=Count("lifecycle_stage", filter=rules.priority_is(Priority.HIGH)),
            medium=Count("lifecycle_stage", filter=rules.priority_is(Priority.MEDIUM)),
            going_cold=Count("lifecycle_stage", filter=rules.going_cold),
            missing_coach=Count("lifecycle_stage", filter=rules.missing_coach),
            overdue=Count("lifecycle_stage", filter=rules.overdue_task),
            called_today=Count(
                "lifecycle_stage", filter=Q(last_call_at__gte=today_starts, last_call_at__lt=today_ends)
            ),
            next_due=Min("next_task_due_at", filter=Q(next_task_due_at__gte=rules.now)),
        )
        .order_by()
    )
    return {row.pop("owner_id"): row for row in grouped}


def _next_midnight(moment: datetime) -> datetime:
    """The start of the business day after `moment`'s (DST-safe)."""
    return timeutils.start_of_day(timeutils.business_today(at=moment) + timedelta(days=1))
