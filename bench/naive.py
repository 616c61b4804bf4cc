"""The naive way, as the benchmark's baseline (SPEC S12): every request derives each contact's
latest call and call counts from all call records, then ranks in Python.

Not product code: it exists so `make bench` can print how much the maintained per-contact facts
save. It uses the same factor weights as the real engine so both rank the same way.
"""

from datetime import timedelta

from django.db.models import Count, Max, Q

from calls.models import CallRecord, CallStatus
from crm import timeutils
from leads.models import FOLLOW_UP_STAGES, Contact, Owner, PatternStatus, Zone
from scoring.models import PriorityFactor

ZONES = (Zone.RED, Zone.ORANGE, Zone.YELLOW)


def naive_queue(*, owner: Owner | None, days_threshold: int = 3, limit: int = 50) -> list[tuple[float, int]]:
    now = timeutils.now()
    weights = {f.key: float(f.weight) for f in PriorityFactor.objects.filter(is_enabled=True)}
    contacts = Contact.objects.filter(
        is_archived=False,
        merged_into__isnull=True,
        do_not_contact=False,
        lifecycle_stage__in=FOLLOW_UP_STAGES,
    ).filter(Q(health_zone__in=ZONES) | Q(health_zone=""))
    if owner is not None:
        contacts = contacts.filter(owner=owner)
    # What S12 calls the naive way (and what the original system's SQL view did): every request
    # derives each contact's latest call and counts from all the call records, then keeps the
    # rows it needs.
    per_contact = {
        row["contact_id"]: row
        for row in CallRecord.objects.values("contact_id")
        .annotate(
            last=Max("started_at"),
            total=Count("id"),
            answered=Count("id", filter=Q(status=CallStatus.ANSWERED)),
        )
        .order_by()
    }
    ranked = []
    boundary = now - timedelta(days=days_threshold)
    for contact in contacts.only(
        "id", "health_zone", "predictive_risk", "pattern_status", "owner_changed_at", "hs_created_at"
    ).iterator(chunk_size=5000):
        facts = per_contact.get(contact.pk, {})
        last = facts.get("last")
        if last is not None and last > boundary:
            continue
        days = (now - last).days if last else None
        raw = weights.get("base", 0)
        raw += {
            Zone.RED: weights.get("zone_red", 0),
            Zone.ORANGE: weights.get("zone_orange", 0),
            Zone.YELLOW: weights.get("zone_yellow", 0),
        }.get(contact.health_zone, 0)
        if days is not None:
            raw += (
                weights.get("no_contact_14_days", 0)
                if days >= 14
                else weights.get("no_contact_7_days", 0) * (days >= 7)
            )
        else:
            raw += weights.get("never_called", 0)
        risk = contact.predictive_risk or 0
        raw += weights.get("risk_75", 0) if risk >= 75 else weights.get("risk_60", 0) * (risk >= 60)
        raw += weights.get("pattern_break", 0) * (contact.pattern_status == PatternStatus.PATTERN_BREAK)
        changed = contact.owner_changed_at
        raw += weights.get("owner_changed", 0) * bool(changed and changed >= now - timedelta(days=7))
        ranked.append((raw, contact.pk))
    ranked.sort(reverse=True)
    return ranked[:limit]
