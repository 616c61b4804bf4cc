"""Reads for the lead follow-up command center (SPEC S3).

Everything is computed by the database over the contacts' maintained columns (scoring.follow_up):
the page is one query for its rows, one for their deals, the owners' kept figures for the summary
cards and the setter panel (scoring.figures: the same numbers, so they always agree), one for the
setters' last calls, and a count only when a filter makes the summary unable to give it. No request scans call
records, except a row's own last 20 calls when it is expanded.
"""

from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from functools import cached_property
from urllib.parse import urlencode, urlsplit

from django.core.paginator import Paginator
from django.db.models import OuterRef, Prefetch, Q, QuerySet, Subquery
from django.http import QueryDict
from django.utils import timezone

from calls.models import CallRecord, call_outcome_label, call_status_label
from crm import roles, timeutils
from crm.fragments import fragment_key
from crm.spreadsheets import csv_writer
from leads.filters import DEFAULT_SORT, SORTS, UNASSIGNED, FollowUpFilter, sort_order
from leads.models import OPEN_TASK_STATUSES, Contact, Deal, Owner, OwnerChange, Task
from leads.selectors import User, contacts_visible_to, owner_for_user
from scoring.figures import Figures, follow_up_figures
from scoring.follow_up import (
    BADGE_YELLOW_FROM_DAYS,
    FOLLOW_UP_LEADS,
    GOING_COLD_AFTER_DAYS,
    PRIORITY_ATTRIBUTE,
    Flag,
    FollowUpRules,
    Priority,
    annotate_flags,
    annotate_priority,
    flags_of,
    follow_up_rules,
)

PAGE_SIZE = 50
# Within one priority, rows come longest without contact first: the default sort's second key.
PRIORITY_RUN_SORT = "-days"
CALL_HISTORY_LENGTH = 20
# How the table writes days and moments (strftime, not the template's date filter: 200 dates a
# page through Django's formatting cost more than the rest of a row).
DAY_FORMAT, MINUTE_FORMAT = "%d %b %Y", "%d %b %Y %H:%M"
# A setter with no call for this long gets the "no calls in 24h" alert.
NO_CALLS_ALERT_AFTER = timedelta(hours=24)

# What a row shows, so the table query reads only these columns.
ROW_COLUMNS = (
    "id",
    "hubspot_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "phone_is_valid",
    "mobile",
    "mobile_is_valid",
    "whatsapp_opt_out",
    "city",
    "owner_id",
    "lifecycle_stage",
    "lead_source",
    "hs_created_at",
    "created_at",
    "last_call_at",
    "last_call_status",
    "last_call_outcome",
    "last_call_note",
    "outgoing_call_count",
    "answered_call_count",
    "call_count",
    "last_activity_at",
    "next_task_due_at",
    "open_deal_amount",
    "assigned_coach",
    "health_score",
    "health_zone",
)


def follow_up_contacts(*, user: User) -> QuerySet[Contact]:
    """The rows of the table the user may see: leads through customers, neither merged into
    another contact nor archived (a setter: their own only)."""
    return contacts_visible_to(user).filter(FOLLOW_UP_LEADS)


def _current_deal(deals: list[Deal]) -> Deal | None:
    """The deal a row shows: the largest open deal, else the most recent one."""
    open_deals = [d for d in deals if not d.is_closed]
    if open_deals:
        return max(open_deals, key=lambda d: (d.amount or 0, d.hs_created_at or d.created_at))
    return max(deals, key=lambda d: d.hs_created_at or d.created_at, default=None)


