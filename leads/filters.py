"""The follow-up table's inputs (SPEC S3): its filters, all in the URL so a view can be bookmarked and
shared, and the reassignment form.

    /follow-up/?setter=12&priority=1&stage=lead&flag=going_cold&flag=overdue_task&q=050 123&sort=-created
"""

import django_filters
from django import forms
from django.db.models import F, Q, QuerySet
from django.http import QueryDict

from crm import roles
from leads.models import FOLLOW_UP_STAGES, LifecycleStage, Owner
from leads.phones import phone_search_condition
from leads.selectors import User, owner_for_user
from scoring.follow_up import PRIORITY_ATTRIBUTE, Flag, FollowUpRules, Priority

UNASSIGNED = "none"

# Sort keys -> the columns they order by, ascending; a leading "-" in the URL reverses them.
# `nulls_low` says a NULL counts as the smallest value (a lead never called has the oldest
# "last call", so the most days since contact); otherwise NULLs go last either way.
SORTS: dict[str, tuple[str, list[tuple[str, bool]]]] = {
    "priority": ("Priority", [(PRIORITY_ATTRIBUTE, False), ("last_call_at", True)]),
    "name": ("Name", [("last_name", False), ("first_name", False)]),
    "email": ("Email", [("email", False)]),
    "city": ("City", [("city", False)]),
    "setter": ("Setter", [("owner__first_name", False), ("owner__last_name", False)]),
    "stage": ("Stage", [("lifecycle_stage", False)]),
    "source": ("Lead source", [("lead_source", False)]),
    "created": ("Created", [("hs_created_at", False)]),
    "last_call": ("Last call", [("last_call_at", True)]),
    "outgoing": ("Outgoing calls", [("outgoing_call_count", False)]),
    "answered": ("Answered calls", [("answered_call_count", False)]),
    "last_activity": ("Last activity", [("last_activity_at", True)]),
    # More days since contact = an older last call; never called counts as the most.
    "days": ("Days since contact", [("last_call_at", True)]),
    "deal_amount": ("Deal amount", [("open_deal_amount", False)]),
    "coach": ("Coach", [("assigned_coach", False)]),
    "health": ("Health", [("health_score", False)]),
}
# "key" sorts by the value shown in the column, "-key" reverses it. Days since contact grow as the
# last call gets older, so that key orders its timestamp the other way round.
_FLIPPED = {"days"}
DEFAULT_SORT = "priority"
SORT_CHOICES = [(key, label) for key, (label, _) in SORTS.items()] + [
    (f"-{key}", f"{label} (descending)") for key, (label, _) in SORTS.items()
]


def sort_order(sort: str) -> list:
    """ORDER BY expressions for a sort key such as "created" or "-days", with the primary key last
    so paging is stable."""
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key in _FLIPPED:
        descending = not descending
    order = []
    for column, nulls_low in SORTS[key][1]:
        # NULLs sit at the low end when nulls_low, else at the end whichever the direction.
        if descending:
            order.append(F(column).desc(nulls_last=True))
        else:
            order.append(F(column).asc(nulls_first=True) if nulls_low else F(column).asc(nulls_last=True))
    order.append(F("pk").desc() if descending else F("pk").asc())
    return order


def search_condition(text: str) -> Q:
    """Name, email or phone. A whole phone number in any local format (050 123 4567,
    +971-50-1234567, 00971501234567) is normalised to E.164 and matched exactly; a fragment of
    digits matches inside stored numbers; words must each match a name or the email."""
    text = text.strip()
    if (by_phone := phone_search_condition(text)) is not None:
        return by_phone
    condition = Q()
    for term in text.split():
        condition &= Q(first_name__icontains=term) | Q(last_name__icontains=term) | Q(email__icontains=term)
    return condition


class FollowUpFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_search", label="Search", max_length=100)
    setter = django_filters.ChoiceFilter(method="filter_setter", label="Setter", empty_label="All setters")
    priority = django_filters.ChoiceFilter(
        method="filter_priority",
        choices=[(str(p.value), p.label) for p in Priority],
        label="Priority",
        empty_label="Any",
    )
    stage = django_filters.MultipleChoiceFilter(
        field_name="lifecycle_stage",
        choices=[(stage.value, stage.label) for stage in FOLLOW_UP_STAGES],
        label="Stage",
        widget=forms.CheckboxSelectMultiple,
    )
    flag = django_filters.MultipleChoiceFilter(
        method="filter_flags", choices=Flag.choices, label="Flags", widget=forms.CheckboxSelectMultiple
    )
    sort = django_filters.ChoiceFilter(method="filter_nothing", choices=SORT_CHOICES, label="Sort")

    def __init__(self, data=None, queryset=None, *, user: User, rules: FollowUpRules, **kwargs):
        super().__init__(data, queryset, **kwargs)
        self.user, self.rules = user, rules
        self.is_manager = roles.is_manager(user)
        self.active_owners: list[Owner] = []
        if self.is_manager:
            self.active_owners = list(
                Owner.objects.filter(is_active=True).only("id", "first_name", "last_name", "email")
            )
            self.filters["setter"].extra["choices"] = [(str(o.pk), str(o)) for o in self.active_owners] + [
                (UNASSIGNED, "Unassigned")
            ]
        else:
            # A setter sees only their own leads: the one choice is themselves.
            own = owner_for_user(user)
            self.filters["setter"].extra["choices"] = [(str(own.pk), str(own))] if own else []

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(search_condition(value)) if value.strip() else queryset

    def filter_setter(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == UNASSIGNED:
            return queryset.filter(owner__isnull=True)
        return queryset.filter(owner_id=int(value))

    def filter_priority(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(self.rules.priority_is(int(value)))

    def filter_flags(self, queryset: QuerySet, name: str, value: list[str]) -> QuerySet:
        # Several flags narrow the rows, like stacking filters in a spreadsheet.
        for flag in value:
            queryset = queryset.filter(self.rules.flag(flag))
        return queryset

    def filter_nothing(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset  # sorting is applied last, in filter_queryset

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        return super().filter_queryset(queryset).order_by(*sort_order(self.sort_key))

    @property
    def sort_key(self) -> str:
        data = self.form.cleaned_data if hasattr(self.form, "cleaned_data") else {}
        return data.get("sort") or DEFAULT_SORT

    @property
    def stage_labels(self) -> dict[str, str]:
        return dict(LifecycleStage.choices)


class ReassignForm(forms.Form):
    """A manager's bulk reassignment from the follow-up table: the ticked rows, or every row the
    table's filters select (sent as its query string)."""

    to_owner = forms.ModelChoiceField(
        queryset=Owner.objects.filter(is_active=True),
        label="Reassign to",
        empty_label="Choose a setter…",
        error_messages={"required": "Choose the setter to give the leads to."},
    )
    contact = forms.TypedMultipleChoiceField(coerce=int, required=False)
    all_filtered = forms.BooleanField(required=False)
    filters = forms.CharField(required=False, max_length=2000)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Any id may be sent; the selector keeps only contacts in the manager's table.
        self.fields["contact"].valid_value = lambda value: True

    def clean(self):
        data = super().clean()
        if not data.get("all_filtered") and not data.get("contact"):
            raise forms.ValidationError("Tick the leads to reassign, or choose all filtered leads.")
        return data

    @property
    def filter_params(self) -> QueryDict:
        return QueryDict(self.cleaned_data.get("filters") or "")
