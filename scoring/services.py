"""Writes for scoring: keeping each contact's call-queue score current.

The queue sorts by `Contact.queue_score`, so it must follow every change of what the factors
read. The services that change a contact's facts (a call logged, a snooze, a reassignment, a new
health score, a sync or facts rebuild, a new lead) refresh that contact's score in their own
transaction; a job every few minutes refreshes everyone, for the factors that change with time
alone (a lead turning 24 hours old, 7 days passing without contact, a snooze running out); and
changing a factor's weight in the admin refreshes everyone at once.
"""

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import lru_cache

from django.db import connection, transaction

from crm import timeutils
from crm.statements import IdsIn, Statement, with_values_bound
from leads.models import Contact
from scoring.figures import follow_up_figures_forget_for_contacts
from scoring.priority import Factor, factors_timeless, queue_factors_expression, queue_score_expression

_IDS_CHUNK = 5000  # ids per UPDATE, so one refresh of many contacts is never one huge statement


def queue_scores_refresh(contact_ids: Iterable[int] | None = None, *, now: datetime | None = None) -> int:
    """Recompute the queue score and factors of the given contacts (of every contact when None)
    and write only the rows where either changed, so a refresh that finds nothing new writes
    nothing; the given contacts' owners' follow-up figures are marked outdated. Returns how many
    rows changed."""
    now = now or timeutils.now()
    factors = factors_timeless()
    if contact_ids is None:
        with transaction.atomic():
            return _scores_update(connection.vendor, factors).execute(now=now)
    ids = list(contact_ids)
    update = _scores_update(connection.vendor, factors, by_ids=True)
    changed = 0
    with transaction.atomic():
        for start in range(0, len(ids), _IDS_CHUNK):
            chunk = ids[start : start + _IDS_CHUNK]
            changed += update.execute(now=now, ids=chunk)
            follow_up_figures_forget_for_contacts(chunk)
    return changed


def queue_scores_write(
    *, fields: Sequence[str], rows: list[tuple[int, list]], now: datetime | None = None
) -> int:
    """PostgreSQL only. Write new values of the Contact `fields` ((id, values) rows, one per
    contact) together with the queue scores those values give, in one UPDATE of only the rows
    where the values or the score changed; as queue_scores_refresh, the contacts' owners'
    follow-up figures are marked outdated. Returns how many rows changed.

    Writing the values, then refreshing the scores, rewrote each contact row twice, and a contact
    row is the costliest row there is to write: its thirty-odd indexes make every update of one a
    new index entry in each (about 0.1 ms a row). Once is half the database time of a sync page."""
    now = now or timeutils.now()
    update = _scores_update(connection.vendor, factors_timeless(), writing=tuple(fields))
    with transaction.atomic():
        changed = update.execute(now=now, rows=rows)
        follow_up_figures_forget_for_contacts([pk for pk, _ in rows])
    return changed


@lru_cache(maxsize=32)
def _scores_update(
    vendor: str, factors: tuple[Factor, ...], *, by_ids: bool = False, writing: tuple[str, ...] = ()
) -> Statement:
    """The UPDATE that writes the scores of every contact, of the contacts bound as `ids`
    (by_ids), or of the contacts bound as `rows` with the new values of the fields `writing`,
    which it writes too (with_values_bound).

    Compiled once per database vendor and set of factors: the factors are the key, with their
    keys, weights and conditions (thresholds, the zones where interventions work), so a weight
    changed in the admin compiles a new statement at the next refresh; the moments the
    conditions compare with are parameters bound at each run. Compiling the CASE expressions
    took 20 ms a run, where the database scores 100 contacts in about one."""
    expressions = {
        "new_score": queue_score_expression(factors),
        "new_factors": queue_factors_expression(factors),
    }
    contacts = Contact.objects.filter(IdsIn("pk")) if by_ids else Contact.objects.all()
    scored = contacts.annotate(**expressions).values("pk", *writing, *expressions).order_by()
    if writing:
        scored = with_values_bound(scored, writing)
    # One UPDATE ... FROM over the scored rows: the factors read the contact's snooze (a join),
    # and Django's QuerySet.update() accepts no joined references.
    qn = connection.ops.quote_name
    table = qn(Contact._meta.db_table)
    differs = "IS DISTINCT FROM" if vendor == "postgresql" else "IS NOT"
    columns = {qn(Contact._meta.get_field(name).column): qn(name) for name in writing}
    sets = "".join(f"{column} = scored.{alias}, " for column, alias in columns.items())
    changes = "".join(f" OR {table}.{column} {differs} scored.{alias}" for column, alias in columns.items())
    return Statement.compile(scored).around(
        lambda sql: (
            f"UPDATE {table} SET {sets}queue_score = scored.new_score, queue_factors = scored.new_factors "
            f"FROM ({sql}) AS scored WHERE {table}.id = scored.pk AND ({table}.queue_score "
            f"{differs} scored.new_score OR {table}.queue_factors <> scored.new_factors{changes})"
        )
    )