@dataclass(frozen=True)
class FollowUpRow:
    contact: Contact
    priority: Priority
    flags: list[Flag]
    deal: Deal | None
    days_since_created: int | None
    days_since_contact: int | None
    days_in_deal_stage: int | None
    # What the table shows of its moments, in the business zone ("" when there is none).
    created_on: str = ""
    last_call_at: str = ""
    last_activity_on: str = ""
    deal_closes_on: str = ""

    @property
    def last_call_status(self) -> str:
        return call_status_label(self.contact.last_call_status)

    @property
    def last_call_outcome(self) -> str:
        return call_outcome_label(self.contact.last_call_outcome)

    @cached_property
    def render_key(self) -> str:
        """A digest of everything the rendered row shows: equal keys render equal HTML."""
        contact, deal, owner = self.contact, self.deal, self.contact.owner
        return fragment_key(
            [contact.__dict__.get(name) for name in ROW_COLUMNS],
            (owner.first_name, owner.last_name, owner.email) if owner else None,
            [deal.__dict__.get(name) for name in DEAL_COLUMNS] if deal else None,
            [getattr(self, f.name) for f in fields(self) if f.name not in ("contact", "deal")],
        )

    @property
    def never_called(self) -> bool:
        """Days since contact then count from the lead's creation: the table says "never"."""
        return self.contact.last_call_at is None

    @property
    def contact_badge(self) -> str:
        """green < 3 days, yellow 3-7, red > 7 (S3)."""
        days = self.days_since_contact
        if days is None or days > GOING_COLD_AFTER_DAYS:
            return "red"
        return "yellow" if days >= BADGE_YELLOW_FROM_DAYS else "green"


DEAL_COLUMNS = (
    "id",
    "contact_id",
    "name",
    "stage",
    "stage_label",
    "amount",
    "close_date",
    "is_closed",
    "is_won",
    "hs_created_at",
    "created_at",
    "stage_entered_at",
)


def _deals_prefetch() -> Prefetch:
    return Prefetch(
        "deals", queryset=Deal.objects.filter(is_archived=False).only(*DEAL_COLUMNS), to_attr="visible_deals"
    )


class _Clock:
    """The business zone and day of one request, worked out once: an export turns 200,000 rows'
    timestamps into days and local times, and asking Django for the current zone per value
    costs more than the arithmetic."""

    def __init__(self, now: datetime):
        self.zone = timezone.get_current_timezone()
        self.today = now.astimezone(self.zone).date()

    def days_since(self, moment: datetime | None) -> int | None:
        """As timeutils.days_since: whole business days, 0 = today."""
        return None if moment is None else (self.today - moment.astimezone(self.zone).date()).days

    def local(self, moment: datetime | None, pattern: str = "%Y-%m-%d %H:%M") -> str:
        return moment.astimezone(self.zone).strftime(pattern) if moment else ""


def _row(contact: Contact, clock: _Clock, priority: int) -> FollowUpRow:
    created = contact.hs_created_at or contact.created_at
    deal = _current_deal(contact.visible_deals)
    return FollowUpRow(
        contact=contact,
        priority=Priority(priority),
        flags=flags_of(contact),
        deal=deal,
        days_since_created=clock.days_since(created),
        days_since_contact=clock.days_since(contact.last_call_at or created),
        days_in_deal_stage=clock.days_since(deal.stage_entered_at) if deal else None,
        created_on=clock.local(created, DAY_FORMAT),
        last_call_at=clock.local(contact.last_call_at, MINUTE_FORMAT),
        last_activity_on=clock.local(contact.last_activity_at, DAY_FORMAT),
        deal_closes_on=deal.close_date.strftime(DAY_FORMAT) if deal and deal.close_date else "",
    )


def follow_up_rows(queryset: QuerySet[Contact], rules: FollowUpRules) -> QuerySet[Contact]:
    """The contacts with what else a row shows: flags, owner, deals. The owner is prefetched
    rather than joined: a join between the sort and the LIMIT stops PostgreSQL from keeping only
    the top rows while it sorts."""
    return (
        annotate_flags(queryset, rules)
        .only(*ROW_COLUMNS)
        .prefetch_related(
            Prefetch("owner", queryset=Owner.objects.only("id", "first_name", "last_name", "email"))
        )
        .prefetch_related(_deals_prefetch())
    )


def iter_follow_up_rows(
    queryset: QuerySet[Contact], rules: FollowUpRules, *, chunk_size: int = 2000
) -> Iterator[FollowUpRow]:
    """Every row of the filtered, sorted table, read in chunks (a server-side cursor on
    PostgreSQL, deals fetched per chunk) so memory stays flat however many rows there are."""
    clock = _Clock(rules.now)
    for contact in follow_up_rows(queryset, rules).iterator(chunk_size=chunk_size):
        yield _row(contact, clock, getattr(contact, PRIORITY_ATTRIBUTE))


