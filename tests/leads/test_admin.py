"""Admin for owners, contacts, owner history, deals, tasks and health scores."""

from datetime import timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages
from django.db import connection
from django.forms.models import model_to_dict
from django.urls import reverse
from django.utils import timezone

from calls.services import call_log
from leads.admin import ContactAdmin, EstimatedCountPaginator
from leads.models import Contact, LifecycleStage, OwnerChange, OwnerChangeSource
from leads.services import contacts_reassign
from scoring.figures import follow_up_figures
from scoring.follow_up import follow_up_rules
from tests.factories import ContactFactory, DealFactory, HealthScoreFactory, OwnerFactory, TaskFactory
from tests.support import require_postgres

LEADS_MODELS = ("owner", "contact", "ownerchange", "deal", "task", "healthscore")
CONTACTS_URL = reverse("admin:leads_contact_changelist")


def _url(model: str, view: str, *args) -> str:
    return reverse(f"admin:leads_{model}_{view}", args=args)


@pytest.fixture
def world(db, superuser):
    """30 contacts across three owners, each with calls, an owner change, a deal, a task and a
    health score: enough rows that a query per row would show in the budgets."""
    owners = OwnerFactory.create_batch(3)
    contacts = [ContactFactory(owner=owners[i % 3]) for i in range(30)]
    for contact in contacts:
        call_log(contact=contact, owner=contact.owner, status="answered", outcome="connected", note="Spoke")
        call_log(contact=contact, owner=contact.owner, status="no_answer")
        DealFactory(contact=contact)
        TaskFactory(contact=contact)
        HealthScoreFactory(contact=contact)
    contacts_reassign(contact_ids=[c.pk for c in contacts], to_owner=owners[0], changed_by=superuser)
    return {"owners": owners, "contacts": contacts}


def _object(model: str, world):
    contact = world["contacts"][1]  # moved by the reassignment, so it has owner history
    return {
        "owner": world["owners"][0],
        "contact": contact,
        "ownerchange": OwnerChange.objects.filter(contact=contact).first(),
        "deal": contact.deals.first(),
        "task": contact.tasks.first(),
        "healthscore": contact.health_scores.first(),
    }[model]


@pytest.mark.parametrize("model", LEADS_MODELS)
def test_changelist_loads_with_a_fixed_query_budget(
    admin_client_ops, world, model, django_assert_max_num_queries
):
    # 30 rows each; the budget holds whatever the row count (no query per row).
    with django_assert_max_num_queries(7):
        response = admin_client_ops.get(_url(model, "changelist"))

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) >= 3


@pytest.mark.parametrize("model", LEADS_MODELS)
def test_change_page_loads(admin_client_ops, world, model, django_assert_max_num_queries):
    obj = _object(model, world)

    with django_assert_max_num_queries(8):
        response = admin_client_ops.get(_url(model, "change", obj.pk))

    assert response.status_code == 200


@pytest.mark.parametrize("model", ["owner", "contact", "deal", "task"])
def test_add_page_loads(admin_client_ops, model):
    assert admin_client_ops.get(_url(model, "add")).status_code == 200


def test_contact_changelist_shows_facts_and_flags_invalid_phone(admin_client_ops):
    contact = ContactFactory(first_name="Ines", last_name="Haddad", phone="12345", phone_is_valid=False)
    call_log(contact=contact, owner=contact.owner, status="answered")

    response = admin_client_ops.get(CONTACTS_URL)

    assert "Ines Haddad" in response.text
    assert "⚠ invalid" in response.text
    assert response.context["cl"].result_list[0].call_count == 1


@pytest.mark.parametrize("term", ["050 123 4567", "+971501234567", "971501234567"])
def test_contact_search_finds_phone_typed_any_way(admin_client_ops, term):
    wanted = ContactFactory(phone="+971501234567")
    ContactFactory(phone="+971509999999")

    response = admin_client_ops.get(CONTACTS_URL, {"q": term})

    assert list(response.context["cl"].result_list) == [wanted]


