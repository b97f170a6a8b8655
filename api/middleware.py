"""ASGI middleware: request ids, allowed hosts, body limits and strict JSON, security headers.

Each is plain ASGI (no ``BaseHTTPMiddleware``), so it adds no task per request and sees
the body before FastAPI parses it:

- every request gets an id (``X-Request-ID``, taken from the client when it is short and
  plain, made up otherwise), kept in ``scope["state"]["request_id"]`` for error bodies and
  written on every response and log line;
- a ``Host`` that is not allowed answers 400 (a DNS-rebinding page cannot reach the API);
- a body larger than the limit answers 413 before it is read whole, and a JSON body is
  parsed once here with NaN and Infinity refused (422), so no route ever sees them;
- pages get a Content-Security-Policy, and every answer ``nosniff``.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from api.errors import error_body

__all__ = ["NONCE_TOKEN", "BodyGuard", "RequestContext", "request_id_of"]

log = logging.getLogger("api.access")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_RID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_RID_PREFIX = uuid.uuid4().hex[:20]  # this process's; with the counter, 32 hex digits as a uuid4's
_RID_COUNTER = itertools.count(1)

# Pages load scripts, styles and images from the service only (OpenStreetMap tiles
# excepted); scripts inline in a page run only with the page's nonce.
CSP_PAGE = (
    "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: https://tile.openstreetmap.org https://*.tile.openstreetmap.org; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'self'; form-action 'self'"
)
CSP_API = "default-src 'none'; frame-ancestors 'none'"
# Pages mark their own scripts with this token; each answer swaps in a fresh nonce.
NONCE_TOKEN = "__CSP_NONCE__"


def request_id_of(scope: Scope) -> str:
    """Return the id of the request ``scope`` belongs to ("-" outside a request)."""
    state = scope.get("state") or {}
    return str(state.get("request_id", "-"))


async def _send_json(send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]]) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


def _host_allowed(host_header: str, allowed: frozenset[str]) -> bool:
    if "*" in allowed:
        return True
    host = host_header.strip().lower()
    if host.startswith("["):  # [::1]:8000
        host = host[: host.find("]") + 1] if "]" in host else host
    else:
        host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return host in allowed


class RequestContext:
    """Give each request an id, check its ``Host``, add security headers, log one line.

    Parameters
    ----------
    app
        The wrapped application.
    allowed_hosts
        Host names the service answers to (without port); ``*`` allows any.
    """

    def __init__(self, app: ASGIApp, *, allowed_hosts: list[str]) -> None:
        self.app = app
        self.allowed = frozenset(h.lower() for h in allowed_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one connection scope."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        given = headers.get("x-request-id", "")
        # A request id needs to be unique, not secret: a random per-process prefix and a counter
        # (two uuid4 calls per request were 4 % of the server's time under load).
        rid = given if _RID_RE.match(given) else f"{_RID_PREFIX}{next(_RID_COUNTER):012x}"
        scope.setdefault("state", {})["request_id"] = rid
        rid_header = (b"x-request-id", rid.encode())
        if not _host_allowed(headers.get("host", ""), self.allowed):
            body = error_body(
                400,
                "invalid_host",
                "this service does not answer to that Host header; add it to VENUE_PLANNER_ALLOWED_HOSTS if it is yours.",
                request_id=rid,
            )
            log.warning("%s %s %s -> 400 invalid host %r", rid, scope["method"], scope["path"], headers.get("host"))
            await _send_json(send, 400, body, [rid_header])
            return
        status = 0
        nonce = ""  # an HTML page's script nonce: unpredictable, so made only for pages
        held: Message | None = None  # an HTML answer's start, held until its body is whole
        parts: list[bytes] = []

        async def send_with_headers(message: Message) -> None:
            nonlocal status, held, nonce
            if held is not None and message["type"] == "http.response.body":
                parts.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                body = b"".join(parts).replace(NONCE_TOKEN.encode(), nonce.encode())
                held["headers"] = [(k, v) for k, v in held["headers"] if k.lower() != b"content-length"] + [
                    (b"content-length", str(len(body)).encode())
                ]
                await send(held)
                await send({"type": "http.response.body", "body": body})
                return
            if message["type"] == "http.response.start":
                status = int(message["status"])
                out = list(message.get("headers", []))
                names = {k.lower() for k, _ in out}
                out.append(rid_header)
                if b"x-content-type-options" not in names:
                    out.append((b"x-content-type-options", b"nosniff"))
                ctype = next((v for k, v in out if k.lower() == b"content-type"), b"")
                if ctype.startswith(b"text/html"):
                    nonce = uuid.uuid4().hex
                if b"content-security-policy" not in names:
                    csp = CSP_PAGE.format(nonce=nonce) if ctype.startswith(b"text/html") else CSP_API
                    out.append((b"content-security-policy", csp.encode()))
                    out.append((b"referrer-policy", b"same-origin"))
                message["headers"] = out
                if ctype.startswith(b"text/html"):
                    held = message
                    return
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            log.info("%s %s %s -> %s", rid, scope["method"], scope["path"], status or "error")


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows; send finite numbers only")


TOO_DEEP = (
    "the JSON body is nested deeper than this service parses (about 1,000 levels of arrays and objects); "
    "no request of this API needs more than ten."
)


class BodyGuard:
    """Cap request bodies (413) and refuse JSON that is malformed or holds NaN/Infinity (422).

    Parameters
    ----------
    app
        The wrapped application.
    max_json_bytes
        Largest body of any request that is not a file upload.
    max_upload_bytes
        Largest ``multipart/form-data`` body (imports).
    """

    def __init__(self, app: ASGIApp, *, max_json_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_json = max_json_bytes
        self.max_upload = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one connection scope."""
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        ctype = headers.get("content-type", "").lower()
        limit = self.max_upload if ctype.startswith("multipart/") else self.max_json
        rid = request_id_of(scope)

        async def too_large() -> None:
            body = error_body(
                413,
                "body_too_large",
                f"the request body is larger than {limit:,} bytes, the most this service accepts here"
                + (
                    " (VENUE_PLANNER_MAX_UPLOAD_BYTES)."
                    if limit == self.max_upload
                    else " (VENUE_PLANNER_MAX_BODY_BYTES)."
                ),
                request_id=rid,
            )
            await _send_json(send, 413, body, [(b"connection", b"close")])

        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await too_large()
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await too_large()
                return
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        body = b"".join(chunks)
        if "json" in ctype and body:
            try:
                json.loads(body, parse_constant=_reject_constant)
            except (ValueError, UnicodeDecodeError) as exc:
                msg = str(exc) if "JSON allows" in str(exc) else f"the body is not valid JSON: {exc}"
                await _send_json(send, 422, error_body(422, "invalid_json", msg, request_id=rid), [])
                return
            except RecursionError:
                await _send_json(send, 400, error_body(400, "too_deep", TOO_DEEP, request_id=rid), [])
                return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
