"""The call queue page and its actions (SPEC S2)."""

import re
from datetime import timedelta

import pytest
from django.core.cache import caches
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from calls.models import CallRecord, QueueState
from leads.models import Contact, Zone
from scoring.services import queue_scores_refresh
from tests.conftest import HTMX_HEADERS
from tests.factories import ContactFactory, OwnerFactory

pytestmark = pytest.mark.django_db
URL = reverse("queue")


def ago(**kwargs):
    return timezone.now() - timedelta(**kwargs)


def test_setter_lands_on_their_own_queue(setter_client, setter, other_setter):
    mine = ContactFactory(
        owner=setter.owner, first_name="Mina", health_zone=Zone.RED, last_call_at=ago(days=15), call_count=1
    )
    ContactFactory(owner=other_setter.owner, first_name="Theirs")
    response = setter_client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Mina" in html and "Theirs" not in html
    assert "URGENT: RED zone · 15 days no contact" in html
    assert f'id="entry-{mine.pk}"' in html
    assert "Drafts are templates" in html
    # the setter gets no owner selector
    assert 'name="owner"' not in html


def test_setter_asking_for_another_owner_gets_400(setter_client, other_setter):
    response = setter_client.get(URL, {"owner": other_setter.owner.pk})
    assert response.status_code == 400


def test_bad_filters_get_400_with_a_message(setter_client):
    response = setter_client.get(URL, {"days": "soon"})
    assert response.status_code == 400
    assert b"days" in response.content


def test_manager_picks_an_owner_and_all_owners(manager_client, setter, other_setter):
    ContactFactory(owner=setter.owner, first_name="Sami")
    ContactFactory(owner=other_setter.owner, first_name="Omar")
    all_html = manager_client.get(URL).content.decode()
    assert "Sami" in all_html and "Omar" in all_html and "All owners" in all_html
    one = manager_client.get(URL, {"owner": other_setter.owner.pk}).content.decode()
    assert "Omar" in one and "Sami" not in one


def test_htmx_request_for_the_list_returns_only_the_list(setter_client, setter):
    ContactFactory(owner=setter.owner, first_name="Mina")
    response = setter_client.get(URL, headers={"HX-Request": "true", "HX-Target": "queue-list"})
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="queue-list"') and "Mina" in html
    assert "<html" not in html and "queue-cards" not in html


def test_htmx_request_for_the_cards_returns_only_the_cards(setter_client, setter):
    ContactFactory.create_batch(2, owner=setter.owner)
    html = setter_client.get(URL, headers={"HX-Request": "true", "HX-Target": "queue-cards"}).content.decode()
    assert html.lstrip().startswith('<div id="queue-cards"') and 'data-card="total">2<' in html


def test_wrong_method_and_anonymous(client, setter_client):
    assert setter_client.post(URL).status_code == 405
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_mark_called_logs_the_call_and_triggers_refresh(setter_client, setter):
    contact = ContactFactory(owner=setter.owner)
    response = setter_client.post(
        reverse("queue-mark-called", args=[contact.pk]),
        {"result": "booked", "note": "Trial Tuesday"},
        **HTMX_HEADERS,
    )
    assert response.status_code == 204 and response["HX-Trigger"] == "queue-changed"
    call = CallRecord.objects.get()
    assert (call.status, call.outcome, call.owner, call.notes) == (
        "answered",
        "booked",
        setter.owner,
        "Trial Tuesday",
    )
    contact.refresh_from_db()
    assert contact.booking_count == 1
    assert f'id="entry-{contact.pk}"' not in setter_client.get(URL).content.decode()


def test_mark_called_callback_needs_a_time_and_comes_back_with_the_error(setter_client, setter):
    contact = ContactFactory(owner=setter.owner)
    url = reverse("queue-mark-called", args=[contact.pk])
    response = setter_client.post(url, {"result": "callback"}, **HTMX_HEADERS)
    assert response.status_code == 200  # htmx swaps the re-rendered form
    assert "When did they ask to be called back?" in response.content.decode()
    assert not CallRecord.objects.exists()
    callback_at = timezone.localtime() + timedelta(days=1)
    response = setter_client.post(
        url, {"result": "callback", "callback_at": callback_at.strftime("%Y-%m-%dT%H:%M")}, **HTMX_HEADERS
    )
    assert response.status_code == 204
    snoozed_until = timezone.localtime(QueueState.objects.get(contact=contact).snoozed_until)
    assert snoozed_until.strftime("%Y-%m-%d %H:%M") == callback_at.strftime("%Y-%m-%d %H:%M")