def test_contact_search_finds_mobile_and_email_prefix(admin_client_ops):
    by_mobile = ContactFactory(mobile="+971551112222")
    by_email = ContactFactory(email="nadia.k@example.com")
    ContactFactory(email="someone@example.com")

    mobile_hits = admin_client_ops.get(CONTACTS_URL, {"q": "055 111 2222"}).context["cl"].result_list
    email_hits = admin_client_ops.get(CONTACTS_URL, {"q": "nadia.k"}).context["cl"].result_list

    assert list(mobile_hits) == [by_mobile]
    assert list(email_hits) == [by_email]


def test_contact_search_finds_hubspot_id_exactly(admin_client_ops):
    wanted = ContactFactory(hubspot_id="777001")
    ContactFactory(hubspot_id="7770010")

    response = admin_client_ops.get(CONTACTS_URL, {"q": "777001"})

    assert list(response.context["cl"].result_list) == [wanted]


def test_contact_search_by_phone_keeps_changelist_filters(admin_client_ops):
    customer = ContactFactory(phone="+971501234567", lifecycle_stage=LifecycleStage.CUSTOMER)

    unfiltered = admin_client_ops.get(CONTACTS_URL, {"q": "0501234567"})
    leads_only = admin_client_ops.get(CONTACTS_URL, {"q": "0501234567", "lifecycle_stage__exact": "lead"})

    assert list(unfiltered.context["cl"].result_list) == [customer]
    assert list(leads_only.context["cl"].result_list) == []


def test_contact_autocomplete_finds_by_phone(admin_client_ops):
    wanted = ContactFactory(phone="+971501234567")

    response = admin_client_ops.get(
        reverse("admin:autocomplete"),
        {"term": "050 123 4567", "app_label": "calls", "model_name": "callrecord", "field_name": "contact"},
    )

    assert [row["id"] for row in response.json()["results"]] == [str(wanted.pk)]


def test_contact_add_form_normalises_phones_and_keeps_invalid_ones_flagged(admin_client_ops):
    response = admin_client_ops.post(
        _url("contact", "add"),
        {"first_name": "Omar", "phone": "050 123 4567", "mobile": "12345", "lifecycle_stage": "lead"},
    )

    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    contact = Contact.objects.get(first_name="Omar")
    assert (contact.phone, contact.phone_is_valid) == ("+971501234567", True)
    assert (contact.mobile, contact.mobile_is_valid) == ("12345", False)


def _contact_post_data(contact: Contact, **changes) -> dict:
    """The change form as a browser would post it back, with `changes` applied."""
    editable = [
        f.name for f in Contact._meta.fields if f.editable and f.name not in ContactAdmin.readonly_fields
    ]
    data = {
        name: value
        for name, value in model_to_dict(contact, fields=editable).items()
        if value not in (None, False)
    }
    return {**data, **changes}


def test_contact_change_form_ignores_posted_facts(admin_client_ops):
    contact = ContactFactory()

    response = admin_client_ops.post(
        _url("contact", "change", contact.pk), _contact_post_data(contact, city="Abu Dhabi", call_count=99)
    )

    assert response.status_code == 302
    contact.refresh_from_db()
    assert (contact.city, contact.call_count) == ("Abu Dhabi", 0)


def test_contact_change_form_owner_move_is_recorded_in_owner_history(admin_client_ops, superuser):
    contact = ContactFactory()
    old_owner, new_owner = contact.owner, OwnerFactory()

    response = admin_client_ops.post(
        _url("contact", "change", contact.pk), _contact_post_data(contact, owner=new_owner.pk)
    )

    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.owner == new_owner
    assert contact.owner_changed_at is not None
    change = OwnerChange.objects.get(contact=contact)
    assert (change.from_owner, change.to_owner, change.changed_by) == (old_owner, new_owner, superuser)
    assert change.source == OwnerChangeSource.MANUAL