@dataclass(frozen=True)
class SetterFigures:
    """One setter's line in the accountability panel (also the bricks of the summary cards)."""

    owner: Owner | None  # None: contacts nobody owns
    leads: int = 0
    high: int = 0
    medium: int = 0
    going_cold: int = 0
    missing_coach: int = 0
    overdue: int = 0
    called_today: int = 0
    last_call_at: datetime | None = None
    no_calls_alert: bool = False

    @property
    def low(self) -> int:
        return self.leads - self.high - self.medium

    @property
    def key(self) -> str:
        return str(self.owner.pk) if self.owner else UNASSIGNED


@dataclass(frozen=True)
class SummaryCards:
    high: int
    medium: int
    low: int
    total: int
    going_cold: int
    missing_coach: int


def figures_by_owner(*, user: User, rules: FollowUpRules, setter: str = "") -> Figures:
    """Per owner id (None: nobody's): leads, HIGH and MEDIUM counts, going cold, missing coach,
    overdue tasks and leads called today, for the owners whose leads the user sees (only the
    chosen one when `setter` names one). Kept per owner by scoring.figures, so this reads rows
    rather than counting every lead."""
    if roles.is_manager(user):
        owner_ids = [None] if setter == UNASSIGNED else [int(setter)] if setter else None
    else:
        own = owner_for_user(user)
        owner_ids = [own.pk] if own else []
    return follow_up_figures(rules=rules, owner_ids=owner_ids)


def setter_figures(
    *, user: User, rules: FollowUpRules, by_owner: Figures | None = None
) -> list[SetterFigures]:
    """The accountability panel: per setter the figures_by_owner counts, their last call and the
    24-hour alert (one query over owners, each last call read from the calls' (owner, started_at)
    index). Managers see every active setter and the unassigned leads; a setter their own line."""
    if by_owner is None:
        by_owner = figures_by_owner(user=user, rules=rules)
    if roles.is_manager(user):
        owners = Owner.objects.filter(Q(is_active=True) | Q(pk__in=[pk for pk in by_owner if pk]))
    else:
        own = owner_for_user(user)
        owners = Owner.objects.filter(pk=own.pk) if own else Owner.objects.none()
    last_call = (
        CallRecord.objects.filter(owner=OuterRef("pk")).order_by("-started_at").values("started_at")[:1]
    )
    owners = owners.annotate(last_call_at=Subquery(last_call)).only("id", "first_name", "last_name", "email")
    figures = [
        SetterFigures(
            owner=owner,
            last_call_at=owner.last_call_at,
            no_calls_alert=owner.last_call_at is None
            or owner.last_call_at < rules.now - NO_CALLS_ALERT_AFTER,
            **by_owner.get(owner.pk, {}),
        )
        for owner in owners
    ]
    if None in by_owner:
        figures.append(SetterFigures(owner=None, **by_owner[None]))
    return figures


