"""Webhooks: declarative routes that POST matching stream events to an HTTP endpoint.

A route is a small record (url, filter, optional HMAC secret, enabled flag) kept in a
:class:`~twinsight.core.ports.WebhookStore`. For each enabled route a delivery worker thread
owns a bounded queue fed by :class:`~twinsight.streams.live.LiveStreams` — so a slow or dead
receiver never blocks the bus — and:

1. batches events (up to ``batch_size``, waiting at most ``linger`` seconds for more);
2. POSTs ``{"route": id, "events": [{"id": seq, "event": {...}}, ...]}`` with
   ``X-Twinsight-Signature: sha256=<hex HMAC-SHA256 of the body>`` when a secret is set and
   ``X-Twinsight-Delivery`` (the same on every retry, for idempotent receivers);
3. retries a failed POST (non-2xx, timeout, refused connection) with exponential back-off,
   ``attempts`` times in all;
4. after the last failure stores the exact body with the last error as a webhook failure (the
   webhook dead letter), listable and re-sendable.

Back-off waits are real time (they pace network I/O, not the twin's clock); failure times
come from the hub clock. The HTTP client is an adapter (:mod:`twinsight.streams.http_sender`)
behind :class:`WebhookSender`, so this module never imports a protocol library.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import threading
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol
from urllib.parse import urlsplit

from twinsight.core.clock import Clock
from twinsight.core.errors import BadRequest, NotFound
from twinsight.core.ports import WebhookFailure, WebhookRoute, WebhookStore
from twinsight.streams.filters import StreamFilter
from twinsight.streams.live import LiveStreams, Subscription

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twinsight-Signature"
DELIVERY_HEADER = "X-Twinsight-Delivery"
MAX_URL_LENGTH = 2048
MAX_SECRET_LENGTH = 512
_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What one POST did: ``ok`` for a 2xx; otherwise the status (if any) and an error text
    (``HTTP 500: <body excerpt>``, ``timeout: ...``, ``ConnectError: ...``)."""

    ok: bool
    status: int | None = None
    error: str | None = None


class WebhookSender(Protocol):
    """POSTs one body; never raises for network or HTTP problems (returns them)."""

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> DeliveryResult: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``attempts`` POSTs in all, waiting ``backoff`` × 2ⁿ seconds (at most ``max_backoff``)
    between them."""

    attempts: int = 5
    backoff: float = 1.0
    max_backoff: float = 60.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.backoff < 0 or self.max_backoff < 0:
            raise ValueError("attempts must be >= 1 and back-off times >= 0")


def sign(secret: str, body: bytes) -> str:
    """The signature header value: ``sha256=`` + hex HMAC-SHA256 of the exact body.

    >>> sign("s3cret", b'{"route":"r","events":[]}')[:15]
    'sha256=5ff58392'
    """
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def delivery_body(route_id: str, items: Sequence[tuple[int, bytes]]) -> bytes:
    """The POST body, built by concatenating the events' shared serialized bytes."""
    events = b",".join(b'{"id":%d,"event":%s}' % (seq, body) for seq, body in items)
    return b'{"route":"%s","events":[%s]}' % (route_id.encode(), events)


