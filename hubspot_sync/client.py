"""The only module that speaks HTTP to HubSpot.

A thin `requests` client over the CRM API: the base URL and the object path come from settings
(HubSpot is moving from /crm/v3/objects to date-based paths such as /crm/objects/2026-03, and
switching is one setting), a private-app token or service key as the bearer token, client-side
budgets under HubSpot's rate limits (a general one and the 5-per-second search one), retries
with backoff for 429 (by policy), 5xx, 423, 477 and timeouts, a cap on attempts, and errors
that say what failed (status, category, correlation id).

The clock and the sleep are injectable so tests prove the limiter and the backoff without
waiting for real seconds.
"""

import logging
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
# Answers worth another try after a pause (HubSpot's error-handling guide).
_RETRY_STATUSES = {423, 477, 500, 502, 503, 504, 521, 523, 524}
_BACKOFF_BASE_SECONDS = 1.0
_BACKOFF_MAX_SECONDS = 60.0
_LOCKED_MIN_SECONDS = 2.0  # 423: "wait at least 2 seconds"
# A longer wait (477 "migration in progress" can ask for hours) ends the run instead of holding a
# worker: the run fails with the error and the next scheduled run resumes from the cursor.
_MAX_WAIT_SECONDS = 120.0


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


class RateBudget:
    """Requests at most `per_second` a second, spaced evenly (a token bucket of one token, so a
    burst can never exceed HubSpot's rolling windows). Thread-safe; 0 means no limit."""

    def __init__(self, per_second: float, *, clock: Callable[[], float], sleep: Callable[[float], None]):
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self._clock, self._sleep = clock, sleep
        self._next_at = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = self._clock()
            start = max(now, self._next_at)
            self._next_at = start + self.interval
        if start > now:
            self._sleep(start - now)


@dataclass
class Page:
    results: list[dict]
    next_after: str | None
    total: int | None = None


@dataclass
class ClientStats:
    requests: int = 0
    retries: int = 0
    sleeps: list[float] = field(default_factory=list)


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
        self.session = session or requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {self.token}", "Accept": "application/json"})

    # --- the one request path -------------------------------------------------------------
    def request(
        self, method: str, path: str, *, params: dict | None = None, json: Any = None, search: bool = False
    ) -> dict:
        """One API call with the budgets and the retry policy; the parsed JSON body."""
        url = self.base_url + path
        for attempt in range(1, self.max_attempts + 1):
            # Search has its own per-second limit and also counts toward the general one.
            if search:
                self._search.wait()
            self._general.wait()
            self.stats.requests += 1
            try:
                response = self.session.request(method, url, params=params, json=json, timeout=self.timeout)
            except (requests.Timeout, requests.ConnectionError) as exc:
                if attempt == self.max_attempts:
                    raise HubSpotError(
                        f"no answer after {attempt} attempts ({type(exc).__name__})", method=method, path=path
                    ) from exc
                self._retry(self._backoff(attempt), method, path, f"{type(exc).__name__}")
                continue
            if response.status_code < 400:
                return response.json() if response.content else {}
            error = self._error(response, method, path)
            wait = self._retry_wait(response, error, attempt)
            if wait is None or wait > _MAX_WAIT_SECONDS or attempt == self.max_attempts:
                raise error
            self._retry(wait, method, path, str(error))
        raise AssertionError("unreachable")  # the loop returns or raises

    def _retry(self, wait: float, method: str, path: str, reason: str) -> None:
        self.stats.retries += 1
        logger.warning(
            "hubspot.retry", extra={"method": method, "path": path, "wait": wait, "reason": reason}
        )
        self._sleep(wait)

    def _sleep(self, seconds: float) -> None:
        self.stats.sleeps.append(seconds)
        self._sleep_fn(seconds)

    def _backoff(self, attempt: int) -> float:
        # Exponential with full jitter on top, so parallel workers do not retry in lockstep.
        base = min(_BACKOFF_BASE_SECONDS * 2 ** (attempt - 1), _BACKOFF_MAX_SECONDS)
        return base + base * self._jitter()

    def _retry_wait(self, response: requests.Response, error: HubSpotError, attempt: int) -> float | None:
        """How long to wait before another try, or None when trying again cannot help."""
        status = response.status_code
        retry_after = _retry_after_seconds(response)
        if status == 429:
            if error.policy == DAILY:
                return None
            # Retry-After is undocumented for HubSpot's API: honour it when present.
            return retry_after if retry_after is not None else _POLICY_WAIT.get(error.policy, 10.0) * attempt
        if status not in _RETRY_STATUSES:
            return None
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