def test_contact_change_form_without_owner_move_records_no_history(admin_client_ops):
    contact = ContactFactory()

    admin_client_ops.post(_url("contact", "change", contact.pk), _contact_post_data(contact, city="Sharjah"))

    assert not OwnerChange.objects.exists()


def test_contact_reassign_action_shows_confirmation_page_first(admin_client_ops):
    contacts = ContactFactory.create_batch(2)

    response = admin_client_ops.post(
        CONTACTS_URL, {"action": "reassign_owner", ACTION_CHECKBOX_NAME: [c.pk for c in contacts]}
    )

    assert response.status_code == 200
    assert response.templates[0].name == "admin/leads/contact/reassign.html"
    assert response.context["count"] == 2
    assert not OwnerChange.objects.exists()


def test_contact_reassign_action_moves_contacts_and_records_one_change_each(admin_client_ops, superuser):
    # given two contacts to move and one the target already owns
    target = OwnerFactory(first_name="Tara", last_name="Target")
    movers = ContactFactory.create_batch(2)
    already_theirs = ContactFactory(owner=target)
    selected = [c.pk for c in [*movers, already_theirs]]
    page = admin_client_ops.post(CONTACTS_URL, {"action": "reassign_owner", ACTION_CHECKBOX_NAME: selected})

    # when the confirmation page is submitted as rendered
    response = admin_client_ops.post(
        CONTACTS_URL,
        {
            "action": "reassign_owner",
            ACTION_CHECKBOX_NAME: page.context["selected"],
            "select_across": page.context["select_across"],
            "to_owner": target.pk,
            "note": "Holiday cover",
            "apply": "Reassign",
        },
    )

    # then
    assert response.status_code == 302
    assert set(Contact.objects.filter(pk__in=selected).values_list("owner", flat=True)) == {target.pk}
    changes = OwnerChange.objects.filter(to_owner=target)
    assert sorted(changes.values_list("contact", flat=True)) == sorted(c.pk for c in movers)
    assert {(c.source, c.changed_by, c.note) for c in changes} == {
        (OwnerChangeSource.MANUAL, superuser, "Holiday cover")
    }
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Reassigned 2 contacts to Tara Target. 1 already belonged to them."
    ]


def test_contact_reassign_action_with_select_across_moves_every_filtered_contact(admin_client_ops):
    source, target, bystander = OwnerFactory(), OwnerFactory(), OwnerFactory()
    ContactFactory.create_batch(3, owner=source)
    untouched = ContactFactory(owner=bystander)
    visible = Contact.objects.filter(owner=source).first()

    admin_client_ops.post(
        f"{CONTACTS_URL}?owner__id__exact={source.pk}",
        {
            "action": "reassign_owner",
            ACTION_CHECKBOX_NAME: [visible.pk],
            "select_across": "1",
            "to_owner": target.pk,
            "apply": "Reassign",
        },
    )

    assert Contact.objects.filter(owner=target).count() == 3
    assert OwnerChange.objects.filter(to_owner=target).count() == 3
    untouched.refresh_from_db()
    assert untouched.owner == bystander


def test_contact_reassign_action_without_owner_shows_the_form_again(admin_client_ops):
    contact = ContactFactory()

    response = admin_client_ops.post(
        CONTACTS_URL, {"action": "reassign_owner", ACTION_CHECKBOX_NAME: [contact.pk], "apply": "Reassign"}
    )

    assert response.status_code == 200
    assert "to_owner" in response.context["form"].errors
    assert not OwnerChange.objects.exists()


def test_contact_reassign_form_offers_only_active_owners(admin_client_ops):
    contact = ContactFactory()
    inactive = OwnerFactory(is_active=False)

    response = admin_client_ops.post(
        CONTACTS_URL, {"action": "reassign_owner", ACTION_CHECKBOX_NAME: [contact.pk]}
    )

    assert inactive not in response.context["form"].fields["to_owner"].queryset


