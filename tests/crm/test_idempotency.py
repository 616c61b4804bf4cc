"""One-time action-form keys (crm.idempotency): a repeated POST answers what the first did."""

import re
import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from calls import views as calls_views
from calls.models import CallRecord, QueueState
from crm.idempotency import idempotency_keys_expire
from crm.models import IdempotencyKey
from crm.tasks import expire_idempotency_keys_task
from tests.conftest import HTMX_HEADERS
from tests.factories import ContactFactory, InterventionFactory
from tests.support import require_postgres

pytestmark = pytest.mark.django_db
QUEUE = reverse("queue")


def _called_url(contact) -> str:
    return reverse("queue-mark-called", args=[contact.pk])


def _keys(html: str, form_id: str) -> list[str]:
    return re.findall(rf'name="idempotency_key" value="([0-9a-f]+)" form="{form_id}"', html)


def _lead(owner, **facts):
    return ContactFactory(
        owner=owner, last_call_at=timezone.now() - timedelta(days=15), call_count=1, **facts
    )


def test_the_same_key_twice_logs_one_call_and_answers_the_same(setter_client, setter):
    # given
    contact = _lead(setter.owner)
    data = {"result": "booked", "idempotency_key": uuid.uuid4().hex}

    # when
    first = setter_client.post(_called_url(contact), data, **HTMX_HEADERS)
    again = setter_client.post(_called_url(contact), data, **HTMX_HEADERS)

    # then
    assert CallRecord.objects.count() == 1
    assert (first.status_code, first["HX-Trigger"]) == (204, "queue-changed")
    assert (again.status_code, again["HX-Trigger"], again.content) == (204, "queue-changed", first.content)


def test_a_repeated_key_without_htmx_redirects_like_the_first_answer(setter_client, setter):
    contact = _lead(setter.owner)
    data = {"result": "no_answer", "idempotency_key": uuid.uuid4().hex}
    headers = {"Referer": "http://testserver/queue/?days=5"}
    first = setter_client.post(_called_url(contact), data, headers=headers)
    again = setter_client.post(_called_url(contact), data)  # a retry that lost its Referer
    assert (first.status_code, again.status_code) == (302, 302)
    assert again["Location"] == first["Location"] == "http://testserver/queue/?days=5"
    assert CallRecord.objects.count() == 1


def test_the_queue_forms_carry_keys_that_post_once(setter_client, setter):
    """Keys come from outside the cached entry; posting the page's key twice makes one call."""
    lead = _lead(setter.owner)
    html = setter_client.get(QUEUE).content.decode()
    [called_key] = _keys(html, f"called-{lead.pk}")
    [snooze_key] = _keys(html, f"snooze-{lead.pk}")
    assert called_key != snooze_key

    for _ in range(3):
        setter_client.post(
            _called_url(lead), {"result": "booked", "idempotency_key": called_key}, **HTMX_HEADERS
        )
    assert CallRecord.objects.filter(contact=lead).count() == 1


def test_a_snooze_posted_twice_with_its_key_is_done_once(setter_client, setter):
    lead = _lead(setter.owner)
    data = {"until": "tomorrow", "reason": "Away", "idempotency_key": uuid.uuid4().hex}
    url = reverse("queue-snooze", args=[lead.pk])
    assert setter_client.post(url, data, **HTMX_HEADERS).status_code == 204
    first_until = QueueState.objects.get(contact=lead).snoozed_until
    QueueState.objects.filter(contact=lead).update(snooze_reason="changed since")
    assert setter_client.post(url, data, **HTMX_HEADERS).status_code == 204
    state = QueueState.objects.get(contact=lead)
    assert (state.snoozed_until, state.snooze_reason) == (first_until, "changed since")


def test_every_render_of_the_queue_gives_new_keys_though_entries_come_from_the_cache(setter_client, setter):
    # given two leads and a first render (which fills the fragment caches)
    called, waiting = _lead(setter.owner, first_name="Called"), _lead(setter.owner, first_name="Waiting")
    before = setter_client.get(QUEUE).content.decode()
    [key] = _keys(before, f"called-{called.pk}")
    [waiting_before] = _keys(before, f"called-{waiting.pk}")

    # when a call is logged with its key and the list renders again
    setter_client.post(_called_url(called), {"result": "booked", "idempotency_key": key}, **HTMX_HEADERS)
    after = setter_client.get(
        QUEUE, headers={"HX-Request": "true", "HX-Target": "queue-list"}
    ).content.decode()

    # then the remaining form has a new key, and no key is repeated
    [waiting_after] = _keys(after, f"called-{waiting.pk}")
    assert waiting_after != waiting_before
    assert key not in after
    again = setter_client.get(
        QUEUE, headers={"HX-Request": "true", "HX-Target": "queue-list"}
    ).content.decode()
    assert _keys(again, f"called-{waiting.pk}") != [waiting_after]


