"""A loopback fake of HubSpot's CRM API for tests and the benchmark.

A real HTTP server in a thread speaking HubSpot's documented wire format, so the real client
(`hubspot_sync.client`) is exercised through settings.HUBSPOT_API_BASE:

- GET  /crm/v3/objects/{type}            list: limit <= 100 (50 with propertiesWithHistory),
                                         `archived`, `associations`; `paging.next.after` is an
                                         id cursor, as HubSpot's: a page holds the records whose
                                         id >= after, and next.after = its last id + 1. Records
                                         archived or created between pages never shift a page.
                                         Archived records carry `archivedAt`.
- POST /crm/v3/objects/{type}/search     filterGroups / sorts / after / limit <= 200; archived
                                         records never appear; paging past 10,000 answers 400
- POST /crm/v3/objects/{type}/batch/read <= 100 inputs (50 with propertiesWithHistory)
- POST /crm/v4/associations/{from}/{to}/batch/read  <= 1,000 inputs, paged per input
- GET  /crm/v3/owners, /crm/v3/pipelines/deals, /crm/v3/properties/{type}/{name}
- rate limits: 100 requests per rolling 10 s (TEN_SECONDLY_ROLLING) and 5 searches a second
  (SECONDLY), judged on an injectable clock; 429 bodies carry policyName; answers other than
  search carry X-HubSpot-RateLimit-Max / -Remaining / -Interval-Milliseconds. Scripted failures
  (any status, DAILY 429s, Retry-After, slow answers) for the retry paths.
- fault injection (`fake.faults = Faults(...)`, or `Faults.from_seed`): a 5xx every Nth request,
  429 bursts longer than a client's retries, answers slower than a client's timeout. Faults are
  counted on the requests that reach them, so a plan replays the same way for the same requests.

Every request is recorded (`fake.requests`), including rejected ones. `fake.rate_limited` holds
only what the fake's own limiter refused (a client that keeps to HubSpot's limits leaves it
empty); scripted 429s are not in it, and injected faults are recorded in `fake.injected`.
"""

import bisect
import json
import random
import socket
import sys
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

OBJECT_TYPES = ("contacts", "deals", "calls", "tasks")
MODIFIED = {
    "contacts": "lastmodifieddate",
    "deals": "hs_lastmodifieddate",
    "calls": "hs_lastmodifieddate",
    "tasks": "hs_lastmodifieddate",
}
CREATED = {
    "contacts": "createdate",
    "deals": "createdate",
    "calls": "hs_createdate",
    "tasks": "hs_createdate",
}
# HUBSPOT_DEFINED association type ids (hubspot-api-python association_type.py).
ASSOCIATION_TYPE_IDS = {
    ("deals", "contacts"): 3,
    ("contacts", "deals"): 4,
    ("contacts", "calls"): 193,
    ("calls", "contacts"): 194,
    ("contacts", "tasks"): 203,
    ("tasks", "contacts"): 204,
}
DEFAULT_PIPELINES = [
    {
        "id": "default",
        "label": "Sales Pipeline",
        "stages": [
            {
                "id": "appointmentscheduled",
                "label": "Appointment Scheduled",
                "metadata": {"isClosed": "false", "probability": "0.2"},
            },
            {
                "id": "qualifiedtobuy",
                "label": "Qualified To Buy",
                "metadata": {"isClosed": "false", "probability": "0.4"},
            },
            {
                "id": "closedwon",
                "label": "Closed Won",
                "metadata": {"isClosed": "true", "probability": "1.0"},
            },
            {
                "id": "closedlost",
                "label": "Closed Lost",
                "metadata": {"isClosed": "true", "probability": "0.0"},
            },
        ],
    },
    {
        "id": "7001",
        "label": "Renewals",
        "stages": [
            {"id": "1100", "label": "Renewal due", "metadata": {"isClosed": "false", "probability": "0.5"}},
            {"id": "1101", "label": "Renewed", "metadata": {"isClosed": "true", "probability": "1.0"}},
        ],
    },
]
# Default outcomes plus a portal's custom one.
DEFAULT_DISPOSITION_OPTIONS = [
    {"label": "Connected", "value": "f240bbac-87c9-4f6e-bf70-924b57d47db7"},
    {"label": "No answer", "value": "73a0d17f-1163-4015-bdd5-ec830791da20"},
    {"label": "Left voicemail", "value": "b2cf5968-551e-4856-9783-52b3da59a7d0"},
    {"label": "Left live message", "value": "a4c4c377-d246-4b32-a13b-75a56a4cd0ff"},
    {"label": "Busy", "value": "9d9162e7-6cf3-4944-bf63-4dff82258764"},
    {"label": "Wrong number", "value": "17b47fee-58de-441e-a44c-c6300d46f273"},
    {"label": "Meeting booked", "value": "5e1ac2a8-0c7c-4a43-b7a4-4c6a1d7e2b90"},
]
SEARCH_MAX_RESULTS = 10_000


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class Scripted:
    """A canned answer for the next `times` requests that `match`."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    match: Callable[[Received], bool] = lambda request: True
    times: int = 1
    delay: float = 0.0


@dataclass
class RateLimitBurst:
    """TEN_SECONDLY_ROLLING 429s for every request from the one after `after_requests` (counted
    as Faults counts them): `requests` of them, or for `seconds` of the fake's clock from the
    first one. HubSpot answers so when other apps of the portal spend its budget; a burst longer
    than a client's retries (4 attempts waiting 10, 20, 30 s: 60 s) outlasts them."""

    after_requests: int
    requests: int = 0
    seconds: float = 0.0
    served: int = 0
    started_at: float | None = None

    def active(self, count: int, now: float) -> bool:
        if count <= self.after_requests:
            return False
        if self.requests:
            return self.served < self.requests
        if self.started_at is None:
            self.started_at = now
        return now < self.started_at + self.seconds