class FollowUpPage:
    """The page for one request: filters, the current page of rows, the summary cards and the
    setter panel. Each part is computed when the template first uses it, so an htmx request for
    the table never builds the panel."""

    def __init__(
        self, *, user: User, params: QueryDict, now: datetime | None = None, previous_url: str | None = None
    ):
        self.user, self.params = user, params
        # The URL the browser showed before this htmx request (HX-Current-URL), if any.
        self.previous_params = QueryDict(urlsplit(previous_url).query) if previous_url else None
        self.rules = follow_up_rules(now=now)
        self.is_manager = roles.is_manager(user)
        contacts = annotate_priority(follow_up_contacts(user=user), self.rules)
        self.filter = FollowUpFilter(params, queryset=contacts, user=user, rules=self.rules)

    def is_valid(self) -> bool:
        return self.filter.is_valid()

    @property
    def errors(self):
        return self.filter.errors

    @cached_property
    def queryset(self) -> QuerySet[Contact]:
        """Filtered and sorted, each row carrying its priority."""
        return self.filter.qs

    # --- summary ------------------------------------------------------------------------
    @cached_property
    def by_owner(self) -> Figures:
        return figures_by_owner(user=self.user, rules=self.rules)

    @cached_property
    def setters(self) -> list[SetterFigures]:
        return setter_figures(user=self.user, rules=self.rules, by_owner=self.by_owner)

    @cached_property
    def selected_setter(self) -> str:
        return self.filter.form.cleaned_data.get("setter") or ""

    @cached_property
    def cards(self) -> SummaryCards:
        """The priority cards for the chosen setter (or everyone visible): sums of the panel's
        figures, so the cards and the panel never disagree."""
        chosen = self.selected_setter
        if chosen and "by_owner" not in self.__dict__:
            # One setter's cards need that setter's kept row alone.
            by_owner = figures_by_owner(user=self.user, rules=self.rules, setter=chosen)
        else:
            by_owner = self.by_owner
        lines = [
            SetterFigures(owner=None, **figures)
            for owner_id, figures in by_owner.items()
            if not chosen or chosen == (str(owner_id) if owner_id else UNASSIGNED)
        ]
        return SummaryCards(
            high=sum(s.high for s in lines),
            medium=sum(s.medium for s in lines),
            low=sum(s.low for s in lines),
            total=sum(s.leads for s in lines),
            going_cold=sum(s.going_cold for s in lines),
            missing_coach=sum(s.missing_coach for s in lines),
        )

    @property
    def cards_changed(self) -> bool:
        """Whether an htmx request for the table must also bring new cards: they follow the chosen
        setter only, so sorting, paging and the other filters leave them as they are."""
        if self.previous_params is None:
            return True
        return self.previous_params.get("setter", "") != self.params.get("setter", "")

    def _count(self) -> int:
        """Rows matching the filters: read from the cards (kept figures) when the filters are at
        most a setter plus one priority or one card flag; otherwise one COUNT over the filtered
        rows."""
        data = self.filter.form.cleaned_data
        flags = data.get("flag") or []
        priority = data.get("priority")
        beyond_cards = data.get("q") or data.get("stage") or len(flags) > 1 or (priority and flags)
        if beyond_cards or (flags and flags[0] not in (Flag.GOING_COLD, Flag.MISSING_COACH)):
            return self.queryset.count()
        cards = self.cards
        if flags:
            return cards.going_cold if flags[0] == Flag.GOING_COLD else cards.missing_coach
        if priority:
            by_priority = {Priority.HIGH: cards.high, Priority.MEDIUM: cards.medium, Priority.LOW: cards.low}
            return by_priority[int(priority)]
        return cards.total

    @cached_property
    def page(self):
        paginator = Paginator(self.queryset, PAGE_SIZE)
        paginator.count = self._count()  # a cached_property on Paginator: set, it is not recomputed
        return paginator.get_page(self.params.get("page"))

    @cached_property
    def rows(self) -> list[FollowUpRow]:
        """The page's rows in two steps: the ids of the page from the sorted, filtered set (a narrow
        query the database can sort keeping only the top rows), then the flags, owners and deals
        of those 50 contacts alone."""
        page = self.page
        if not page.paginator.count:
            return []
        priorities = self._page_priorities(page.start_index() - 1, page.end_index())
        rows = follow_up_rows(Contact.objects.filter(pk__in=list(priorities)), self.rules)
        by_id = {contact.pk: contact for contact in rows}
        clock = _Clock(self.rules.now)
        return [_row(by_id[pk], clock, priority) for pk, priority in priorities.items() if pk in by_id]

    def _page_priorities(self, start: int, end: int) -> dict[int, int]:
        """The ids of rows start..end of the sorted, filtered set, in order, each with its
        priority (which the sort computed anyway).

        Sorted by priority with the cards' counts at hand (no filter but a setter or a priority),
        the page is cut from each priority's own run, ordered by last call: the database walks
        the last-call index and stops at the page, instead of computing every row's priority and
        sorting them all to keep 50."""
        data = self.filter.form.cleaned_data
        segmented = self.sort == DEFAULT_SORT and not (data.get("q") or data.get("stage") or data.get("flag"))
        if not segmented:
            return dict(self.queryset.values_list("pk", PRIORITY_ATTRIBUTE)[start:end])
        chosen = int(data["priority"]) if data.get("priority") else None
        cards = self.cards
        runs = [(Priority.HIGH, cards.high), (Priority.MEDIUM, cards.medium), (Priority.LOW, cards.low)]
        priorities, offset = {}, 0
        for priority, size in runs:
            if chosen is not None and priority != chosen:
                continue
            low, high = max(start, offset), min(end, offset + size)
            if low < high:
                run = self.filter.qs.filter(self.rules.priority_is(priority)).order_by(
                    *sort_order(PRIORITY_RUN_SORT)
                )
                page_ids = run.values_list("pk", flat=True)[low - offset : high - offset]
                priorities.update(dict.fromkeys(page_ids, priority))
            offset += size
        return priorities

    # --- links --------------------------------------------------------------------------
    def url(self, **changes) -> str:
        """This page's URL with some parameters changed (None removes one); filters keep."""
        params = self.params.copy()
        for key, value in changes.items():
            params.pop(key, None)
            if value is None:
                continue
            if isinstance(value, list | tuple):
                params.setlist(key, [str(v) for v in value])
            else:
                params[key] = str(value)
        query = params.urlencode()
        return f"?{query}" if query else "?"

    @cached_property
    def sort(self) -> str:
        return self.filter.sort_key

    @cached_property
    def columns(self) -> dict[str, dict]:
        """Per sortable column: the link that sorts by it (reversing when already sorted by it)
        and its current direction ("asc", "desc" or "")."""
        columns = {}
        for key in SORTS:
            if self.sort == key:
                direction, target = "asc", f"-{key}"
            elif self.sort == f"-{key}":
                direction, target = "desc", key
            else:
                direction, target = "", key
            target = None if target == DEFAULT_SORT else target
            columns[key] = {"url": self.url(sort=target, page=None), "direction": direction}
        return columns

    def card_url(self, **filters) -> str:
        """A summary card's link: its filter on top of the chosen setter, everything else cleared."""
        params = {"setter": self.selected_setter} if self.selected_setter else {}
        params.update(filters)
        return "?" + urlencode(params, doseq=True)

    @cached_property
    def card_urls(self) -> dict[str, str]:
        return {
            "high": self.card_url(priority=int(Priority.HIGH)),
            "medium": self.card_url(priority=int(Priority.MEDIUM)),
            "low": self.card_url(priority=int(Priority.LOW)),
            "total": self.card_url(),
            "going_cold": self.card_url(flag=Flag.GOING_COLD.value),
            "missing_coach": self.card_url(flag=Flag.MISSING_COACH.value),
        }

    @cached_property
    def page_urls(self) -> dict[str, str | None]:
        page = self.page
        return {
            "first": self.url(page=None) if page.number > 1 else None,
            "previous": self.url(page=page.previous_page_number()) if page.has_previous() else None,
            "next": self.url(page=page.next_page_number()) if page.has_next() else None,
            "last": self.url(page=page.paginator.num_pages)
            if page.number < page.paginator.num_pages
            else None,
        }

    @cached_property
    def csv_url(self) -> str:
        return self.url(format="csv", page=None)

    @property
    def csv_filename(self) -> str:
        return f"follow-up-{timezone.localtime(self.rules.now):%Y%m%d-%H%M}.csv"

    @cached_property
    def reassign_targets(self) -> list[Owner]:
        return self.filter.active_owners if self.is_manager else []

    @cached_property
    def reassignment_jobs(self) -> list:
        """The manager's large reassignments still moving (and just finished), with progress."""
        from leads.reassignment import recent_jobs  # a workflow module above this selector

        return recent_jobs(user=self.user) if self.is_manager else []


