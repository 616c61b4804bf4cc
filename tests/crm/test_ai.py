import json
import logging
import threading
import time
import urllib.error
import urllib.request

import anthropic
import pytest

from crm import ai
from tests.fakes.anthropic_server import FakeAnthropic


def ask() -> str:
    return ai.complete_text(system="You are terse.", user="Say hello.", max_tokens=50)


# --- configuration ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("enabled", "key", "available"),
    [(True, "k", True), (True, "", False), (False, "k", False), (False, "", False)],
)
def test_ai_available_needs_the_flag_and_a_key(settings, enabled, key, available):
    settings.ANTHROPIC_ENABLED = enabled
    settings.ANTHROPIC_API_KEY = key

    assert ai.ai_available() is available


def test_ai_client_raises_when_ai_is_off(settings):
    settings.ANTHROPIC_ENABLED = False

    with pytest.raises(ai.AIUnavailable):
        ai.ai_client()


def test_ai_client_is_reused_until_base_url_or_key_changes(settings):
    settings.ANTHROPIC_ENABLED = True
    settings.ANTHROPIC_API_KEY = "key-1"
    settings.ANTHROPIC_BASE_URL = "http://127.0.0.1:9"
    first = ai.ai_client()

    assert ai.ai_client() is first
    settings.ANTHROPIC_BASE_URL = "http://127.0.0.1:10"
    assert ai.ai_client() is not first
    settings.ANTHROPIC_API_KEY = "key-2"
    assert ai.ai_client().api_key == "key-2"


def test_ai_client_has_a_short_timeout_and_one_retry(settings):
    settings.ANTHROPIC_ENABLED = True
    settings.ANTHROPIC_API_KEY = "k"

    client = ai.ai_client()

    assert client.max_retries == 1
    assert client.timeout.read <= 30
    assert str(client.base_url).startswith(settings.ANTHROPIC_BASE_URL)


# --- complete_text against the fake --------------------------------------------------------


def test_complete_text_returns_the_answer_and_sends_model_system_and_auth(fake_anthropic):
    fake_anthropic.reply("Hello!")

    assert ask() == "Hello!"

    (request,) = fake_anthropic.requests
    assert request.path == "/v1/messages"
    assert request.model == "claude-haiku-4-5"
    assert request.system == "You are terse."
    assert request.user_text == "Say hello."
    assert request.body["max_tokens"] == 50
    assert request.headers["authorization"] == "Bearer test-key"
    assert "anthropic-version" in request.headers
    assert "tools" not in request.body


@pytest.mark.parametrize("stop_reason", ["refusal", "max_tokens"])
def test_complete_text_raises_unusable_answer_when_answer_is_refused_or_cut(fake_anthropic, stop_reason):
    fake_anthropic.reply("Partial", stop_reason=stop_reason)

    with pytest.raises(ai.UnusableAnswer):
        ask()


def test_complete_text_raises_unusable_answer_when_answer_is_empty(fake_anthropic):
    fake_anthropic.reply("   ")

    with pytest.raises(ai.UnusableAnswer):
        ask()


def test_complete_text_raises_unusable_answer_when_message_has_wrong_shape(fake_anthropic):
    fake_anthropic.malformed("wrong_shape")

    with pytest.raises(ai.UnusableAnswer):
        ask()


def test_complete_text_retries_a_rate_limit_once_then_raises(fake_anthropic):
    fake_anthropic.rate_limited()

    with pytest.raises(anthropic.RateLimitError):
        ask()

    assert len(fake_anthropic.requests) == 2


def test_complete_text_raises_overloaded_error_for_529(fake_anthropic):
    fake_anthropic.overloaded()

    with pytest.raises(anthropic.OverloadedError):
        ask()


# --- the fake itself -----------------------------------------------------------------------


