"""A loopback fake of the Anthropic Messages API for tests.

It speaks the wire format the `anthropic` SDK expects (POST /v1/messages, JSON Message or error
bodies, `request-id` and `retry-after` headers), so tests drive the real SDK through
settings.ANTHROPIC_BASE_URL instead of mocking it (respx cannot intercept the SDK's httpx2).

    with FakeAnthropic() as fake:
        fake.reply("Hi Ali, ...", delay=0.3)      # or fake.fail(429), fake.overloaded(), fake.malformed()
        ...
        fake.requests[0].system, fake.requests[0].user_text, fake.requests[0].headers

Every request is recorded, including rejected ones, so "made no request" is a real assertion.
"""

import itertools
import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# error.type per HTTP status, as documented at https://platform.claude.com/docs/en/api/errors
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    raw_body: bytes
    body: Any  # parsed JSON, or None when the body was not JSON

    @property
    def model(self) -> str | None:
        return self.body.get("model") if isinstance(self.body, dict) else None

    @property
    def system(self) -> str:
        system = self.body.get("system", "") if isinstance(self.body, dict) else ""
        return _text_of(system)

    @property
    def user_text(self) -> str:
        """The text of every user turn, joined."""
        messages = self.body.get("messages", []) if isinstance(self.body, dict) else []
        return "\n".join(_text_of(m.get("content", "")) for m in messages if m.get("role") == "user")


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(block.get("text", "") for block in content if isinstance(block, dict))


@dataclass(frozen=True)
class FakeResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Behaviour = Callable[[ReceivedRequest, int], FakeResponse]


def _json(
    status: int, payload: Any, headers: dict[str, str] | None = None, delay: float = 0.0
) -> FakeResponse:
    return FakeResponse(
        status, json.dumps(payload).encode(), {"content-type": "application/json", **(headers or {})}, delay
    )


def error_response(
    status: int, *, message: str = "", error_type: str | None = None, headers: dict[str, str] | None = None
) -> FakeResponse:
    error_type = error_type or ERROR_TYPES.get(status, "api_error")
    body = {
        "type": "error",
        "error": {"type": error_type, "message": message or error_type.replace("_", " ")},
        "request_id": "req_fake_error",
    }
    return _json(status, body, headers)