@dataclass
class Faults:
    """Faults injected into otherwise normal answers, for chaos tests.

    Requests are numbered 1, 2, ... as they reach the faults (authorised, not scripted): request
    n answers `server_error_status` when (n + phase) is a multiple of `server_error_every`, and
    is answered `slow_seconds` late when (n + phase) is a multiple of `slow_every`. Bursts take
    precedence and are not counted by the rate limiter (a refused request spends no budget); 5xx
    and slow answers are (HubSpot saw them)."""

    server_error_every: int = 0
    server_error_status: int = 502
    slow_every: int = 0
    slow_seconds: float = 0.4
    phase: int = 0
    bursts: list[RateLimitBurst] = field(default_factory=list)
    enabled: bool = True

    @classmethod
    def from_seed(
        cls,
        seed: int,
        *,
        server_errors: bool = False,
        slow: bool = False,
        slow_seconds: float = 0.4,
    ) -> "Faults":
        """A plan drawn from the seed: a 5xx every 6th to 9th request, a slow answer every 14th to
        18th (never two faults in a row often enough to exhaust 4 attempts). Bursts are added
        with `burst` where a test wants them."""
        rng = random.Random(seed)
        return cls(
            server_error_every=rng.randint(6, 9) if server_errors else 0,
            server_error_status=rng.choice([500, 502, 503, 504]),
            slow_every=rng.randint(14, 18) if slow else 0,
            slow_seconds=slow_seconds,
            phase=rng.randrange(6),
        )

    def burst(self, *, after_requests: int, requests: int = 0, seconds: float = 0.0) -> RateLimitBurst:
        burst = RateLimitBurst(after_requests, requests=requests, seconds=seconds)
        self.bursts.append(burst)
        return burst

    def due(self, every: int, count: int) -> bool:
        """Whether request `count` gets the fault that comes every `every` requests."""
        return bool(every) and (count + self.phase) % every == 0


@dataclass(frozen=True)
class Injected:
    """A fault the fake injected: "429", "5xx" or "slow"."""

    kind: str
    request: Received
    at: float


