import logging

import pytest
from django.db import OperationalError, connection

from crm import views

pytestmark = pytest.mark.django_db


def test_healthz_is_ok_anonymously(client):
    response = client.get("/healthz/")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert "no-cache" in response["Cache-Control"]  # a cached "ok" would hide an outage


def test_healthz_rejects_post(client):
    assert client.post("/healthz/").status_code == 405


def test_healthz_is_503_when_the_database_does_not_answer(client, monkeypatch):
    class BrokenConnection:
        def cursor(self):
            raise OSError("connection refused")

    monkeypatch.setattr(views, "connection", BrokenConnection())

    response = client.get("/healthz/")

    assert response.status_code == 503
    assert response.json()["status"] == "error"


def test_healthz_does_not_tell_an_anonymous_caller_the_database_error(client, monkeypatch, caplog):
    # given: the database refuses, with an error that names its host and port
    detail = 'connection to server at "db.internal" (10.0.0.5), port 5432 failed: Connection refused'

    def refuse(*args, **kwargs):
        raise OperationalError(detail)

    monkeypatch.setattr(connection, "cursor", refuse)
    # when
    with caplog.at_level(logging.ERROR, logger="crm.views"):
        response = client.get("/healthz/")
    # then: the caller learns only that it is down; the log keeps the detail for ops
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "database unavailable"}
    assert "db.internal" not in response.content.decode() and "5432" not in response.content.decode()
    assert detail in caplog.text
