"""Reads for owners and contacts, scoped to what the user may see."""

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Q, QuerySet

from calls.models import CallOutcome, CallRecord, CallStatus
from crm import roles, timeutils
from leads.models import Contact, LifecycleStage, Owner

User = AbstractBaseUser | AnonymousUser


def owner_for_user(user: User) -> Owner | None:
    """The Owner linked to this login, if any (cached on the user for the request)."""
    if not user.is_authenticated:
        return None
    if not hasattr(user, "_crm_owner"):
        try:
            user._crm_owner = user.owner  # loaded with the user (crm.auth); else one query
        except Owner.DoesNotExist:
            user._crm_owner = None
    return user._crm_owner


def contacts_visible_to(user: User) -> QuerySet[Contact]:
    """Every contact for managers; a setter's own contacts only; nothing for anyone else."""
    if roles.is_manager(user):
        return Contact.objects.all()
    owner = owner_for_user(user)
    if owner is None:
        return Contact.objects.none()
    return Contact.objects.filter(owner=owner)


def calls_visible_to(user: User) -> QuerySet[CallRecord]:
    if roles.is_manager(user):
        return CallRecord.objects.all()
    owner = owner_for_user(user)
    if owner is None:
        return CallRecord.objects.none()
    return CallRecord.objects.filter(owner=owner)


@dataclass(frozen=True)
class HomeFigures:
    scope_label: str
    contacts_by_stage: list[tuple[str, int]]
    total_contacts: int
    calls_today: int
    reached_today: int
    bookings_today: int


def home_figures(*, user: User) -> HomeFigures:
    """Contacts by lifecycle stage and today's calls, for what the user may see.

    Two queries over the data (stage counts, today's call aggregate) whatever the row count, plus
    the user's groups and, for a setter, their Owner (both cached on the user).
    """
    contacts = contacts_visible_to(user).filter(is_archived=False, merged_into__isnull=True)
    counts = dict(contacts.values_list("lifecycle_stage").annotate(n=Count("id")).order_by())
    by_stage = [(label, counts.get(value, 0)) for value, label in LifecycleStage.choices if counts.get(value)]
    start, end = timeutils.today_range()
    today = (
        calls_visible_to(user)
        .filter(started_at__gte=start, started_at__lt=end)
        .aggregate(
            calls=Count("id"),
            reached=Count("id", filter=Q(status=CallStatus.ANSWERED)),
            bookings=Count("id", filter=Q(outcome=CallOutcome.BOOKED)),
        )
    )
    if roles.is_manager(user):
        scope = "All owners"
    else:
        owner = owner_for_user(user)  # already fetched and cached by the scoping above
        scope = str(owner) if owner else "No owner linked"
    return HomeFigures(
        scope_label=scope,
        contacts_by_stage=by_stage,
        total_contacts=sum(counts.values()),
        calls_today=today["calls"],
        reached_today=today["reached"],
        bookings_today=today["bookings"],
    )