def check_url(url: Any) -> str:
    """An absolute ``http(s)://host[:port]/...`` URL, or a BadRequest saying what is wrong."""
    if not isinstance(url, str) or not url.strip():
        raise BadRequest("a webhook needs a 'url' (http:// or https://)", code="InvalidArgument")
    text: str = url.strip()
    if len(text) > MAX_URL_LENGTH:
        raise BadRequest(f"the url is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise BadRequest(f"{url!r} is not a valid URL: {exc}", code="InvalidArgument") from exc
    if parts.scheme not in ("http", "https"):
        raise BadRequest(
            f"{url!r}: a webhook url must start with http:// or https://", code="InvalidArgument"
        )
    if not parts.hostname:
        raise BadRequest(f"{url!r} has no host", code="InvalidArgument")
    if port == 0:
        raise BadRequest(f"{url!r}: port 0 is not a port", code="InvalidArgument")
    if parts.username or parts.password:
        raise BadRequest(
            f"{parts.scheme}://{parts.hostname}: credentials in the url would be stored and "
            "shown in clear; use a secret (signature) instead",
            code="InvalidArgument",
        )
    return text


class WebhookRegistry:
    """Routes and failures, without delivery: what the API and the CLI manage."""

    def __init__(
        self, store: WebhookStore, parse_filter: Callable[[Any], StreamFilter], clock: Clock
    ) -> None:
        self.store = store
        self._parse_filter = parse_filter
        self._clock = clock

    def build(
        self,
        url: Any = None,
        filter: Any = None,
        secret: Any = None,
        enabled: Any = True,
        description: Any = "",
        route_id: Any = None,
    ) -> WebhookRoute:
        """Validate a route's fields (each problem is a BadRequest naming it)."""
        checked_url = check_url(url)
        stream_filter = self._parse_filter(filter)
        if secret is not None and (
            not isinstance(secret, str) or not 1 <= len(secret) <= MAX_SECRET_LENGTH
        ):
            raise BadRequest(
                f"'secret' must be a string of 1-{MAX_SECRET_LENGTH} characters",
                code="InvalidArgument",
            )
        if not isinstance(enabled, bool):
            raise BadRequest("'enabled' must be true or false", code="InvalidArgument")
        if not isinstance(description, str) or len(description) > 1000:
            raise BadRequest("'description' must be a string (at most 1000 characters)")
        if route_id is None:
            route_id = "wh-" + secrets.token_hex(6)
        elif not isinstance(route_id, str) or not _ID.match(route_id):
            raise BadRequest(
                "'id' must be 1-64 letters, digits, '_', '.' or '-'", code="InvalidArgument"
            )
        return WebhookRoute(
            route_id,
            checked_url,
            stream_filter.to_json(),
            secret,
            enabled,
            self._clock.now(),
            description,
        )

    def add(self, route: WebhookRoute) -> WebhookRoute:
        if self.store.get_route(route.id) is not None:
            raise BadRequest(f"webhook {route.id!r} already exists", code="WebhookAlreadyExists")
        self.store.put_route(route)
        return route

    def get(self, route_id: str) -> WebhookRoute:
        route = self.store.get_route(route_id)
        if route is None:
            raise NotFound(f"there is no webhook {route_id!r}", code="WebhookNotFound")
        return route

    def routes(self) -> list[WebhookRoute]:
        return self.store.list_routes()

    def remove(self, route_id: str) -> None:
        if not self.store.delete_route(route_id):
            raise NotFound(f"there is no webhook {route_id!r}", code="WebhookNotFound")

    def failures(
        self, route_id: str, *, status: str | None = "pending", after_id: int = 0, limit: int = 100
    ) -> list[WebhookFailure]:
        self.get(route_id)
        if status not in (None, "pending", "delivered"):
            raise BadRequest(
                f"status {status!r}: use pending, delivered or all", code="InvalidArgument"
            )
        return self.store.list_failures(route_id, status=status, after_id=after_id, limit=limit)

    def resend(
        self, route_id: str, sender: WebhookSender, ids: Sequence[int] | None = None
    ) -> tuple[list[int], dict[int, str]]:
        """Re-send failed deliveries once each (all pending ones, or ``ids``), signed with the
        route's current secret; a success marks the failure ``delivered``. Returns the ids
        re-sent and the still-failing ones with their error."""
        route = self.get(route_id)
        if ids is None:
            chosen = self.store.list_failures(route_id, status="pending", limit=10_000)
        else:
            chosen = []
            for failure_id in ids:
                failure = self.store.get_failure(failure_id)
                if failure is None or failure.route_id != route_id:
                    raise NotFound(
                        f"webhook {route_id!r} has no failure {failure_id}",
                        code="WebhookFailureNotFound",
                    )
                chosen.append(failure)
        sent: list[int] = []
        failed: dict[int, str] = {}
        for failure in chosen:
            result = sender.post(route.url, failure.body, _headers(route, failure.body, None))
            now = self._clock.now()
            if result.ok:
                sent.append(failure.id)
                self.store.update_failure(
                    replace(failure, attempts=failure.attempts + 1, status="delivered")
                )
            else:
                error = result.error or "failed"
                failed[failure.id] = error
                self.store.update_failure(
                    replace(
                        failure,
                        attempts=failure.attempts + 1,
                        error=error,
                        status_code=result.status,
                        last_failed=now,
                    )
                )
        return sent, failed


def _headers(route: WebhookRoute, body: bytes, delivery: str | None) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "twinsight-webhooks",
        "X-Twinsight-Route": route.id,
        DELIVERY_HEADER: delivery or uuid.uuid4().hex,
    }
    if route.secret:
        headers[SIGNATURE_HEADER] = sign(route.secret, body)
    return headers


@dataclass
class RouteStats:
    """Counters of one route's worker since the hub started."""

    delivered_events: int = 0
    delivered_batches: int = 0
    failed_batches: int = 0
    retries: int = 0
    dropped: int = 0
    queued: int = 0
    last_error: str | None = None
    last_status: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "deliveredEvents": self.delivered_events,
            "deliveredBatches": self.delivered_batches,
            "failedBatches": self.failed_batches,
            "retries": self.retries,
            "dropped": self.dropped,
            "queued": self.queued,
            "lastError": self.last_error,
            "lastStatus": self.last_status,
        }