def test_mark_called_on_another_setters_lead_is_404(setter_client, other_setter):
    theirs = ContactFactory(owner=other_setter.owner)
    response = setter_client.post(reverse("queue-mark-called", args=[theirs.pk]), {"result": "booked"})
    assert response.status_code == 404 and not CallRecord.objects.exists()


def test_mark_called_without_htmx_redirects_back(setter_client, setter):
    contact = ContactFactory(owner=setter.owner)
    response = setter_client.post(reverse("queue-mark-called", args=[contact.pk]), {"result": "no_answer"})
    assert response.status_code == 302


def test_mark_called_bad_result_without_htmx_is_400(setter_client, setter):
    contact = ContactFactory(owner=setter.owner)
    response = setter_client.post(reverse("queue-mark-called", args=[contact.pk]), {"result": "teleported"})
    assert response.status_code == 400


def test_snooze_until_tomorrow_morning(setter_client, setter):
    contact = ContactFactory(owner=setter.owner)
    response = setter_client.post(
        reverse("queue-snooze", args=[contact.pk]), {"until": "tomorrow"}, **HTMX_HEADERS
    )
    assert response.status_code == 204
    until = timezone.localtime(QueueState.objects.get(contact=contact).snoozed_until)
    assert until.date() == timezone.localdate() + timedelta(days=1) and until.hour == 9


