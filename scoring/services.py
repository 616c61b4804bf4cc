"""Writes for scoring: keeping each contact's call-queue score current.

The queue sorts by `Contact.queue_score`, so it must follow every change of what the factors
read. The services that change a contact's facts (a call logged, a snooze, a reassignment, a new
health score, a sync or facts rebuild, a new lead) refresh that contact's score in their own
transaction; a job every few minutes refreshes everyone, for the factors that change with time
alone (a lead turning 24 hours old, 7 days passing without contact, a snooze running out); and
changing a factor's weight in the admin refreshes everyone at once.
"""

from collections.abc import Iterable
from datetime import datetime

from django.db import connection, transaction

from crm import timeutils
from leads.models import Contact
from scoring.figures import follow_up_figures_forget_for_contacts
from scoring.priority import factors_active, queue_factors_expression, queue_score_expression

_IDS_CHUNK = 5000  # below SQLite's bound-parameter limit


def queue_scores_refresh(contact_ids: Iterable[int] | None = None, *, now: datetime | None = None) -> int:
    """Recompute the queue score and factors of the given contacts (of every contact when None)
    and write only the rows where either changed, so a refresh that finds nothing new writes
    nothing; the given contacts' owners' follow-up figures are marked outdated. Returns how many
    rows changed."""
    now = now or timeutils.now()
    factors = factors_active(now=now)
    scored = {"new_score": queue_score_expression(factors), "new_factors": queue_factors_expression(factors)}
    if contact_ids is None:
        with transaction.atomic():
            return _write_scores(Contact.objects.all(), scored)
    ids = list(contact_ids)
    changed = 0
    with transaction.atomic():
        for start in range(0, len(ids), _IDS_CHUNK):
            chunk = ids[start : start + _IDS_CHUNK]
            changed += _write_scores(Contact.objects.filter(pk__in=chunk), scored)
            follow_up_figures_forget_for_contacts(chunk)
    return changed


def _write_scores(contacts, expressions: dict) -> int:
    # One UPDATE ... FROM over the scored rows: the factors read the contact's snooze (a join),
    # and Django's QuerySet.update() accepts no joined references.
    scored = contacts.annotate(**expressions).values("pk", *expressions).order_by()
    sql, params = scored.query.sql_with_params()
    table = connection.ops.quote_name(Contact._meta.db_table)
    differs = "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET queue_score = scored.new_score, queue_factors = scored.new_factors "
            f"FROM ({sql}) AS scored WHERE {table}.id = scored.pk AND ({table}.queue_score "
            f"{differs} scored.new_score OR {table}.queue_factors <> scored.new_factors)",
            params,
        )
        return cursor.rowcount