@dataclass(eq=False)
class _Worker:
    """One route's queue and delivery thread (the :class:`~twinsight.streams.live.Sink`)."""

    route: WebhookRoute
    owner: Webhooks
    queue: deque[tuple[int, bytes]] = field(default_factory=deque)
    cond: threading.Condition = field(default_factory=threading.Condition)
    stopping: threading.Event = field(default_factory=threading.Event)
    stats: RouteStats = field(default_factory=RouteStats)
    thread: threading.Thread | None = None
    subscription: Subscription | None = None

    def offer(self, tag: str, seq: int, body: bytes) -> None:
        with self.cond:
            if len(self.queue) >= self.owner.queue_size:
                self.queue.popleft()
                self.stats.dropped += 1
            self.queue.append((seq, body))
            self.cond.notify()

    def run(self) -> None:
        owner = self.owner
        while True:
            with self.cond:
                while not self.queue and not self.stopping.is_set():
                    self.cond.wait()
                if not self.queue:
                    return
                if len(self.queue) < owner.batch_size and not self.stopping.is_set():
                    self.cond.wait(owner.linger)  # let a burst gather into one POST
                count = min(owner.batch_size, len(self.queue))
                items = [self.queue.popleft() for _ in range(count)]
                self.stats.queued = len(self.queue)
            try:
                self.deliver(items)
            except Exception:  # a store failure must not kill the worker
                log.exception("webhook %s: delivery failed unexpectedly", self.route.id)

    def deliver(self, items: list[tuple[int, bytes]]) -> None:
        owner, route, policy = self.owner, self.route, self.owner.retry
        body = delivery_body(route.id, items)
        headers = _headers(route, body, None)
        delay = policy.backoff
        first_failed = None
        result = DeliveryResult(False, None, "not attempted")
        attempt = 0
        for attempt in range(1, policy.attempts + 1):
            result = owner.sender.post(route.url, body, headers)
            if result.ok:
                self.stats.delivered_events += len(items)
                self.stats.delivered_batches += 1
                return
            first_failed = first_failed or owner.clock.now()
            self.stats.last_error, self.stats.last_status = result.error, result.status
            log.info("webhook %s: attempt %d failed: %s", route.id, attempt, result.error)
            if attempt < policy.attempts:
                self.stats.retries += 1
                if self.stopping.wait(delay):
                    result = replace(result, error=f"{result.error} (stopped retrying at shutdown)")
                    break
                delay = min(delay * 2, policy.max_backoff)
        self.stats.failed_batches += 1
        now = owner.clock.now()
        owner.registry.store.add_failure(
            WebhookFailure(
                0,
                route.id,
                body,
                len(items),
                attempt,
                result.error or "failed",
                result.status,
                first_failed or now,
                now,
            )
        )
        log.warning(
            "webhook %s: %d event(s) kept as a failure after %d attempt(s): %s",
            route.id,
            len(items),
            attempt,
            result.error,
        )


class Webhooks:
    """Routes (via :class:`WebhookRegistry`) plus their delivery workers."""

    def __init__(
        self,
        store: WebhookStore,
        streams: LiveStreams,
        sender: WebhookSender,
        clock: Clock,
        *,
        retry: RetryPolicy | None = None,
        batch_size: int = 100,
        linger: float = 0.05,
        queue_size: int = 10_000,
    ) -> None:
        self.registry = WebhookRegistry(store, streams.parse_filter, clock)
        self.streams = streams
        self.sender = sender
        self.clock = clock
        self.retry = retry or RetryPolicy()
        self.batch_size = batch_size
        self.linger = linger
        self.queue_size = queue_size
        self._workers: dict[str, _Worker] = {}
        self._lock = threading.Lock()
        for route in self.registry.routes():
            if route.enabled:
                self._start(route)

    def _start(self, route: WebhookRoute) -> None:
        worker = _Worker(route, self)
        stream_filter = self.streams.parse_filter(route.filter)
        worker.thread = threading.Thread(target=worker.run, name=f"webhook-{route.id}", daemon=True)
        worker.thread.start()
        worker.subscription = self.streams.subscribe(stream_filter, worker, route.id)
        with self._lock:
            self._workers[route.id] = worker

    def _stop(self, route_id: str) -> None:
        with self._lock:
            worker = self._workers.pop(route_id, None)
        if worker is None:
            return
        if worker.subscription is not None:
            worker.subscription.close()
        worker.stopping.set()
        with worker.cond:
            worker.cond.notify_all()
        if worker.thread is not None:
            worker.thread.join(timeout=30)

    # ------------------------------------------------------------------ public

    def add(self, **fields: Any) -> WebhookRoute:
        """Validate and store a route; start delivering to it if enabled."""
        route = self.registry.add(self.registry.build(**fields))
        if route.enabled:
            self._start(route)
        return route

    def set_enabled(self, route_id: str, enabled: bool) -> WebhookRoute:
        route = replace(self.registry.get(route_id), enabled=enabled)
        self.registry.store.put_route(route)
        running = route_id in self._workers
        if enabled and not running:
            self._start(route)
        elif not enabled and running:
            self._stop(route_id)
        return route

    def remove(self, route_id: str) -> None:
        self.registry.get(route_id)
        self._stop(route_id)
        self.registry.remove(route_id)

    def stats(self, route_id: str) -> RouteStats | None:
        worker = self._workers.get(route_id)
        if worker is None:
            return None
        with worker.cond:
            worker.stats.queued = len(worker.queue)
        return worker.stats

    def resend(
        self, route_id: str, ids: Sequence[int] | None = None
    ) -> tuple[list[int], dict[int, str]]:
        return self.registry.resend(route_id, self.sender, ids)

    def close(self) -> None:
        """Stop the workers: each finishes its batch (a failing one becomes a stored failure
        instead of waiting out its back-off) and delivers what is still queued."""
        for route_id in list(self._workers):
            self._stop(route_id)
        self.sender.close()
