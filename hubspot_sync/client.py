"""The only module that speaks HTTP to HubSpot.

A thin `requests` client over the CRM API: the base URL and the object path come from settings
(HubSpot is moving from /crm/v3/objects to date-based paths such as /crm/objects/2026-03, and
switching is one setting), a private-app token or service key as the bearer token, client-side
budgets under HubSpot's rate limits (a general one and the 5-per-second search one), and errors
that say what failed (status, category, correlation id).

Two kinds of trouble, handled differently:

- Failures (5xx, 423, 477, timeouts) are retried with exponential backoff, at most
  `max_attempts` tries a request.
- A 429 is back-pressure, not failure: it uses up none of those attempts. The client waits out
  the window of the policy that refused it (TEN_SECONDLY_ROLLING: the rate-limit interval HubSpot
  last announced, else 10 s; SECONDLY: 1 s; Retry-After wins when sent), slows the budget that was
  hit, and tries again, until it has waited HUBSPOT_RATE_LIMIT_DEADLINE_SECONDS on one request
  (then `RateLimited`). A DAILY 429 ends the request at once (`DailyLimitReached`): the window
  lasts until HubSpot's midnight, so the run fails and the next scheduled run resumes.

Normal answers carry X-HubSpot-RateLimit-Remaining / -Interval-Milliseconds (search answers carry
none): when the window is all but spent the client pauses for an interval instead of running into
the 429. `heartbeat`, when set, is called before every request and at least every 10 s of any
longer sleep, so a caller can keep a lock alive through long waits (what it raises propagates).

The clock, the sleep and the jitter are injectable so tests prove the limiter and the backoff
without waiting for real seconds.
"""

import logging
import math
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
from django.conf import settings

logger = logging.getLogger(__name__)

LIST_PAGE_MAX = 100  # GET list endpoints
HISTORY_PAGE_MAX = 50  # list or batch read with propertiesWithHistory
SEARCH_PAGE_MAX = 200
SEARCH_RESULTS_MAX = 10_000  # paging past this answers 400
BATCH_READ_MAX = 100
ASSOCIATIONS_BATCH_MAX = 1_000

# 429 policies and how long each asks us to wait before the next try (seconds).
TEN_SECONDLY = "TEN_SECONDLY_ROLLING"
SECONDLY = "SECONDLY"
DAILY = "DAILY"
_POLICY_WAIT = {TEN_SECONDLY: 10.0, SECONDLY: 1.0}
# Retry-After: 0 (or a fraction) must not turn a run of 429s into a tight loop that never adds up
# to the deadline: one second is the shortest window HubSpot has.
_RATE_LIMIT_MIN_WAIT = 1.0
# Pause for a whole interval when at most this many requests are left in the rolling window: other
# workers on the same app may take the last one between our reading the header and our next send.
_REMAINING_LOW = 1
# Answers worth another try after a pause (HubSpot's error-handling guide).
_RETRY_STATUSES = {423, 477, 500, 502, 503, 504, 521, 523, 524}
_BACKOFF_BASE_SECONDS = 1.0
_BACKOFF_MAX_SECONDS = 60.0
_LOCKED_MIN_SECONDS = 2.0  # 423: "wait at least 2 seconds"
# A longer wait (477 "migration in progress" can ask for hours) ends the run instead of holding a
# worker: the run fails with the error and the next scheduled run resumes from the cursor.
_MAX_WAIT_SECONDS = 120.0
# Longer sleeps are cut into pieces this long with a heartbeat before each, so a caller's lock
# (renewed by the heartbeat) outlives a wait of many minutes.
_HEARTBEAT_SECONDS = 10.0
# After a 429 a budget halves its rate, never below this (nor above the configured rate) ...
_SLOW_FLOOR_PER_SECOND = 0.5
# ... and after each run of this many successes in a row wins back a tenth of the configured rate
# (additive increase, multiplicative decrease: it settles just under whatever the account allows).
_RECOVER_AFTER_SUCCESSES = 10
_RECOVER_STEP = 0.1