def _post(fake: FakeAnthropic, headers: dict[str, str]) -> tuple[int, dict]:
    body = json.dumps({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})
    request = urllib.request.Request(
        f"{fake.base_url}/v1/messages",
        data=body.encode(),
        headers={"content-type": "application/json", "anthropic-version": "2023-06-01", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_fake_anthropic_accepts_x_api_key_and_bearer_and_rejects_a_wrong_key():
    with FakeAnthropic(api_key="test-key") as fake:
        assert _post(fake, {"x-api-key": "test-key"})[0] == 200
        assert _post(fake, {"authorization": "Bearer test-key"})[0] == 200
        status, body = _post(fake, {"x-api-key": "nope"})

    assert status == 401
    assert body["type"] == "error"
    assert body["error"]["type"] == "authentication_error"
    assert len(fake.requests) == 3


def test_fake_anthropic_sends_documented_rate_limit_error():
    with FakeAnthropic(api_key="k") as fake:
        fake.rate_limited(retry_after=2)
        status, body = _post(fake, {"x-api-key": "k"})

    assert status == 429
    assert body["error"]["type"] == "rate_limit_error"
    assert body["request_id"]


# --- run_within_budget ---------------------------------------------------------------------


def test_run_within_budget_returns_every_result_that_finishes():
    results = ai.run_within_budget({"a": lambda: 1, "b": lambda: 2}, 2.0)

    assert results == {"a": 1, "b": 2}


def test_run_within_budget_runs_jobs_concurrently():
    jobs = {n: (lambda n=n: time.sleep(0.2) or n) for n in range(8)}
    started = time.monotonic()

    results = ai.run_within_budget(jobs, 5.0, max_workers=8)

    assert results == {n: n for n in range(8)}
    assert time.monotonic() - started < 1.2  # 8 x 0.2 s in sequence would be 1.6 s


def test_run_within_budget_gives_none_for_late_jobs_without_waiting_for_them():
    release = threading.Event()
    started = time.monotonic()
    try:
        results = ai.run_within_budget(
            {"fast": lambda: "ok", "slow": lambda: release.wait(10) and "late"}, 0.3
        )
        elapsed = time.monotonic() - started
    finally:
        release.set()

    assert results == {"fast": "ok", "slow": None}
    assert elapsed < 0.3 + 1.5


def test_run_within_budget_cancels_jobs_that_never_started():
    release = threading.Event()
    ran = []
    try:
        results = ai.run_within_budget(
            {"blocker": lambda: release.wait(10), "queued": lambda: ran.append(1)}, 0.2, max_workers=1
        )
    finally:
        release.set()
    time.sleep(0.1)

    assert results == {"blocker": None, "queued": None}
    assert ran == []


def test_run_within_budget_gives_none_and_logs_a_warning_for_failed_jobs(caplog):
    def broken():
        raise ValueError("boom")

    with caplog.at_level(logging.WARNING, logger="crm.ai"):
        results = ai.run_within_budget({"ok": lambda: 1, "broken": broken}, 2.0, label="test-batch")

    assert results == {"ok": 1, "broken": None}
    (record,) = [r for r in caplog.records if getattr(r, "ai_job", None) == "broken"]
    assert record.levelno == logging.WARNING
    assert record.ai_batch == "test-batch"
    assert record.error_type == "ValueError"


def test_run_within_budget_logs_status_code_of_api_errors(fake_anthropic, caplog):
    fake_anthropic.server_error()

    with caplog.at_level(logging.WARNING, logger="crm.ai"):
        results = ai.run_within_budget({"draft": ask}, 5.0)

    assert results == {"draft": None}
    (record,) = [r for r in caplog.records if getattr(r, "ai_job", None) == "draft"]
    assert record.status_code == 500
    assert record.error_type == "InternalServerError"


@pytest.mark.parametrize("budget", [0, -1])
def test_run_within_budget_runs_nothing_without_budget(budget):
    ran = []

    results = ai.run_within_budget({"a": lambda: ran.append(1)}, budget)

    assert results == {"a": None}
    assert ran == []


def test_run_within_budget_returns_empty_for_no_jobs():
    assert ai.run_within_budget({}, 1.0) == {}
