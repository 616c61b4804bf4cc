"""Root fixtures: a setter with an owner, another setter, a manager, logged-in clients."""

import pytest
from django.test import Client

from crm.roles import MANAGER, OPS, SETTER
from tests.factories import OwnerFactory, UserFactory

HTMX_HEADERS = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def setter(db):
    """A Setter login linked to its Owner (user.owner)."""
    user = UserFactory(username="sam", first_name="Sam", groups=[SETTER])
    OwnerFactory(user=user, first_name="Sam", last_name="Setter")
    return user


@pytest.fixture
def other_setter(db):
    user = UserFactory(username="olga", first_name="Olga", groups=[SETTER])
    OwnerFactory(user=user, first_name="Olga", last_name="Other")
    return user


@pytest.fixture
def manager(db):
    return UserFactory(username="maya", first_name="Maya", is_staff=True, groups=[MANAGER])


@pytest.fixture
def ops_user(db):
    return UserFactory(username="otto", is_staff=True, groups=[OPS])


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


def _logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def setter_client(setter) -> Client:
    return _logged_in(setter)


@pytest.fixture
def other_setter_client(other_setter) -> Client:
    return _logged_in(other_setter)


@pytest.fixture
def manager_client(manager) -> Client:
    return _logged_in(manager)


@pytest.fixture
def admin_client_ops(superuser) -> Client:
    return _logged_in(superuser)


@pytest.fixture
def htmx_headers() -> dict[str, str]:
    return dict(HTMX_HEADERS)
