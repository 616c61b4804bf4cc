"""The signed-in user arrives with their Owner, so scoping a page costs no query of its own."""

import pytest
from django.contrib.auth import SESSION_KEY, get_user
from django.test import RequestFactory

from crm.auth import UserWithOwnerBackend
from leads.selectors import owner_for_user

pytestmark = pytest.mark.django_db


def signed_in_request(client, user):
    client.force_login(user)
    request = RequestFactory().get("/")
    request.session = client.session
    assert request.session[SESSION_KEY]  # the session is read here, before counting
    return request


def test_a_setters_owner_comes_with_the_user(client, setter, django_assert_num_queries):
    request = signed_in_request(client, setter)
    with django_assert_num_queries(1):  # the user, joined to their owner
        user = get_user(request)
        assert owner_for_user(user) == setter.owner


def test_a_login_without_an_owner_has_none(client, manager, django_assert_num_queries):
    request = signed_in_request(client, manager)
    with django_assert_num_queries(1):
        user = get_user(request)
        assert user == manager and owner_for_user(user) is None


def test_an_inactive_or_unknown_user_is_not_loaded(setter):
    backend = UserWithOwnerBackend()
    assert backend.get_user(setter.pk + 1000) is None
    setter.is_active = False
    setter.save()
    assert backend.get_user(setter.pk) is None


def test_signing_in_with_a_password_still_works(client, setter):
    setter.set_password("s3cret-pass-2026")
    setter.save()
    response = client.post("/login/", {"username": setter.username, "password": "s3cret-pass-2026"})
    assert response.status_code == 302
    assert int(client.session[SESSION_KEY]) == setter.pk