def test_contact_bulk_delete_is_not_offered(admin_client_ops):
    ContactFactory()

    response = admin_client_ops.get(CONTACTS_URL)

    assert "delete_selected" not in dict(response.context["action_form"].fields["action"].choices)


def test_ownerchange_cannot_be_added(admin_client_ops):
    assert admin_client_ops.get(_url("ownerchange", "add")).status_code == 403


def test_ownerchange_cannot_be_edited_or_deleted(admin_client_ops, superuser):
    contact = ContactFactory()
    contacts_reassign(
        contact_ids=[contact.pk], to_owner=OwnerFactory(), changed_by=superuser, note="original"
    )
    change = OwnerChange.objects.get()

    edit = admin_client_ops.post(_url("ownerchange", "change", change.pk), {"note": "rewritten"})
    delete = admin_client_ops.post(_url("ownerchange", "delete", change.pk), {"post": "yes"})

    assert (edit.status_code, delete.status_code) == (403, 403)
    change.refresh_from_db()
    assert change.note == "original"


def test_ownerchange_search_finds_by_contact_email(admin_client_ops, superuser):
    wanted, other = ContactFactory(email="amal@example.com"), ContactFactory()
    contacts_reassign(contact_ids=[wanted.pk, other.pk], to_owner=OwnerFactory(), changed_by=superuser)

    response = admin_client_ops.get(_url("ownerchange", "changelist"), {"q": "amal@"})

    assert [c.contact for c in response.context["cl"].result_list] == [wanted]


def test_healthscore_cannot_be_added_or_edited(admin_client_ops):
    health = HealthScoreFactory()

    assert admin_client_ops.get(_url("healthscore", "add")).status_code == 403
    assert admin_client_ops.post(_url("healthscore", "change", health.pk), {"score": 99}).status_code == 403


def test_owner_changelist_counts_contacts(admin_client_ops):
    owner = OwnerFactory()
    ContactFactory.create_batch(3, owner=owner)

    response = admin_client_ops.get(_url("owner", "changelist"))

    assert {o.pk: o.contact_total for o in response.context["cl"].result_list}[owner.pk] == 3


def test_deal_and_task_search_by_contact(admin_client_ops):
    contact = ContactFactory(email="rania@example.com")
    deal, task = DealFactory(contact=contact), TaskFactory(contact=contact)
    DealFactory(), TaskFactory()

    deals = admin_client_ops.get(_url("deal", "changelist"), {"q": "rania"}).context["cl"].result_list
    tasks = admin_client_ops.get(_url("task", "changelist"), {"q": "rania"}).context["cl"].result_list

    assert (list(deals), list(tasks)) == ([deal], [task])


def test_task_form_rejects_completed_at_on_an_open_task(admin_client_ops):
    task = TaskFactory()
    data = {
        "contact": task.contact_id,
        "subject": task.subject,
        "task_type": task.task_type,
        "status": "NOT_STARTED",
        "completed_at_0": "2025-01-01",
        "completed_at_1": "10:00",
    }

    response = admin_client_ops.post(_url("task", "change", task.pk), data)

    # The model's check constraint comes back as a form error, not a database error.
    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["__all__"]


def test_estimated_count_paginator_counts_exactly_when_filtered(db):
    ContactFactory.create_batch(3, lifecycle_stage=LifecycleStage.CUSTOMER)
    ContactFactory()
    paginator = EstimatedCountPaginator(
        Contact.objects.filter(lifecycle_stage="customer").order_by("pk"), 100
    )
    paginator.estimate_above = 0

    assert paginator.count == 3