def test_snooze_custom_time_in_the_past_is_refused(setter_client, setter):
    contact = ContactFactory(owner=setter.owner)
    past = (timezone.localtime() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = setter_client.post(
        reverse("queue-snooze", args=[contact.pk]), {"until": "custom", "until_at": past}, **HTMX_HEADERS
    )
    assert response.status_code == 200 and "in the future" in response.content.decode()
    assert not QueueState.objects.exists()


def test_draft_endpoint_returns_the_template_draft_without_ai(setter_client, setter):
    contact = ContactFactory(owner=setter.owner, first_name="Mina")
    response = setter_client.get(reverse("queue-draft", args=[contact.pk]))
    assert response.status_code == 200
    assert "Mina" in response.content.decode() and "Template" in response.content.decode()


def test_queue_page_query_count_does_not_grow_with_entries(
    setter_client, setter, django_assert_max_num_queries
):
    other = OwnerFactory()
    for _ in range(25):
        ContactFactory(owner=setter.owner, owner_changed_at=ago(days=1), health_zone=Zone.RED)
    Contact.objects.update(pattern_status="PATTERN_BREAK")
    ContactFactory(owner=other)
    # session, user with owner (crm.auth), groups; factor table; cards (queue counts, contacted
    # today); entries
    with django_assert_max_num_queries(7):
        response = setter_client.get(URL)
    assert response.content.decode().count("data-entry") == 25
    # the side panels: the same three, then activity, rhythm, pattern breaks, recently assigned
    with django_assert_max_num_queries(7):
        side = setter_client.get(URL, headers={"HX-Request": "true", "HX-Target": "queue-side"})
    html = side.content.decode()
    assert "Everyone is on their usual rhythm" not in html and "No owner changes" not in html


def test_mark_called_without_htmx_never_redirects_to_another_site(setter_client, setter):
    contact = ContactFactory(owner=setter.owner)
    url = reverse("queue-mark-called", args=[contact.pk])
    response = setter_client.post(url, {"result": "no_answer"}, HTTP_REFERER="https://evil.example/phish")
    assert response.status_code == 302 and response["Location"] == reverse("queue")
    response = setter_client.post(url, {"result": "busy"}, HTTP_REFERER="http://testserver/queue/?days=5")
    assert response["Location"] == "http://testserver/queue/?days=5"


def test_an_entry_rendered_again_from_its_cache_shows_the_contacts_new_facts(setter_client, setter):
    """Entries are cached by everything they show: an unchanged entry comes from the cache, and a
    changed one (a new name, zone or call) is rendered afresh, never served stale."""
    lead = ContactFactory(
        owner=setter.owner, first_name="Mina", health_zone=Zone.RED, last_call_at=ago(days=15), call_count=1
    )
    list_only = {"HX-Request": "true", "HX-Target": "queue-list"}
    first = setter_client.get(URL, headers=list_only).content.decode()
    assert "Mina" in first and "URGENT: RED zone · 15 days no contact" in first
    again = setter_client.get(URL, headers=list_only).content.decode()
    assert _without_tokens(again) == _without_tokens(first)

    Contact.objects.filter(pk=lead.pk).update(first_name="Mona", health_zone=Zone.YELLOW)
    queue_scores_refresh([lead.pk])  # as every service that changes a contact does
    changed = setter_client.get(URL, headers=list_only).content.decode()
    assert "Mona" in changed and "Mina" not in changed
    assert "zone--yellow" in changed and "URGENT" not in changed


def _without_tokens(html: str) -> str:
    # Django masks the CSRF token differently in every response; each form's one-time key is new too.
    return re.sub(r'name="(csrfmiddlewaretoken|idempotency_key)" value="[^"]+"', "", html)


def test_the_cached_entries_carry_each_users_own_csrf_token(setter, other_setter):
    """The forms of a cached entry post without JavaScript: the token joins them from outside the
    cached HTML, so each user gets their own, and Django accepts it."""
    lead = ContactFactory(owner=setter.owner, first_name="Mina", last_call_at=ago(days=15), call_count=1)
    client = Client(enforce_csrf_checks=True)
    client.force_login(setter)
    html = client.get(URL).content.decode()
    token = re.search(rf'name="csrfmiddlewaretoken" value="([^"]+)" form="called-{lead.pk}"', html).group(1)
    assert re.search(rf'value="[^"]+" form="snooze-{lead.pk}"', html)

    response = client.post(
        reverse("queue-mark-called", args=[lead.pk]),
        {"result": "no_answer", "csrfmiddlewaretoken": token},
        headers={"Referer": "http://testserver/queue/"},
    )
    assert response.status_code == 302
    assert CallRecord.objects.filter(contact=lead).count() == 1

    refused = client.post(reverse("queue-snooze", args=[lead.pk]), {"until": "tomorrow"})
    assert refused.status_code == 403


def test_the_side_panels_load_after_the_queue_as_their_own_fragment(setter_client, setter):
    """The page answers with the cards and the list; today's activity, rhythm, pattern breaks and
    new assignments come in the fragment the page asks for as soon as it loads."""
    ContactFactory(owner=setter.owner, first_name="Mina")
    page = setter_client.get(URL).content.decode()
    side = page[page.index('<aside id="queue-side"') :]
    assert 'hx-trigger="load, queue-changed from:body, every 120s"' in side
    assert 'data-stat="calls"' not in side and "Loading…" in side

    fragment = setter_client.get(URL, headers={"HX-Request": "true", "HX-Target": "queue-side"})
    html = fragment.content.decode()
    assert html.lstrip().startswith('<aside id="queue-side"')
    assert 'data-stat="calls"' in html and "Pattern breaks" in html and "Recently assigned" in html
    assert 'hx-trigger="queue-changed from:body, every 120s"' in html  # no reload loop


def test_the_whole_list_is_served_from_one_cache_entry_until_an_entry_changes(setter_client, setter):
    lead = ContactFactory(owner=setter.owner, first_name="Mina", last_call_at=ago(days=15), call_count=1)
    ContactFactory(owner=setter.owner, first_name="Omar", last_call_at=ago(days=9), call_count=1)
    list_only = {"HX-Request": "true", "HX-Target": "queue-list"}
    lists = caches["fragment_lists"]
    lists.clear()  # earlier tests' lists may still be there (their keys never match these)

    first = setter_client.get(URL, headers=list_only).content.decode()
    assert len(lists._cache) == 1  # LocMemCache: the one list, under its entries' keys
    again = setter_client.get(URL, headers=list_only).content.decode()
    assert _without_tokens(again) == _without_tokens(first) and len(lists._cache) == 1

    Contact.objects.filter(pk=lead.pk).update(first_name="Mona")
    queue_scores_refresh([lead.pk])
    changed = setter_client.get(URL, headers=list_only).content.decode()
    assert "Mona" in changed and "Mina" not in changed and "Omar" in changed
    assert len(lists._cache) == 2
    # the tokens are outside the cached list: one pair per entry, fresh in every response
    assert changed.count('name="csrfmiddlewaretoken"') == 4
    assert _tokens(changed) != _tokens(first)


def _tokens(html: str) -> list[str]:
    return re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
