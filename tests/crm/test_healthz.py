import pytest

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