class FakeAnthropic:
    """A Messages API on 127.0.0.1:<free port>, in a background thread, one behaviour at a time."""

    def __init__(self, *, api_key: str = "test-key") -> None:
        self.api_key = api_key
        self.requests: list[ReceivedRequest] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._counter = itertools.count(1)
        self._in_flight = 0
        self._behaviour: Behaviour = self._reply_behaviour(None, 0.0, "end_turn")
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})

    # --- lifecycle ----------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FakeAnthropic":
        self._thread.start()
        return self

    def close(self) -> None:
        # Wakes slow answers, which then reply 529 with x-should-retry: false, so no client
        # thread from this test outlives it with a success it could cache.
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "FakeAnthropic":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- behaviours -----------------------------------------------------------------------
    def reply(
        self,
        text: str | Callable[[ReceivedRequest], str] | None = None,
        *,
        delay: float = 0.0,
        stop_reason: str = "end_turn",
    ) -> None:
        """Answer with a Message whose only content block is `text` (or `text(request)`)."""
        self._behaviour = self._reply_behaviour(text, delay, stop_reason)

    def slow(self, seconds: float, text: str | Callable[[ReceivedRequest], str] | None = None) -> None:
        self.reply(text, delay=seconds)

    def fail(
        self, status: int, *, error_type: str | None = None, retry_after: float | None = 0.0, **error: Any
    ) -> None:
        """Answer every request with a documented error body. `retry-after` (seconds) is sent
        with `retry-after-ms` so the SDK's one retry waits only that long."""
        headers = {"request-id": "req_fake_error"}
        if retry_after is not None:
            headers["retry-after"] = str(math.ceil(retry_after))
            headers["retry-after-ms"] = str(max(int(retry_after * 1000), 1))
        response = error_response(status, error_type=error_type, headers=headers)
        if error:
            payload = json.loads(response.body)
            payload["error"].update(error)
            response = _json(status, payload, response.headers)
        self._behaviour = lambda request, n: response

    def rate_limited(self, *, retry_after: float = 0.0) -> None:
        self.fail(429, retry_after=retry_after)

    def server_error(self) -> None:
        self.fail(500)

    def overloaded(self) -> None:
        self.fail(529)

    def malformed(self, kind: str = "not_json") -> None:
        """200 with a body the SDK cannot use: "not_json", or "wrong_shape" (JSON, not a Message)."""
        if kind == "not_json":
            response = FakeResponse(
                200, b'{"type": "message", "content": [', {"content-type": "application/json"}
            )
        else:
            response = _json(200, {"hello": "world", "content": "not a list"})
        self._behaviour = lambda request, n: response

    def respond_with(self, behaviour: Behaviour) -> None:
        """Full control: behaviour(request, request_number) -> FakeResponse."""
        self._behaviour = behaviour

    # --- inspection -----------------------------------------------------------------------
    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until no request is being answered (for tests that let a client outlive a budget)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._in_flight == 0:
                    return True
            time.sleep(0.01)
        return False

    # --- internals --------------------------------------------------------------------------
    @staticmethod
    def _reply_behaviour(
        text: str | Callable[[ReceivedRequest], str] | None, delay: float, stop_reason: str
    ) -> Behaviour:
        def behaviour(request: ReceivedRequest, n: int) -> FakeResponse:
            if text is None:
                answer = f"AI draft {n}: hope you are well, when suits you for a quick chat?"
            else:
                answer = text(request) if callable(text) else text
            message = {
                "id": f"msg_fake{n:06d}",
                "type": "message",
                "role": "assistant",
                "model": request.model,
                "content": [{"type": "text", "text": answer}],
                "stop_reason": stop_reason,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": max(len(request.raw_body) // 4, 1),
                    "output_tokens": max(len(answer) // 4, 1),
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0,
                },
            }
            return _json(200, message, {"request-id": f"req_fake{n:06d}"}, delay)

        return behaviour

    def _answer(self, request: ReceivedRequest) -> FakeResponse:
        with self._lock:
            self.requests.append(request)
            n = next(self._counter)
        if request.method != "POST" or request.path.split("?")[0] != "/v1/messages":
            return error_response(404, message=f"{request.method} {request.path} not found")
        presented = request.headers.get("x-api-key") or request.headers.get("authorization", "").removeprefix(
            "Bearer "
        )
        if presented != self.api_key:
            return error_response(401, message="invalid x-api-key")
        if "anthropic-version" not in request.headers:
            return error_response(400, message="anthropic-version header is required")
        body = request.body
        if not (
            isinstance(body, dict) and body.get("model") and body.get("max_tokens") and body.get("messages")
        ):
            return error_response(400, message="model, max_tokens and messages are required")
        try:
            return self._behaviour(request, n)
        except Exception as exc:  # a broken test behaviour shows up as an answer, not a hung client
            return error_response(500, message=f"fake behaviour raised {exc!r}")

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        request = ReceivedRequest(
            method=handler.command,
            path=handler.path,
            headers={k.lower(): v for k, v in handler.headers.items()},
            raw_body=raw,
            body=parsed,
        )
        with self._lock:
            self._in_flight += 1
        try:
            response = self._answer(request)
            if response.delay and self._closing.wait(response.delay):
                response = error_response(529, headers={"x-should-retry": "false"})
            handler.send_response(response.status)
            for name, value in response.headers.items():
                handler.send_header(name, value)
            handler.send_header("content-length", str(len(response.body)))
            handler.end_headers()
            handler.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout); nothing to answer
        finally:
            with self._lock:
                self._in_flight -= 1


def _handler_for(fake: FakeAnthropic) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            fake._handle(self)

        do_GET = do_PUT = do_DELETE = do_POST

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    return Handler
