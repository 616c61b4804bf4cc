"""Claude for the whole app (SPEC S8): the only module that builds the Anthropic client, plus a
runner that does a batch of slow calls concurrently inside one total time budget.

Pages reach the model only through `run_within_budget`, so a slow or failing API delays a page
by at most the budget and never breaks it. Callers check `ai_available()` first and fall back
to something that needs no model (a template) when it is False.
"""

import logging
import time
from collections.abc import Callable, Hashable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from functools import lru_cache
from typing import Any, TypeVar

import anthropic
import httpx2
from django.conf import settings

logger = logging.getLogger(__name__)

# The SDK's default timeout is 10 minutes. httpx timeouts are per phase (connect, each read), not
# a total, which is why run_within_budget enforces the deadline itself; this only bounds how
# long a straggler keeps its thread after the page has moved on.
REQUEST_TIMEOUT = httpx2.Timeout(15.0, connect=3.0)
# Each retry can add a full timeout plus backoff; one absorbs a blip (429, 529) cheaply.
MAX_RETRIES = 1
# Requests in flight per batch: stays under a modest organisation rate limit even with a few
# pages refreshing at once.
MAX_CONCURRENCY = 8

K = TypeVar("K", bound=Hashable)
R = TypeVar("R")


class AIUnavailable(Exception):
    """AI is switched off or has no key (check ai_available() before calling)."""


class UnusableAnswer(Exception):
    """The model answered, but not with text we can show (refused, cut off, empty, unsafe)."""


def ai_available() -> bool:
    """True when drafts and explanations may come from Claude; False means templates only."""
    return bool(settings.ANTHROPIC_ENABLED and settings.ANTHROPIC_API_KEY)


def ai_client() -> anthropic.Anthropic:
    """The process's client for the configured endpoint and key.

    Reused (it is thread-safe and pools connections); keyed on base URL and key, so a settings
    override (tests, a rotated key) gets its own client instead of a stale one.
    """
    if not ai_available():
        raise AIUnavailable("ANTHROPIC_ENABLED is off or ANTHROPIC_API_KEY is empty")
    return _client_for(settings.ANTHROPIC_BASE_URL, settings.ANTHROPIC_API_KEY)


@lru_cache(maxsize=4)
def _client_for(base_url: str, api_key: str) -> anthropic.Anthropic:
    # An explicit api_key stops the SDK from looking for credentials anywhere else.
    return anthropic.Anthropic(
        api_key=api_key, base_url=base_url, timeout=REQUEST_TIMEOUT, max_retries=MAX_RETRIES
    )


def complete_text(
    *,
    system: str,
    user: str,
    max_tokens: int,
    model: str | None = None,
    log_extra: Mapping[str, Any] | None = None,
) -> str:
    """One Messages API call with no tools: the answer's text.

    Raises AIUnavailable when AI is off, the SDK's errors (anthropic.APIError and subclasses)
    when the call fails, and UnusableAnswer when the model refused, ran out of tokens or said
    nothing. Logs the request id and token counts, never the prompt.
    """
    model = model or settings.ANTHROPIC_MODEL
    started = time.monotonic()
    message = ai_client().messages.create(
        model=model, max_tokens=max_tokens, system=system, messages=[{"role": "user", "content": user}]
    )
    extra = {
        **(log_extra or {}),
        "ai_model": model,
        "ai_request_id": getattr(message, "_request_id", None),
        "ai_stop_reason": message.stop_reason,
        "ai_input_tokens": getattr(message.usage, "input_tokens", None),
        "ai_output_tokens": getattr(message.usage, "output_tokens", None),
        "duration_ms": round((time.monotonic() - started) * 1000),
    }
    logger.info("AI answer received", extra=extra)
    # "max_tokens" is a truncated answer and "refusal" no answer: neither is shown to anyone.
    if message.stop_reason != "end_turn":
        raise UnusableAnswer(f"stop_reason={message.stop_reason}")
    blocks = message.content if isinstance(message.content, list) else []
    text = "".join(
        block.text
        for block in blocks
        if getattr(block, "type", None) == "text" and isinstance(block.text, str)
    ).strip()
    if not text:
        raise UnusableAnswer("empty answer")
    return text


def run_within_budget(
    jobs: Mapping[K, Callable[[], R]],
    budget_seconds: float,
    *,
    max_workers: int = MAX_CONCURRENCY,
    label: str = "ai",
) -> dict[K, R | None]:
    """Run the jobs concurrently; each key gets its job's result if it finished inside
    `budget_seconds` (counted from this call), else None. Never raises.

    Never waits past the budget: jobs not started yet are cancelled, jobs still running are left
    to finish in their threads (threads cannot be killed; the client's timeout bounds them) and
    their results are dropped here. A job that needs its late result kept (a cache write) does
    that itself. Every failure, in time or late, is logged as a warning.

    Jobs run in other threads, so they must not use the ORM (each thread would open a database
    connection nobody closes).
    """
    deadline = time.monotonic() + max(budget_seconds, 0.0)
    results: dict[K, R | None] = dict.fromkeys(jobs)
    if not jobs or budget_seconds <= 0:
        return results
    executor = ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(jobs))), thread_name_prefix=label)
    futures: dict[Future, K] = {}
    try:
        for key, job in jobs.items():
            futures[executor.submit(_logging_failures, job, key=key, label=label)] = key
    except RuntimeError as exc:  # "can't start new thread" under memory pressure: run what started
        logger.warning(
            "AI batch could not start every job",
            extra={"ai_batch": label, "error_type": type(exc).__name__, "error": str(exc)[:300]},
        )
    try:
        done, _ = wait(futures, timeout=max(deadline - time.monotonic(), 0.0))
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
    for future in done:
        if not future.cancelled() and future.exception() is None:
            results[futures[future]] = future.result()
    late = len(jobs) - len(done)
    if late:
        logger.warning(
            "AI batch budget ran out",
            extra={"ai_batch": label, "jobs": len(jobs), "late_jobs": late, "budget_seconds": budget_seconds},
        )
    return results


def _logging_failures(job: Callable[[], R], *, key: Hashable, label: str) -> R:
    # Logged in the worker before the future completes, so the warning exists by the time the
    # caller sees the failure, and a straggler that fails after the budget is logged too.
    try:
        return job()
    except Exception as exc:
        logger.warning(
            "AI job failed",
            extra={
                "ai_batch": label,
                "ai_job": str(key)[:100],
                "error_type": type(exc).__name__,
                "error": str(exc)[:300],
                "status_code": getattr(exc, "status_code", None),
                "ai_request_id": getattr(exc, "request_id", None),
            },
        )
        raise