def follow_up_page(
    *, user: User, params: QueryDict, now: datetime | None = None, previous_url: str | None = None
) -> FollowUpPage:
    return FollowUpPage(user=user, params=params, now=now, previous_url=previous_url)


def reassignable_contact_ids(
    *, user: User, params: QueryDict, contact_ids: list[int], all_filtered: bool
) -> list[int]:
    """The ids a manager's reassignment applies to: the ticked rows, or every row the filters
    (given as the table's query string) select; never a contact outside the table."""
    page = follow_up_page(user=user, params=params)
    if all_filtered and not page.is_valid():
        # django-filter drops a field that fails validation (a setter deactivated since), which
        # would widen "all filtered" to every lead the manager sees: move nothing instead.
        return []
    rows = page.filter.qs if all_filtered else follow_up_contacts(user=user).filter(pk__in=contact_ids)
    return list(rows.order_by().values_list("pk", flat=True))


@dataclass(frozen=True)
class RowDetail:
    contact: Contact
    calls: list[CallRecord]
    deals: list[Deal]
    tasks: list[Task]
    owner_changes: list[OwnerChange]
    now: datetime


def row_detail(*, user: User, contact_id: int) -> RowDetail | None:
    """An expanded row: the last 20 calls, open deals, open tasks and owner history of a contact
    the user may see (None otherwise). Four small indexed queries."""
    contact = (
        follow_up_contacts(user=user).only("id", "first_name", "last_name").filter(pk=contact_id).first()
    )
    if contact is None:
        return None
    calls = list(
        CallRecord.objects.filter(contact=contact)
        .select_related("owner")
        .only(
            "id",
            "started_at",
            "direction",
            "channel",
            "status",
            "outcome",
            "duration_seconds",
            "notes",
            "owner__first_name",
            "owner__last_name",
            "owner__email",
        )
        .order_by("-started_at", "-id")[:CALL_HISTORY_LENGTH]
    )
    deals = list(
        Deal.objects.filter(contact=contact, is_archived=False, is_closed=False).order_by(
            "-amount", "-hs_created_at"
        )
    )
    tasks = list(
        Task.objects.filter(contact=contact, is_archived=False, status__in=OPEN_TASK_STATUSES)
        .select_related("owner")
        .order_by("due_at")
    )
    owner_changes = list(
        OwnerChange.objects.filter(contact=contact)
        .select_related("from_owner", "to_owner", "changed_by")
        .order_by("-changed_at")
    )
    return RowDetail(contact, calls, deals, tasks, owner_changes, timeutils.now())