class HubSpotError(Exception):
    """A HubSpot request that failed for good, with what HubSpot said about it."""

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        path: str = "",
        status: int | None = None,
        category: str = "",
        correlation_id: str = "",
        policy: str = "",
    ) -> None:
        self.method, self.path, self.status = method, path, status
        self.category, self.correlation_id, self.policy = category, correlation_id, policy
        parts = [f"{method} {path}".strip()]
        if status is not None:
            parts.append(f"HTTP {status}")
        if category:
            parts.append(category)
        text = " · ".join(p for p in parts if p) + f": {message}"
        if correlation_id:
            text += f" (correlation id {correlation_id})"
        super().__init__(text)


class DailyLimitReached(HubSpotError):
    """The account's daily budget is spent: retrying before HubSpot's midnight only adds errors."""


class RateLimited(HubSpotError):
    """HubSpot kept answering 429 for longer than one request may wait
    (HUBSPOT_RATE_LIMIT_DEADLINE_SECONDS): the run fails and the next one resumes from its cursor."""


class RateBudget:
    """Requests at most `per_second` a second, spaced evenly (a token bucket of one token, so a
    burst can never exceed HubSpot's rolling windows). `slow_down` after a 429 halves the rate
    (down to a floor); `succeeded` climbs back toward the configured rate after runs of successes;
    `pause` holds every caller until a window has passed. Thread-safe. A rate of 0 means no limit:
    no spacing and no slowing down, but pauses still hold (HubSpot said the window is spent)."""

    def __init__(self, per_second: float, *, clock: Callable[[], float], sleep: Callable[[float], None]):
        self.per_second = per_second  # as configured
        self.rate = per_second  # as used now: lower for a while after a 429
        self._clock, self._sleep = clock, sleep
        self._next_at = 0.0
        self._successes = 0
        self._lock = threading.Lock()

    @property
    def interval(self) -> float:
        return 1.0 / self.rate if self.rate > 0 else 0.0

    def wait(self) -> None:
        with self._lock:
            now = self._clock()
            start = max(now, self._next_at)
            self._next_at = start + self.interval
        if start > now:
            self._sleep(start - now)

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._next_at = max(self._next_at, self._clock() + seconds)

    def slow_down(self) -> None:
        with self._lock:
            self._successes = 0
            if self.per_second > 0:
                self.rate = max(self.rate / 2, min(_SLOW_FLOOR_PER_SECOND, self.per_second))

    def succeeded(self) -> None:
        with self._lock:
            if self.rate >= self.per_second:
                return
            self._successes += 1
            if self._successes >= _RECOVER_AFTER_SUCCESSES:
                self._successes = 0
                self.rate = min(self.per_second, self.rate + self.per_second * _RECOVER_STEP)


@dataclass
class Page:
    results: list[dict]
    next_after: str | None
    total: int | None = None


@dataclass
class ClientStats:
    requests: int = 0
    retries: int = 0  # every request sent again, after a 429 or a failure
    sleeps: list[float] = field(default_factory=list)
    rate_limited: int = 0  # 429s received, DAILY included
    waited_seconds: float = 0.0  # slept on 429s