@pytest.mark.postgres
def test_estimated_count_paginator_takes_the_planner_estimate_for_the_whole_table(
    db, django_assert_num_queries
):
    require_postgres()
    ContactFactory.create_batch(3)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE leads_contact")
    # Rows added after ANALYZE are not in the estimate: proof the table was not counted.
    ContactFactory.create_batch(2)
    paginator = EstimatedCountPaginator(Contact.objects.order_by("pk"), 100)
    paginator.estimate_above = 0

    with django_assert_num_queries(1):
        assert paginator.count == 3


def test_contact_days_since_activity_column_counts_business_days(admin_client_ops):
    contact = ContactFactory()
    Contact.objects.filter(pk=contact.pk).update(last_activity_at=timezone.now() - timedelta(days=4))

    response = admin_client_ops.get(CONTACTS_URL)

    row = response.context["cl"].result_list[0]
    assert response.context["cl"].model_admin.days_since_activity(row) == 4


def test_deleting_a_contact_or_an_owner_updates_the_follow_up_figures(admin_client_ops):
    owner, other = OwnerFactory(), OwnerFactory()
    gone, kept = ContactFactory(owner=owner), ContactFactory(owner=other)
    rules = follow_up_rules()
    assert follow_up_figures(rules=rules)[owner.pk]["leads"] == 1

    response = admin_client_ops.post(_url("contact", "delete", gone.pk), {"post": "yes"})
    assert response.status_code == 302
    assert owner.pk not in follow_up_figures(rules=rules)  # no leads left

    response = admin_client_ops.post(_url("owner", "delete", other.pk), {"post": "yes"})
    assert response.status_code == 302
    kept.refresh_from_db()
    assert kept.owner is None
    assert follow_up_figures(rules=rules)[None]["leads"] == 1  # nobody's now


@pytest.mark.parametrize("term", ["@example.com", "example.com", "EXAMPLE.COM", "@Example.com"])
def test_contact_search_finds_by_email_domain(admin_client_ops, term):
    wanted = [ContactFactory(email="nadia@example.com"), ContactFactory(email="Omar.K@Example.com")]
    ContactFactory(email="someone@example.org")
    ContactFactory(email="someone@notexample.com")

    response = admin_client_ops.get(CONTACTS_URL, {"q": term})

    assert set(response.context["cl"].result_list) == set(wanted)


@pytest.mark.parametrize("term", ["050 123 4567", "+971 50 123 4567", "0501234567", "(050) 123-4567"])
def test_contact_search_finds_phone_or_mobile_typed_any_way(admin_client_ops, term):
    by_phone = ContactFactory(phone="+971501234567")
    by_mobile = ContactFactory(phone="", mobile="+971501234567")
    ContactFactory(phone="+971509999999")

    response = admin_client_ops.get(CONTACTS_URL, {"q": term})

    assert set(response.context["cl"].result_list) == {by_phone, by_mobile}


def test_contact_search_finds_part_of_a_phone_number_as_the_follow_up_search_does(admin_client_ops):
    wanted = ContactFactory(phone="+971501234567")
    ContactFactory(phone="+971559876543")

    response = admin_client_ops.get(CONTACTS_URL, {"q": "050 1234"})

    assert list(response.context["cl"].result_list) == [wanted]


@pytest.mark.postgres
def test_contact_search_by_name_domain_and_phone_reads_indexes(db):
    # given a planner told to avoid scans: it still scans where no index can serve the search
    require_postgres()
    from django.contrib.admin.sites import site

    ContactFactory.create_batch(30)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    contact_admin = site.get_model_admin(Contact)

    for term, index in [
        ("@rare-domain.test", "contact_email_domain_idx"),
        ("rare-domain.test", "contact_email_domain_idx"),
        ("050 123 4567", "contact_phone_idx"),
        ("Nadia", "contact_first_name_trgm_idx"),
    ]:
        # when the admin searches
        results, _ = contact_admin.get_search_results(None, Contact.objects.all(), term)
        # then the plan reads the index, not the whole table
        plan = results.explain()
        assert index in plan, plan
        assert "Seq Scan" not in plan, plan
