import pytest
from django.core.exceptions import ImproperlyConfigured

from crm.env import env_bool, env_int, env_list, env_str, env_timezone


@pytest.mark.parametrize(
    ("raw", "value"), [("true", True), ("1", True), ("ON", True), ("no", False), ("0", False)]
)
def test_env_bool_reads_common_spellings(monkeypatch, raw, value):
    monkeypatch.setenv("FLAG", raw)
    assert env_bool("FLAG", not value) is value


def test_env_bool_refuses_maybe(monkeypatch):
    monkeypatch.setenv("DJANGO_DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="DJANGO_DEBUG='maybe' is not a boolean"):
        env_bool("DJANGO_DEBUG", False)


def test_env_bool_default_when_unset_or_empty(monkeypatch):
    monkeypatch.delenv("FLAG", raising=False)
    assert env_bool("FLAG", True) is True
    monkeypatch.setenv("FLAG", "")
    assert env_bool("FLAG", False) is False


def test_env_int_refuses_words_and_values_below_minimum(monkeypatch):
    monkeypatch.setenv("N", "ten")
    with pytest.raises(ImproperlyConfigured, match="not a whole number"):
        env_int("N", 1)
    monkeypatch.setenv("N", "-1")
    with pytest.raises(ImproperlyConfigured, match="below the minimum 0"):
        env_int("N", 1, minimum=0)


def test_env_str_required_without_default(monkeypatch):
    monkeypatch.delenv("DJANGO_SECRET_KEY", raising=False)
    with pytest.raises(ImproperlyConfigured, match="Set the DJANGO_SECRET_KEY"):
        env_str("DJANGO_SECRET_KEY")


def test_env_list_splits_and_trims(monkeypatch):
    monkeypatch.setenv("HOSTS", " a.example.com, b.example.com ,,")
    assert env_list("HOSTS", []) == ["a.example.com", "b.example.com"]


def test_env_timezone_refuses_unknown_zone(monkeypatch):
    monkeypatch.setenv("TIME_ZONE", "Mars/Olympus")
    with pytest.raises(ImproperlyConfigured, match="not an IANA time zone"):
        env_timezone("TIME_ZONE", "Asia/Dubai")
    monkeypatch.setenv("TIME_ZONE", "Europe/London")
    assert env_timezone("TIME_ZONE", "Asia/Dubai") == "Europe/London"