def test_an_invalid_form_does_not_use_up_its_key_and_comes_back_with_a_new_one(setter_client, setter):
    lead = _lead(setter.owner)
    key = uuid.uuid4().hex
    refused = setter_client.post(
        _called_url(lead), {"result": "callback", "idempotency_key": key}, **HTMX_HEADERS
    ).content.decode()
    assert "When did they ask to be called back?" in refused
    [fresh] = re.findall(r'name="idempotency_key" value="([0-9a-f]+)"', refused)
    assert fresh != key
    assert not IdempotencyKey.objects.exists()

    callback_at = (timezone.localtime() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    data = {"result": "callback", "callback_at": callback_at, "idempotency_key": key}
    assert setter_client.post(_called_url(lead), data, **HTMX_HEADERS).status_code == 204
    assert CallRecord.objects.filter(contact=lead).count() == 1


def test_a_key_belongs_to_its_user_and_its_action(setter_client, manager_client, setter):
    lead, other = _lead(setter.owner), _lead(setter.owner)
    key = uuid.uuid4().hex
    setter_client.post(_called_url(lead), {"result": "booked", "idempotency_key": key}, **HTMX_HEADERS)
    # another user's equal key is theirs
    manager_client.post(_called_url(lead), {"result": "connected", "idempotency_key": key}, **HTMX_HEADERS)
    assert CallRecord.objects.filter(contact=lead).count() == 2
    # the same key on another action is refused, not answered with the first action's answer
    response = setter_client.post(
        _called_url(other), {"result": "booked", "idempotency_key": key}, **HTMX_HEADERS
    )
    assert response.status_code == 400
    assert not CallRecord.objects.filter(contact=other).exists()


def test_a_malformed_key_is_refused(setter_client, setter):
    lead = _lead(setter.owner)
    response = setter_client.post(_called_url(lead), {"result": "booked", "idempotency_key": "not-a-uuid"})
    assert response.status_code == 400
    assert not CallRecord.objects.exists()


def test_a_post_without_a_key_still_works(setter_client, setter):
    lead = _lead(setter.owner)
    for _ in range(2):
        setter_client.post(_called_url(lead), {"result": "booked"}, **HTMX_HEADERS)
    assert CallRecord.objects.count() == 2


def test_an_intervention_outcome_form_carries_a_key_and_repeats_answer_the_first(
    manager_client, manager, setter
):
    contact = _lead(setter.owner)
    item = InterventionFactory(contact=contact)
    html = manager_client.get(reverse("home")).content.decode()
    row = html[html.index(f'id="intervention-{item.pk}"') :]
    key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', row).group(1)
    url = reverse("intervention-outcome", args=[item.pk])
    first = manager_client.post(url, {"outcome": "success", "idempotency_key": key}, **HTMX_HEADERS)
    again = manager_client.post(url, {"outcome": "success", "idempotency_key": key}, **HTMX_HEADERS)
    assert first.status_code == again.status_code == 200
    assert "already recorded" not in again.content.decode()  # the first answer, not a 409 message
    assert again.content == first.content


def test_expiry_deletes_keys_older_than_a_day_and_is_safe_twice(setter):
    old = IdempotencyKey.objects.create(key=uuid.uuid4(), user=setter, path="/queue/1/called/")
    IdempotencyKey.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=25))
    recent = IdempotencyKey.objects.create(key=uuid.uuid4(), user=setter, path="/queue/1/called/")
    assert idempotency_keys_expire() == 1
    expire_idempotency_keys_task()
    assert list(IdempotencyKey.objects.all()) == [recent]


def test_the_expiry_has_a_default_beat_schedule():
    task = PeriodicTask.objects.get(name="Expire action-form keys")
    assert task.task == "crm.expire_idempotency_keys"
    assert task.expire_seconds < 3600


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_posts_with_one_key_make_one_call(migrated_rows, setter, monkeypatch):
    require_postgres()
    lead = _lead(setter.owner)
    key = uuid.uuid4().hex
    real = calls_views.services.queue_mark_called

    def slow(**kwargs):  # holds the first request's transaction open while the second arrives
        time.sleep(0.3)
        return real(**kwargs)

    monkeypatch.setattr(calls_views.services, "queue_mark_called", slow)
    start, responses = threading.Barrier(3), []

    def post():
        client = Client()
        client.force_login(setter)
        start.wait()
        try:
            responses.append(
                client.post(_called_url(lead), {"result": "booked", "idempotency_key": key}, **HTMX_HEADERS)
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert CallRecord.objects.filter(contact=lead).count() == 1
    assert [(r.status_code, r["HX-Trigger"]) for r in responses] == [(204, "queue-changed")] * 3