# The export's columns: the table's, flattened to text a spreadsheet reads (SPEC S3: "exactly
# the filtered rows", "these users came from a spreadsheet").
CSV_HEADER = [
    "Priority",
    "Flags",
    "Name",
    "HubSpot profile",
    "Phone",
    "Email",
    "City",
    "Setter",
    "Lifecycle stage",
    "Lead source",
    "Created",
    "Days since created",
    "Last call status",
    "Last call outcome",
    "Last call date",
    "Last call note",
    "Outgoing calls",
    "Answered calls",
    "Last activity",
    "Days since contact",
    "Deal",
    "Deal stage",
    "Deal amount (AED)",
    "Close date",
    "Days in stage",
    "Coach",
    "Health score",
]


def _blank(value) -> str:
    return "" if value is None else str(value)


def csv_values(row: FollowUpRow, clock: _Clock) -> list[str]:
    """One exported row, in CSV_HEADER order."""
    contact, deal = row.contact, row.deal
    return [
        row.priority.label,
        "; ".join(str(flag.label) for flag in row.flags),
        contact.full_name,
        contact.hubspot_url,
        contact.display_phone,
        contact.email,
        contact.city,
        str(contact.owner) if contact.owner else "",
        contact.get_lifecycle_stage_display(),
        contact.lead_source,
        clock.local(contact.hs_created_at or contact.created_at),
        _blank(row.days_since_created),
        row.last_call_status,
        row.last_call_outcome,
        clock.local(contact.last_call_at),
        contact.last_call_note,
        str(contact.outgoing_call_count),
        str(contact.answered_call_count),
        clock.local(contact.last_activity_at),
        _blank(row.days_since_contact),
        deal.name if deal else "",
        (deal.stage_label or deal.stage) if deal else "",
        _blank(deal.amount) if deal else "",
        deal.close_date.isoformat() if deal and deal.close_date else "",
        _blank(row.days_in_deal_stage),
        contact.assigned_coach,
        _blank(contact.health_score),
    ]


class _Line:
    """A file-like object csv.writer writes one line into, handed straight back."""

    def write(self, text: str) -> str:
        return text


def csv_lines(page: FollowUpPage, *, chunk_size: int = 2000) -> Iterator[str]:
    """The page's filtered, sorted rows as CSV text, line by line, starting with a UTF-8 byte
    order mark so Excel reads Arabic and accented names correctly. Notes and names that would
    start a formula are neutralised (crm.spreadsheets)."""
    writer = csv_writer(_Line())
    yield "\ufeff" + writer.writerow(CSV_HEADER)
    clock = _Clock(page.rules.now)
    for row in iter_follow_up_rows(page.queryset, page.rules, chunk_size=chunk_size):
        yield writer.writerow(csv_values(row, clock))