class HubSpotClient:
    def __init__(
        self,
        *,
        base_url: str | None = None,
        token: str | None = None,
        objects_path: str | None = None,
        requests_per_second: float | None = None,
        search_requests_per_second: float | None = None,
        max_attempts: int | None = None,
        timeout: float | None = None,
        rate_limit_deadline: float | None = None,
        heartbeat: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = (base_url or settings.HUBSPOT_API_BASE).rstrip("/")
        self.objects_path = (objects_path or settings.HUBSPOT_OBJECTS_PATH).rstrip("/")
        self.token = token if token is not None else settings.HUBSPOT_ACCESS_TOKEN
        self.max_attempts = max_attempts or settings.HUBSPOT_MAX_ATTEMPTS
        self.timeout = timeout or settings.HUBSPOT_TIMEOUT_SECONDS
        self.rate_limit_deadline = (
            settings.HUBSPOT_RATE_LIMIT_DEADLINE_SECONDS
            if rate_limit_deadline is None
            else rate_limit_deadline
        )
        # Settable after construction: the sync points it at its lock renewal for each run.
        self.heartbeat = heartbeat
        self.stats = ClientStats()
        self._sleep_fn, self._jitter = sleep, jitter
        general = settings.HUBSPOT_REQUESTS_PER_SECOND if requests_per_second is None else requests_per_second
        search = (
            settings.HUBSPOT_SEARCH_REQUESTS_PER_SECOND
            if search_requests_per_second is None
            else search_requests_per_second
        )
        self._general = RateBudget(general, clock=clock, sleep=self._sleep)
        self._search = RateBudget(search, clock=clock, sleep=self._sleep)
        # The rolling window's length as HubSpot last announced it (429 answers do not say).
        self._window_seconds = _POLICY_WAIT[TEN_SECONDLY]
        self.session = session or requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {self.token}", "Accept": "application/json"})

    # --- the one request path -------------------------------------------------------------
    def request(
        self, method: str, path: str, *, params: dict | None = None, json: Any = None, search: bool = False
    ) -> dict:
        """One API call with the budgets and the retry policy; the parsed JSON body."""
        url = self.base_url + path
        failures = 0  # 5xx, 423, 477, timeouts: at most max_attempts tries
        refusals, waited = 0, 0.0  # 429s: bounded by the time waited on them instead
        while True:
            # Search has its own per-second limit and also counts toward the general one.
            if search:
                self._search.wait()
            self._general.wait()
            self._beat()
            self.stats.requests += 1
            try:
                response = self.session.request(method, url, params=params, json=json, timeout=self.timeout)
            except (requests.Timeout, requests.ConnectionError) as exc:
                failures += 1
                if failures >= self.max_attempts:
                    raise HubSpotError(
                        f"no answer after {failures} attempts ({type(exc).__name__})",
                        method=method,
                        path=path,
                    ) from exc
                self._retry(self._backoff(failures), method, path, f"{type(exc).__name__}")
                continue
            self._heed_rate_headers(response)
            if response.status_code < 400:
                self._general.succeeded()
                if search:
                    self._search.succeeded()
                return response.json() if response.content else {}
            error = self._error(response, method, path)
            if response.status_code == 429:
                self.stats.rate_limited += 1
                if isinstance(error, DailyLimitReached):
                    raise error
                refusals += 1
                wait = self._rate_limit_wait(response, error)
                # The budget that was hit sends slower from now on, for this and later requests.
                (self._search if search and error.policy == SECONDLY else self._general).slow_down()
                if waited + wait > self.rate_limit_deadline:
                    raise RateLimited(
                        f"still rate limited ({error.policy or 'no policy named'}) after waiting "
                        f"{waited:g} s through {refusals} 429s; the next wait ({wait:g} s) would pass "
                        f"the {self.rate_limit_deadline:g} s deadline",
                        method=method,
                        path=path,
                        status=429,
                        category=error.category,
                        correlation_id=error.correlation_id,
                        policy=error.policy,
                    ) from error
                waited += wait
                self.stats.waited_seconds += wait
                self._retry(wait, method, path, str(error), error)
                continue
            failures += 1
            wait = self._retry_wait(response, failures)
            if wait is None or wait > _MAX_WAIT_SECONDS or failures >= self.max_attempts:
                raise error
            self._retry(wait, method, path, str(error), error)

    def _retry(
        self, wait: float, method: str, path: str, reason: str, error: HubSpotError | None = None
    ) -> None:
        self.stats.retries += 1
        logger.warning(
            "hubspot.retry",
            extra={
                "method": method,
                "path": path,
                "wait": wait,
                "reason": reason,
                "status": error.status if error else None,
                "policy": error.policy if error else "",
                "correlation_id": error.correlation_id if error else "",
            },
        )
        self._sleep(wait)

    def _sleep(self, seconds: float) -> None:
        self.stats.sleeps.append(seconds)
        if seconds <= _HEARTBEAT_SECONDS:
            self._sleep_fn(seconds)
            return
        pieces = math.ceil(seconds / _HEARTBEAT_SECONDS)
        for piece in range(pieces):
            self._beat()
            last = piece == pieces - 1
            self._sleep_fn(seconds - _HEARTBEAT_SECONDS * piece if last else _HEARTBEAT_SECONDS)

    def _beat(self) -> None:
        # Whatever it raises (the caller's lock is gone) ends the request: carrying on would sync
        # beside the run that now holds the lock.
        if self.heartbeat is not None:
            self.heartbeat()

    def _backoff(self, attempt: int) -> float:
        # Exponential with full jitter on top, so parallel workers do not retry in lockstep.
        base = min(_BACKOFF_BASE_SECONDS * 2 ** (attempt - 1), _BACKOFF_MAX_SECONDS)
        return base + base * self._jitter()

    def _rate_limit_wait(self, response: requests.Response, error: HubSpotError) -> float:
        """How long a 429 asks us to wait: the refusing policy's window. Not longer with each
        429 (as HubSpot's Node SDK does): a rolling window one interval after the refusal holds
        none of what it counted then, and the deadline bounds a burst that does not end."""
        # Retry-After is undocumented for HubSpot's API: honour it when present.
        wait = _retry_after_seconds(response)
        if wait is None:
            wait = _POLICY_WAIT[SECONDLY] if error.policy == SECONDLY else self._window_seconds
        return max(wait, _RATE_LIMIT_MIN_WAIT)

    def _heed_rate_headers(self, response: requests.Response) -> None:
        """Learn the rolling window's length, and pause the general budget for a whole window when
        HubSpot says it is (all but) spent, instead of running into the 429."""
        interval_ms = _header_number(response, "X-HubSpot-RateLimit-Interval-Milliseconds")
        if interval_ms and interval_ms > 0:
            self._window_seconds = interval_ms / 1000
        remaining = _header_number(response, "X-HubSpot-RateLimit-Remaining")
        if remaining is not None and remaining <= _REMAINING_LOW:
            # A whole interval frees every slot of a rolling window, whenever they were used.
            logger.info("hubspot.window_spent", extra={"remaining": remaining, "wait": self._window_seconds})
            self._general.pause(self._window_seconds)

    def _retry_wait(self, response: requests.Response, attempt: int) -> float | None:
        """How long to wait before another try after a failure, or None when trying again cannot
        help (429s are not failures: see `request`)."""
        status = response.status_code
        if status not in _RETRY_STATUSES:
            return None
        retry_after = _retry_after_seconds(response)
        if retry_after is not None:
            return retry_after
        if status == 423:
            return max(_LOCKED_MIN_SECONDS, self._backoff(attempt))
        return self._backoff(attempt)

    @staticmethod
    def _error(response: requests.Response, method: str, path: str) -> HubSpotError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        # Every field of HubSpot's error body is optional.
        category = body.get("category") or body.get("errorType") or ""
        message = body.get("message") or response.reason or "error"
        details = [e.get("message", "") for e in body.get("errors") or [] if isinstance(e, dict)]
        if details:
            message += " — " + "; ".join(d for d in details if d)
        policy = body.get("policyName") or ""
        kind = DailyLimitReached if response.status_code == 429 and policy == DAILY else HubSpotError
        return kind(
            message,
            method=method,
            path=path,
            status=response.status_code,
            category=category,
            correlation_id=body.get("correlationId") or response.headers.get("X-HubSpot-Correlation-Id", ""),
            policy=policy,
        )

    # --- endpoints ------------------------------------------------------------------------
    def list_page(
        self,
        object_type: str,
        *,
        properties: Iterable[str],
        after: str | None = None,
        archived: bool = False,
        associations: Iterable[str] = (),
        properties_with_history: Iterable[str] = (),
    ) -> Page:
        """One page of GET /objects/{type} (no 10,000 cap; 50 a page when history is asked)."""
        history = list(properties_with_history)
        params: dict[str, Any] = {
            "limit": HISTORY_PAGE_MAX if history else LIST_PAGE_MAX,
            "properties": ",".join(properties),
            "archived": "true" if archived else "false",
        }
        if history:
            params["propertiesWithHistory"] = ",".join(history)
        if associations:
            params["associations"] = ",".join(associations)
        if after:
            params["after"] = after
        body = self.request("GET", f"{self.objects_path}/{object_type}", params=params)
        return Page(body.get("results", []), _next_after(body))

    def search_page(
        self,
        object_type: str,
        *,
        filters: list[dict],
        sort: dict,
        properties: Iterable[str],
        after: int = 0,
        limit: int = SEARCH_PAGE_MAX,
    ) -> Page:
        """One page of POST /objects/{type}/search; `after` is an offset below 10,000."""
        body = {
            "filterGroups": [{"filters": filters}],
            "sorts": [sort],
            "properties": list(properties),
            "limit": limit,
            "after": str(after),
        }
        answer = self.request("POST", f"{self.objects_path}/{object_type}/search", json=body, search=True)
        return Page(answer.get("results", []), _next_after(answer), answer.get("total"))

    def batch_read(
        self,
        object_type: str,
        ids: Iterable[str],
        *,
        properties: Iterable[str],
        properties_with_history: Iterable[str] = (),
        archived: bool = False,
    ) -> list[dict]:
        """Records by id (100 a request, 50 with history). Ids HubSpot no longer has are left out."""
        history = list(properties_with_history)
        size = HISTORY_PAGE_MAX if history else BATCH_READ_MAX
        ids = list(dict.fromkeys(ids))
        results: list[dict] = []
        for start in range(0, len(ids), size):
            body: dict[str, Any] = {
                "inputs": [{"id": i} for i in ids[start : start + size]],
                "properties": list(properties),
            }
            if history:
                body["propertiesWithHistory"] = history
            params = {"archived": "true"} if archived else None
            answer = self.request(
                "POST", f"{self.objects_path}/{object_type}/batch/read", json=body, params=params
            )
            results.extend(answer.get("results", []))
        return results

    def associations(self, from_type: str, to_type: str, ids: Iterable[str]) -> dict[str, list[str]]:
        """Associated record ids per input id (v4 batch read: 1,000 inputs a request, paged per input)."""
        found: dict[str, list[str]] = {}
        pending = [{"id": i} for i in dict.fromkeys(ids)]
        for i in pending:
            found[i["id"]] = []
        while pending:
            chunk, pending = pending[:ASSOCIATIONS_BATCH_MAX], pending[ASSOCIATIONS_BATCH_MAX:]
            answer = self.request(
                "POST", f"{self.associations_path}/{from_type}/{to_type}/batch/read", json={"inputs": chunk}
            )
            for result in answer.get("results", []):
                from_id = str(result["from"]["id"])
                found.setdefault(from_id, []).extend(str(to["toObjectId"]) for to in result.get("to", []))
                after = _next_after(result)
                if after:
                    pending.append({"id": from_id, "after": after})
        return found

    @property
    def associations_path(self) -> str:
        # v4 associations sit beside v3 objects; date-based paths keep one version for all.
        return self._sibling("associations").replace("/v3/", "/v4/")

    def _sibling(self, kind: str) -> str:
        """The path of another CRM API in the objects path's version:
        /crm/v3/objects -> /crm/v3/owners, /crm/objects/2026-03 -> /crm/owners/2026-03."""
        head, _, tail = self.objects_path.rpartition("objects")
        return f"{head}{kind}{tail}"

    def owners_page(self, *, after: str | None = None, archived: bool = False) -> Page:
        params: dict[str, Any] = {"limit": LIST_PAGE_MAX, "archived": "true" if archived else "false"}
        if after:
            params["after"] = after
        body = self.request("GET", self._sibling("owners"), params=params)
        return Page(body.get("results", []), _next_after(body))

    def pipelines(self, object_type: str) -> list[dict]:
        return self.request("GET", f"{self._sibling('pipelines')}/{object_type}").get("results", [])

    def property_options(self, object_type: str, name: str) -> list[dict]:
        return self.request("GET", f"{self._sibling('properties')}/{object_type}/{name}").get("options", [])

    def pages(self, fetch: Callable[[str | None], Page], after: str | None = None) -> Iterator[Page]:
        """Every page of a cursor-paged endpoint, starting at `after`, one at a time (never all
        in memory at once)."""
        while True:
            page = fetch(after)
            yield page
            after = page.next_after
            if not after:
                return


def _next_after(body: dict) -> str | None:
    after = ((body.get("paging") or {}).get("next") or {}).get("after")
    return str(after) if after not in (None, "") else None


def _retry_after_seconds(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None


def _header_number(response: requests.Response, name: str) -> float | None:
    try:
        return float(response.headers[name])
    except (KeyError, ValueError):
        return None
