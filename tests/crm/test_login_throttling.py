"""Login throttling (django-axes) on both sign-in forms, and the session idle timeout."""

import os
import subprocess
import sys
from datetime import timedelta

import pytest
import time_machine
from axes.models import AccessAttempt
from django.conf import settings as django_settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm.auth import client_ip

pytestmark = pytest.mark.django_db

PASSWORD = "right-pass-2026"
LOCKED_OUT = "Too many failed sign-ins"


@pytest.fixture
def person(setter):
    setter.set_password(PASSWORD)
    setter.save()
    return setter


@pytest.fixture
def staff(ops_user):
    ops_user.set_password(PASSWORD)
    ops_user.save()
    return ops_user


def sign_in(client: Client, username: str, password: str, *, url: str = "/login/", ip: str = "10.0.0.1"):
    data = {"username": username, "password": password}
    if url.startswith("/admin/"):
        data["next"] = "/admin/"
    return client.post(url, data, REMOTE_ADDR=ip)


def signed_in(client: Client) -> bool:
    return SESSION_KEY in client.session


def fail(times: int, username: str, *, url: str = "/login/", ip: str = "10.0.0.1") -> None:
    for _ in range(times):
        response = sign_in(Client(), username, "wrong", url=url, ip=ip)
        assert response.status_code in (200, 429)


def test_the_defaults_are_five_failures_and_fifteen_minutes_of_cool_off():
    assert django_settings.AXES_FAILURE_LIMIT == 5
    assert django_settings.AXES_COOLOFF_TIME.total_seconds() == 15 * 60
    assert django_settings.AXES_LOCKOUT_PARAMETERS == ["username", "ip_address"]
    assert django_settings.AUTHENTICATION_BACKENDS[0] == "axes.backends.AxesStandaloneBackend"


def test_a_few_wrong_passwords_still_let_the_right_one_in(person):
    fail(4, person.username)
    client = Client()

    response = sign_in(client, person.username, PASSWORD)

    assert response.status_code == 302 and signed_in(client)


def test_a_wrong_password_below_the_limit_shows_the_usual_error(person):
    response = sign_in(Client(), person.username, "wrong")

    assert response.status_code == 200
    assert LOCKED_OUT not in response.content.decode()
    assert 'data-testid="login-error"' in response.content.decode()


def test_five_wrong_passwords_then_the_right_one_is_refused_on_the_sign_in_page(person):
    # given
    fail(5, person.username)
    client = Client()
    # when
    response = sign_in(client, person.username, PASSWORD)
    # then: the sign-in page in the site layout says why, and nobody is signed in
    assert response.status_code == 429
    assert not signed_in(client)
    assert "registration/login.html" in [t.name for t in response.templates]
    body = response.content.decode()
    assert LOCKED_OUT in body and "15 minutes" in body and "Lead CRM" in body
    assert '<form method="post"' in body


def test_five_wrong_passwords_then_the_right_one_is_refused_on_the_admin_sign_in(staff):
    fail(5, staff.username, url="/admin/login/")
    client = Client()

    response = sign_in(client, staff.username, PASSWORD, url="/admin/login/")

    assert response.status_code == 429
    assert not signed_in(client)
    assert LOCKED_OUT in response.content.decode()


def test_failures_on_either_form_count_together(staff):
    fail(3, staff.username, url="/admin/login/")
    fail(2, staff.username)

    response = sign_in(Client(), staff.username, PASSWORD, url="/admin/login/")

    assert response.status_code == 429


def test_a_locked_username_is_refused_from_another_address_too(person):
    fail(5, person.username, ip="10.0.0.1")

    response = sign_in(Client(), person.username, PASSWORD, ip="10.9.9.9")

    assert response.status_code == 429


def test_an_address_guessing_many_usernames_is_locked_out_for_every_username(person, other_setter):
    # given: one address tries five different usernames once each
    for name in ("admin", "root", "maya", "test", "sam"):
        fail(1, name, ip="203.0.113.7")
    # when: the right password of a real user, from that address
    client = Client()
    response = sign_in(client, person.username, PASSWORD, ip="203.0.113.7")
    # then: refused there, while the same user from their own address signs in
    assert response.status_code == 429 and not signed_in(client)
    elsewhere = Client()
    assert sign_in(elsewhere, person.username, PASSWORD, ip="10.0.0.2").status_code == 302
    assert signed_in(elsewhere)


def test_the_lockout_ends_after_the_cool_off(person):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        fail(5, person.username)
        assert sign_in(Client(), person.username, PASSWORD).status_code == 429
    with time_machine.travel(start + timedelta(minutes=14), tick=False):
        assert sign_in(Client(), person.username, PASSWORD).status_code == 429
    # The attempt during the lockout restarted the cool-off: 15 minutes from the last one.
    with time_machine.travel(start + timedelta(minutes=14 + 15, seconds=1), tick=False):
        client = Client()
        assert sign_in(client, person.username, PASSWORD).status_code == 302
        assert signed_in(client)


