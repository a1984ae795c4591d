"""Bearer-token authentication for the HTTP API, as a pure ASGI middleware.

Why pure ASGI: Starlette's ``BaseHTTPMiddleware`` wraps every request in extra tasks and
streams, which costs a large share of the budget of a fast GET; this middleware only reads
one header, asks :class:`~twinsight.security.TokenService` (a cached dict lookup), and
either passes the request on untouched or answers itself in the Azure Digital Twins error
format (``{"error": {"code", "message"}}`` plus ``x-ms-error-code``).

Which scope a request needs (scopes nest: admin ⊃ write ⊃ read):

- ``/health``: none (load balancers probe it);
- GET, HEAD, OPTIONS, and ``POST /query`` (a read expressed as a POST): ``read``;
- WebSocket connections (``/streams/ws``): ``read``; the token may also come as
  ``?access_token=`` (there and on ``GET /streams/events``), and a refused WebSocket is
  closed with code 4401/4403;
- anything else under ``/models`` (upload, decommission, delete): ``admin``;
- anything else under ``/webhooks`` (the server would POST data to any URL given): ``admin``;
- every other write (twins, relationships, components, telemetry): ``write``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from twinsight.core.errors import Forbidden, TwinsightError, Unauthorized
from twinsight.security import TokenService

OPEN_PATHS = frozenset({"/health"})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
QUERY_TOKEN_PATHS = frozenset({"/streams/events"})
"""Where ``?access_token=`` is accepted besides WebSockets: a browser's ``EventSource`` and
``WebSocket`` cannot set headers. Tokens in URLs can end up in proxy logs: prefer the header."""


def required_scope(method: str, path: str) -> str | None:
    """The scope a request needs, or ``None`` for open paths."""
    if path in OPEN_PATHS:
        return None
    if method in READ_METHODS or (method == "POST" and path.rstrip("/") == "/query"):
        return "read"
    if path.startswith(("/models/", "/webhooks/")) or path in ("/models", "/webhooks"):
        return "admin"
    return "write"


def _bearer(scope: Scope) -> str | None:
    for key, value in scope["headers"]:
        if key == b"authorization":
            text: str = value.decode("latin-1").strip()
            kind, _, token = text.partition(" ")
            token = token.strip()
            if kind.lower() == "bearer" and token:
                return token
            return None
    return None


def _query_token(scope: Scope) -> str | None:
    if scope["type"] != "websocket" and scope["path"] not in QUERY_TOKEN_PATHS:
        return None
    query: bytes = scope.get("query_string", b"")
    for key, value in parse_qsl(query.decode("latin-1")):
        if key == "access_token" and value:
            return value
    return None


class BearerAuth:
    """Checks ``Authorization: Bearer <token>`` before any route runs."""

    def __init__(self, app: ASGIApp, tokens: TokenService) -> None:
        self.app = app
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        method = scope.get("method", "GET") if scope["type"] == "http" else "GET"
        needed = required_scope(method, scope["path"])
        if needed is None:
            await self.app(scope, receive, send)
            return
        error = self._check(scope, needed)
        if error is None:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            # Accept, then close with 4401/4403 (4000 + the HTTP status): a close before the
            # accept reaches the client only as a bare HTTP 403 that cannot say which problem.
            message = await receive()
            if message["type"] == "websocket.connect":
                await send({"type": "websocket.accept"})
                reason = error.message.encode()[:120].decode("utf-8", "ignore")
                await send(
                    {"type": "websocket.close", "code": 4000 + error.status, "reason": reason}
                )
            return
        await _send_error(send, error)

    def _check(self, scope: Scope, needed: str) -> TwinsightError | None:
        token = _bearer(scope) or _query_token(scope)
        if token is None:
            return Unauthorized(
                "this server requires a bearer token: send 'Authorization: Bearer <token>' "
                "(create one with 'twinsight tokens create')"
            )
        try:
            granted = self.tokens.authenticate(token)
        except TwinsightError as exc:
            return exc
        if needed not in granted:
            return Forbidden(
                f"the token's scopes ({', '.join(sorted(granted))}) do not include "
                f"{needed!r}, which this operation needs"
            )
        scope.setdefault("state", {})["token_scopes"] = granted
        return None


async def _send_error(send: Send, error: TwinsightError) -> None:
    body = orjson.dumps(error.to_body())
    headers: list[tuple[bytes, bytes]] = [
        (b"content-type", b"application/json; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"x-ms-error-code", error.code.encode()),
    ]
    if error.status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="twinsight"'))
    elif error.status == 403:
        headers.append((b"www-authenticate", b'Bearer error="insufficient_scope"'))
    start: dict[str, Any] = {"type": "http.response.start", "status": error.status}
    start["headers"] = headers
    await send(start)
    await send({"type": "http.response.body", "body": body})
