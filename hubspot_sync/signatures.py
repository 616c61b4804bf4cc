"""HubSpot's v3 request signature (webhooks): HMAC-SHA256 over method + URL + body + timestamp.

    X-HubSpot-Signature-v3: base64(HMAC_SHA256(client_secret, method + uri + raw_body + timestamp))
    X-HubSpot-Request-Timestamp: epoch milliseconds; older than 5 minutes is rejected (replays)

The URI is the full URL HubSpot called (scheme, host, path, query), so behind a proxy set
HUBSPOT_WEBHOOK_URL to the public URL.
"""

import base64
import hashlib
import hmac
import time

MAX_AGE_SECONDS = 300


def signature_v3(*, secret: str, method: str, url: str, body: bytes, timestamp: str) -> str:
    source = method.upper().encode() + url.encode() + body + timestamp.encode()
    digest = hmac.new(secret.encode(), source, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signature_problem(
    *,
    secret: str,
    method: str,
    url: str,
    body: bytes,
    timestamp: str,
    signature: str,
    now: float | None = None,
) -> str:
    """Why the request is not HubSpot's, or "" when its signature is good and fresh."""
    if not secret:
        return "webhooks are not configured (HUBSPOT_CLIENT_SECRET is empty)"
    if not signature or not timestamp:
        return "missing X-HubSpot-Signature-v3 or X-HubSpot-Request-Timestamp"
    # Whole milliseconds compared as integers: a float of a 400-digit header overflows (a 500)
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 20:
        return "X-HubSpot-Request-Timestamp is not epoch milliseconds"
    now_ms = int((time.time() if now is None else now) * 1000)
    if abs(now_ms - int(timestamp)) > MAX_AGE_SECONDS * 1000:
        return "request timestamp is more than 5 minutes away (stale or replayed)"
    expected = signature_v3(secret=secret, method=method, url=url, body=body, timestamp=timestamp)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        return "signature does not match"
    return ""