def test_ops_can_see_and_unlock_a_locked_out_sign_in_in_the_admin(person, staff):
    # given: the setter is locked out, ops signs in to the admin
    fail(5, person.username)
    assert sign_in(Client(), person.username, PASSWORD).status_code == 429
    ops = Client()
    ops.force_login(staff)
    changelist = reverse("admin:axes_accessattempt_changelist")
    listing = ops.get(changelist)
    assert listing.status_code == 200 and person.username in listing.content.decode()
    # when: ops deletes the attempts (the admin's unlock)
    attempts = list(AccessAttempt.objects.filter(username=person.username).values_list("pk", flat=True))
    response = ops.post(
        changelist, {"action": "delete_selected", "_selected_action": attempts, "post": "yes"}
    )
    # then
    assert response.status_code == 302
    assert not AccessAttempt.objects.filter(username=person.username).exists()
    client = Client()
    assert sign_in(client, person.username, PASSWORD).status_code == 302 and signed_in(client)


def test_a_setter_cannot_see_the_access_attempts(setter_client):
    response = setter_client.get(reverse("admin:axes_accessattempt_changelist"))

    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_client_ip_is_the_remote_address_unless_behind_the_proxy(settings):
    request = RequestFactory().post("/login/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4")
    settings.BEHIND_PROXY = False
    assert client_ip(request) == "10.0.0.1"  # a header a client can set is not believed


def test_client_ip_behind_the_proxy_is_the_address_the_proxy_appended(settings):
    settings.BEHIND_PROXY = True
    # The first entry is whatever the client sent (forged here); the last is the proxy's.
    request = RequestFactory().post(
        "/login/", REMOTE_ADDR="10.0.0.254", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.4"
    )
    assert client_ip(request) == "198.51.100.4"
    junk = RequestFactory().post("/login/", REMOTE_ADDR="10.0.0.254", HTTP_X_FORWARDED_FOR="nonsense")
    assert client_ip(junk) == "10.0.0.254"


# --- the session idle timeout ----------------------------------------------------------------


def test_the_session_ends_after_twelve_idle_hours_by_default():
    assert django_settings.SESSION_IDLE_TIMEOUT_HOURS == 12
    assert django_settings.SESSION_COOKIE_AGE == 12 * 3600
    assert django_settings.SESSION_ENGINE == "crm.sessions"


def test_a_session_in_use_lives_on_and_an_idle_one_ends(person):
    start = timezone.now()
    client = Client()
    with time_machine.travel(start, tick=False):
        assert sign_in(client, person.username, PASSWORD).status_code == 302
    # Working every 11 hours keeps the session well past 12 hours from sign-in...
    for hours in (11, 22):
        with time_machine.travel(start + timedelta(hours=hours), tick=False):
            assert client.get("/").status_code == 200
    # ...and 12 hours without a request end it.
    with time_machine.travel(start + timedelta(hours=22 + 12, minutes=1), tick=False):
        response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def session_writes(client: Client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/").status_code == 200
    return sum(1 for q in queries if q["sql"].startswith("UPDATE") and "django_session" in q["sql"])


def test_the_session_is_written_at_most_every_few_minutes_not_on_every_request(person):
    start = timezone.now()
    client = Client()
    with time_machine.travel(start, tick=False):
        sign_in(client, person.username, PASSWORD)
    with time_machine.travel(start + timedelta(minutes=4), tick=False):
        assert session_writes(client) == 0  # saved at sign-in, recently enough
    with time_machine.travel(start + timedelta(minutes=6), tick=False):
        assert session_writes(client) == 1  # pushed 12 hours ahead from here
        assert session_writes(client) == 0
    expiry = Session.objects.get().expire_date
    assert expiry == start + timedelta(minutes=6, hours=12)


def settings_from(environ: dict[str, str]) -> subprocess.CompletedProcess:
    code = (
        "import crm.settings as s; "
        "print(s.SESSION_COOKIE_AGE, s.AXES_FAILURE_LIMIT, int(s.AXES_COOLOFF_TIME.total_seconds()))"
    )
    env = {**os.environ, "DJANGO_DEBUG": "true", **environ}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)


def test_the_limits_come_from_the_environment():
    result = settings_from(
        {"SESSION_IDLE_TIMEOUT_HOURS": "2", "LOGIN_FAILURE_LIMIT": "8", "LOGIN_COOLOFF_MINUTES": "30"}
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["7200", "8", "1800"]


@pytest.mark.parametrize(
    "environ",
    [{"LOGIN_FAILURE_LIMIT": "lots"}, {"LOGIN_COOLOFF_MINUTES": "0"}, {"SESSION_IDLE_TIMEOUT_HOURS": "0"}],
)
def test_a_bad_limit_in_the_environment_stops_the_start(environ):
    result = settings_from(environ)

    assert result.returncode != 0 and "ImproperlyConfigured" in result.stderr