class Store:
    """Records in memory: {type: {id: record}}, associations both ways, owners."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, dict]] = {t: {} for t in OBJECT_TYPES}
        self.associations: dict[tuple[str, str], dict[str, list[str]]] = defaultdict(
            lambda: defaultdict(list)
        )
        self.owners: dict[str, dict] = {}

    def ids(self, object_type: str, archived: bool) -> Sequence[str]:
        records = self.objects[object_type]
        return sorted((i for i, r in records.items() if r["archived"] == archived), key=int)

    def get(self, object_type: str, record_id: str) -> dict | None:
        return self.objects[object_type].get(record_id)

    def associated(self, from_type: str, record_id: str, to_type: str) -> list[str]:
        return list(self.associations[(from_type, to_type)].get(record_id, []))

    def owner_list(self, archived: bool) -> list[dict]:
        return [
            o for _, o in sorted(self.owners.items(), key=lambda kv: int(kv[0])) if o["archived"] == archived
        ]


class FakeHubSpot:
    def __init__(
        self,
        *,
        token: str = "test-token",
        store: Store | None = None,
        clock: Callable[[], float] = time.monotonic,
        ten_secondly_limit: int | None = 100,
        search_per_second: int | None = 5,
        association_page_size: int = 500,
    ) -> None:
        self.token = token
        self.store = store or Store()
        self.clock = clock
        self.ten_secondly_limit = ten_secondly_limit
        self.search_per_second = search_per_second
        self.association_page_size = association_page_size
        self.requests: list[Received] = []
        self.rate_limited: list[Received] = []
        self.scripted: list[Scripted] = []
        self.faults: Faults | None = None
        self.injected: list[Injected] = []
        self.fault_requests = 0  # requests numbered by the faults so far
        self._recent: deque[float] = deque()
        self._recent_search: deque[float] = deque()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})

    # --- lifecycle ------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> "FakeHubSpot":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # --- data ------------------------------------------------------------------------------------
    def add_owner(
        self,
        owner_id: str,
        *,
        email: str = "",
        first: str = "",
        last: str = "",
        archived: bool = False,
        team: str = "",
    ) -> dict:
        owner = {
            "id": owner_id,
            "email": email or f"owner{owner_id}@example.com",
            "type": "PERSON",
            "firstName": first,
            "lastName": last,
            "userId": int(owner_id) + 1,
            "userIdIncludingInactive": int(owner_id) + 1,
            "createdAt": "2024-01-01T00:00:00.000Z",
            "updatedAt": "2024-01-01T00:00:00.000Z",
            "archived": archived,
            "teams": [{"id": "1", "name": team, "primary": True}] if team else [],
        }
        self.store.owners[owner_id] = owner
        return owner

    def put(
        self,
        object_type: str,
        record_id: str,
        *,
        modified: datetime,
        created: datetime | None = None,
        contacts: Sequence[str] = (),
        history_source: str = "CRM_UI",
        **properties: Any,
    ) -> dict:
        """Create or change a record as HubSpot would: every property a string, the modified date
        moved, and hubspot_owner_id changes appended to its history."""
        record = self.store.objects[object_type].get(record_id)
        created = created or modified
        if record is None:
            record = {
                "id": record_id,
                "properties": {CREATED[object_type]: iso(created), "hs_object_id": record_id},
                "createdAt": iso(created),
                "updatedAt": iso(modified),
                "archived": False,
                "history": {},
            }
            if object_type == "contacts":
                record["properties"]["createdate"] = iso(created)
            self.store.objects[object_type][record_id] = record
        for name, value in properties.items():
            text = None if value is None else str(value)
            if name == "hubspot_owner_id":
                history = record["history"].setdefault(name, [])
                if not history or history[0]["value"] != (text or ""):
                    history.insert(
                        0,
                        {
                            "value": text or "",
                            "timestamp": iso(modified),
                            "sourceType": history_source,
                            "sourceId": "userId:1",
                            "updatedByUserId": 1,
                        },
                    )
            record["properties"][name] = text
        record["properties"][MODIFIED[object_type]] = iso(modified)
        record["updatedAt"] = iso(modified)
        for contact_id in contacts:
            self.associate(object_type, record_id, "contacts", contact_id)
        return record

    def associate(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        forward = self.store.associations[(from_type, to_type)][from_id]
        if to_id not in forward:
            forward.append(to_id)
        backward = self.store.associations[(to_type, from_type)][to_id]
        if from_id not in backward:
            backward.append(from_id)

    def archive(self, object_type: str, record_id: str, *, at: datetime | None = None) -> None:
        """Archive (delete) a record as HubSpot does: its modified date does not move, so search
        (which never returns archived records anyway) cannot tell; only archived lists show it."""
        record = self.store.objects[object_type][record_id]
        record["archived"] = True
        record["archivedAt"] = iso(at or datetime.now(UTC))

    def merge(self, survivor_id: str, merged_id: str, *, at: datetime) -> None:
        """HubSpot's contact merge: the merged-away id disappears (not archived), the survivor
        lists it in hs_merged_object_ids, and associations move to the survivor."""
        self.store.objects["contacts"].pop(merged_id)
        survivor = self.store.objects["contacts"][survivor_id]
        merged = [i for i in (survivor["properties"].get("hs_merged_object_ids") or "").split(";") if i]
        self.put("contacts", survivor_id, modified=at, hs_merged_object_ids=";".join([*merged, merged_id]))
        for (from_type, to_type), table in self.store.associations.items():
            if to_type == "contacts":
                for ids in table.values():
                    if merged_id in ids:
                        ids[ids.index(merged_id)] = survivor_id
            if from_type == "contacts" and merged_id in table:
                for to_id in table.pop(merged_id):
                    if to_id not in table[survivor_id]:
                        table[survivor_id].append(to_id)

    # --- scripted answers --------------------------------------------------------------------------
    def script(
        self, status: int, body: Any = None, *, headers=None, match=None, times: int = 1, delay=0.0
    ) -> None:
        self.scripted.append(
            Scripted(
                status,
                body if body is not None else {},
                headers or {},
                match or (lambda r: True),
                times,
                delay,
            )
        )

    def rate_limit(
        self, policy: str, *, times: int = 1, retry_after: float | None = None, match=None
    ) -> None:
        word = {"TEN_SECONDLY_ROLLING": "ten_secondly_rolling", "SECONDLY": "secondly", "DAILY": "daily"}[
            policy
        ]
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        self.script(429, _rate_limit_body(policy, word), headers=headers, times=times, match=match)

    def fail(self, status: int, *, times: int = 1, match=None, category: str = "") -> None:
        body = {
            "status": "error",
            "message": f"fake failure {status}",
            "correlationId": f"fake-{status}-correlation",
            "category": category or ("INTERNAL_ERROR" if status >= 500 else "VALIDATION_ERROR"),
        }
        self.script(status, body, times=times, match=match)

    # --- answering ----------------------------------------------------------------------------------
    def _answer(self, request: Received) -> tuple[int, Any, dict[str, str], float]:
        delay = 0.0
        with self._lock:
            self.requests.append(request)
            for scripted in self.scripted:
                if scripted.times > 0 and scripted.match(request):
                    scripted.times -= 1
                    return scripted.status, scripted.body, scripted.headers, scripted.delay
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return 401, _error("Authentication credentials not found.", "INVALID_AUTHENTICATION"), {}, 0.0
            faults = self.faults if self.faults is not None and self.faults.enabled else None
            if faults is not None:
                self.fault_requests += 1
                now = self.clock()
                for burst in faults.bursts:
                    if burst.active(self.fault_requests, now):
                        burst.served += 1
                        self.injected.append(Injected("429", request, now))
                        body = _rate_limit_body("TEN_SECONDLY_ROLLING", "ten_secondly_rolling")
                        return 429, body, self._rate_headers(request, remaining=0), 0.0
            limited = self._over_limit(request)
            if limited:
                self.rate_limited.append(request)
                return 429, limited, self._rate_headers(request, remaining=0), 0.0
            headers = self._rate_headers(request)
            if faults is not None:
                if faults.due(faults.server_error_every, self.fault_requests):
                    self.injected.append(Injected("5xx", request, now))
                    status = faults.server_error_status
                    body = {
                        "status": "error",
                        "message": f"injected failure {status}",
                        "correlationId": f"fake-injected-{status}-{self.fault_requests}",
                        "category": "INTERNAL_ERROR",
                    }
                    return status, body, headers, 0.0
                if faults.due(faults.slow_every, self.fault_requests):
                    self.injected.append(Injected("slow", request, now))
                    delay = faults.slow_seconds
        try:
            status, body = self._route(request)
        except _BadRequest as exc:
            status, body = 400, _error(str(exc), "VALIDATION_ERROR")
        return status, body, headers, delay

    def _rate_headers(self, request: Received, *, remaining: int | None = None) -> dict[str, str]:
        """HubSpot's rate-limit headers. Search answers carry none (documented)."""
        if "/search" in request.path or not self.ten_secondly_limit:
            return {}
        if remaining is None:
            remaining = max(self.ten_secondly_limit - len(self._recent), 0)
        return {
            "X-HubSpot-RateLimit-Max": str(self.ten_secondly_limit),
            "X-HubSpot-RateLimit-Remaining": str(remaining),
            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
        }

    def _over_limit(self, request: Received) -> dict | None:
        now = self.clock()
        if "/search" in request.path and self.search_per_second:
            while self._recent_search and self._recent_search[0] <= now - 1.0:
                self._recent_search.popleft()
            if len(self._recent_search) >= self.search_per_second:
                return _rate_limit_body("SECONDLY", "secondly")
            self._recent_search.append(now)
        if self.ten_secondly_limit:
            while self._recent and self._recent[0] <= now - 10.0:
                self._recent.popleft()
            if len(self._recent) >= self.ten_secondly_limit:
                return _rate_limit_body("TEN_SECONDLY_ROLLING", "ten_secondly_rolling")
            self._recent.append(now)
        return None

    def _route(self, request: Received) -> tuple[int, Any]:
        parts = [p for p in request.path.split("/") if p]
        if parts[:3] == ["crm", "v3", "owners"] and request.method == "GET":
            return 200, self._owners(request)
        if parts[:3] == ["crm", "v3", "pipelines"] and request.method == "GET":
            return 200, {"results": DEFAULT_PIPELINES}
        if parts[:3] == ["crm", "v3", "properties"] and parts[3:] == ["calls", "hs_call_disposition"]:
            return 200, {
                "name": "hs_call_disposition",
                "type": "enumeration",
                "options": DEFAULT_DISPOSITION_OPTIONS,
            }
        if parts[:3] == ["crm", "v4", "associations"] and parts[5:] == ["batch", "read"]:
            return 200, self._associations(parts[3], parts[4], request.body)
        if parts[:3] == ["crm", "v3", "objects"] and len(parts) >= 4 and parts[3] in OBJECT_TYPES:
            object_type, rest = parts[3], parts[4:]
            if not rest and request.method == "GET":
                return 200, self._list(object_type, request.query)
            if rest == ["search"] and request.method == "POST":
                return 200, self._search(object_type, request.body)
            if rest == ["batch", "read"] and request.method == "POST":
                return 200, self._batch_read(object_type, request.body, request.query)
        return 404, _error(f"{request.method} {request.path} not found", "OBJECT_NOT_FOUND")

    # --- endpoints -----------------------------------------------------------------------------------
    def _present(
        self,
        object_type: str,
        record: dict,
        properties: list[str],
        history: list[str],
        associations: list[str],
    ) -> dict:
        props = record["properties"]
        shown = {name: props.get(name) for name in properties} if properties else {}
        for name in ("hs_object_id", MODIFIED[object_type], CREATED[object_type]):
            shown[name] = props.get(name)
        result = {
            "id": record["id"],
            "properties": shown,
            "createdAt": record["createdAt"],
            "updatedAt": record["updatedAt"],
            "archived": record["archived"],
        }
        if record["archived"] and record.get("archivedAt"):
            result["archivedAt"] = record["archivedAt"]
        if history:
            result["propertiesWithHistory"] = {
                name: list(record["history"].get(name, [])) for name in history
            }
        for to_type in associations:
            ids = self.store.associated(object_type, record["id"], to_type)
            if ids:
                kind = f"{object_type[:-1]}_to_{to_type[:-1]}"
                result.setdefault("associations", {})[to_type] = {
                    "results": [{"id": i, "type": kind} for i in ids]
                }
        return result

    def _list(self, object_type: str, query: dict[str, list[str]]) -> dict:
        history = _csv(query.get("propertiesWithHistory"))
        maximum = 50 if history else 100
        limit = min(int((query.get("limit") or ["10"])[0]), maximum)
        after = int((query.get("after") or ["0"])[0])
        archived = (query.get("archived") or ["false"])[0] == "true"
        ids = self.store.ids(object_type, archived)
        # An id cursor, not an offset: a record archived (or created) while a client pages cannot
        # shift the records after it onto a page the client has already read.
        start = bisect.bisect_left(ids, after, key=int)
        page = ids[start : start + limit]
        results = [
            self._present(
                object_type,
                self.store.get(object_type, i),
                _csv(query.get("properties")),
                history,
                _csv(query.get("associations")),
            )
            for i in page
        ]
        body: dict[str, Any] = {"results": results}
        if start + limit < len(ids):
            next_after = str(int(page[-1]) + 1)
            body["paging"] = {"next": {"after": next_after, "link": f"?after={next_after}"}}
        return body

    def _search(self, object_type: str, body: dict) -> dict:
        limit = int(body.get("limit", 10))
        after = int(body.get("after") or 0)
        if limit > 200:
            raise _BadRequest("limit must be at most 200")
        if after + limit > SEARCH_MAX_RESULTS:
            raise _BadRequest(
                f"after + limit cannot exceed {SEARCH_MAX_RESULTS} (results past 10,000 are not returned)"
            )
        groups = body.get("filterGroups") or []
        if len(groups) > 5 or any(len(g.get("filters", [])) > 6 for g in groups):
            raise _BadRequest("too many filters")
        sorts = body.get("sorts") or []
        if len(sorts) > 1:
            raise _BadRequest("only one sort is allowed")
        # Archived records never appear in search.
        matches = [
            r
            for i in self.store.ids(object_type, archived=False)
            if _matches(r := self.store.get(object_type, i), groups)
        ]
        if sorts:
            name, descending = sorts[0]["propertyName"], sorts[0].get("direction") == "DESCENDING"
            # Ties keep an order of their own (not by id), as HubSpot's do.
            matches.sort(
                key=lambda r: (_sort_value(r, name), hash(r["id"]) % 9973, r["id"]), reverse=descending
            )
        page = matches[after : after + limit]
        properties = body.get("properties") or []
        answer: dict[str, Any] = {
            "total": len(matches),
            "results": [self._present(object_type, r, properties, [], []) for r in page],
        }
        if after + limit < len(matches):
            answer["paging"] = {"next": {"after": str(after + limit)}}
        return answer

    def _batch_read(self, object_type: str, body: dict, query: dict) -> dict:
        inputs = body.get("inputs") or []
        history = body.get("propertiesWithHistory") or []
        if history and len(inputs) > 50:
            raise _BadRequest(
                "The maximum number of inputs supported in a batch request for property histories is 50"
            )
        if len(inputs) > 100:
            raise _BadRequest("The maximum number of inputs supported in a batch request is 100")
        archived = (query.get("archived") or ["false"])[0] == "true"
        results, errors = [], []
        for item in inputs:
            record = self.store.get(object_type, str(item["id"]))
            if record is None or record["archived"] != archived:
                errors.append(
                    {"status": "error", "category": "OBJECT_NOT_FOUND", "context": {"ids": [item["id"]]}}
                )
                continue
            results.append(self._present(object_type, record, body.get("properties") or [], history, []))
        answer = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": iso(datetime.now(UTC)),
            "completedAt": iso(datetime.now(UTC)),
        }
        if errors:
            answer.update(numErrors=len(errors), errors=errors)
        return answer

    def _associations(self, from_type: str, to_type: str, body: dict) -> dict:
        inputs = body.get("inputs") or []
        if len(inputs) > 1000:
            raise _BadRequest("at most 1000 inputs")
        type_id = ASSOCIATION_TYPE_IDS.get((from_type, to_type), 1)
        results = []
        for item in inputs:
            ids = self.store.associated(from_type, str(item["id"]), to_type)
            if not ids:
                continue
            start = int(item.get("after") or 0)
            page = ids[start : start + self.association_page_size]
            result: dict[str, Any] = {
                "from": {"id": str(item["id"])},
                "to": [
                    {
                        "toObjectId": int(i),
                        "associationTypes": [
                            {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}
                        ],
                    }
                    for i in page
                ],
            }
            if start + self.association_page_size < len(ids):
                result["paging"] = {"next": {"after": str(start + self.association_page_size)}}
            results.append(result)
        return {"status": "COMPLETE", "results": results, "numErrors": 0, "errors": []}

    def _owners(self, request: Received) -> dict:
        limit = min(int((request.query.get("limit") or ["100"])[0]), 500)
        start = int((request.query.get("after") or ["0"])[0])
        archived = (request.query.get("archived") or ["false"])[0] == "true"
        owners = self.store.owner_list(archived)
        body: dict[str, Any] = {"results": owners[start : start + limit]}
        if start + limit < len(owners):
            body["paging"] = {"next": {"after": str(start + limit)}}
        return body

    # --- HTTP plumbing -------------------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        split = urlsplit(handler.path)
        request = Received(
            handler.command,
            split.path,
            parse_qs(split.query),
            {k.lower(): v for k, v in handler.headers.items()},
            parsed,
        )
        status, body, headers, delay = self._answer(request)
        if delay and self._closing.wait(delay):
            return
        payload = json.dumps(body).encode()
        try:
            handler.send_response(status)
            handler.send_header("content-type", "application/json;charset=utf-8")
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.send_header("content-length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client timed out and went away


class _BadRequest(Exception):
    pass


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        # A client that timed out, or whose process was killed, hangs up: not the fake's error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _error(message: str, category: str) -> dict:
    return {
        "status": "error",
        "message": message,
        "correlationId": "fake-correlation-id",
        "category": category,
    }


def _rate_limit_body(policy: str, word: str) -> dict:
    return {
        "status": "error",
        "message": f"You have reached your {word} limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": f"fake-{word}-correlation",
        "policyName": policy,
        "groupName": f"publicapi:fake-{word}:1",
    }


def _csv(values: list[str] | None) -> list[str]:
    return [v for value in values or [] for v in value.split(",") if v]


def _sort_value(record: dict, name: str) -> Any:
    value = record["properties"].get(name)
    if name == "hs_object_id":
        return int(record["id"])
    if value and value[:4].isdigit() and "T" in value:
        return ms(datetime.fromisoformat(value.replace("Z", "+00:00")))
    return value or ""


def _comparable(record: dict, name: str) -> Any:
    if name == "hs_object_id":
        return int(record["id"])
    value = record["properties"].get(name)
    if value and value[:4].isdigit() and "T" in value:
        return ms(datetime.fromisoformat(value.replace("Z", "+00:00")))
    return value


def _matches(record: dict, groups: list[dict]) -> bool:
    if not groups:
        return True
    return any(all(_filter_holds(record, f) for f in group.get("filters", [])) for group in groups)


def _filter_holds(record: dict, spec: dict) -> bool:
    actual = _comparable(record, spec["propertyName"])
    operator = spec["operator"]
    if operator == "HAS_PROPERTY":
        return actual not in (None, "")
    if operator == "NOT_HAS_PROPERTY":
        return actual in (None, "")
    if actual is None:
        return False
    wanted = spec.get("value")
    if isinstance(actual, int):
        wanted = int(wanted)
    return {
        "EQ": lambda: actual == wanted,
        "NEQ": lambda: actual != wanted,
        "GT": lambda: actual > wanted,
        "GTE": lambda: actual >= wanted,
        "LT": lambda: actual < wanted,
        "LTE": lambda: actual <= wanted,
    }[operator]()


def _handler_for(fake: FakeHubSpot) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in two writes; without this, Nagle's algorithm meets the
            # client's delayed ACK and every answer on a kept-alive connection waits ~40 ms.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_GET(self) -> None:
            fake._handle(self)

        do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
