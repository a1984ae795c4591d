"""The live-stream fan-out: bus events → filtered, bounded per-consumer mailboxes.

Why it is built this way:

- The event bus is synchronous and may call us on any thread (API writes on the event-loop
  thread, ingest on connector threads). The handler therefore does only cheap, bounded
  work: translate the event once, serialize it once (:mod:`orjson`), and hand the *same
  bytes* to every matching mailbox. It never awaits, never does I/O, never blocks on a
  consumer.
- Each consumer owns a bounded mailbox. A slow consumer whose mailbox is full loses its
  *oldest* events and is told so with an ``{"type": "overflow", "dropped": n}`` notice; the
  bus, the writer and every other consumer carry on at full speed.
- Asyncio consumers are woken with ``loop.call_soon_threadsafe`` only when they are
  actually waiting, so under load one wake-up drains many events (a batch per loop turn
  instead of a callback per event).
- A small ring buffer of recent serialized events lets SSE clients resume with
  ``Last-Event-ID`` (best effort: only what is still in the ring is replayed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from twinsight.core.events import (
    ActionChanged,
    AlarmChanged,
    EventBus,
    RelationshipChanged,
    RuleFired,
    TelemetryReceived,
    TelemetrySeries,
    TwinChanged,
)
from twinsight.graph.service import TwinGraph
from twinsight.models.dtdl import ModelSet
from twinsight.models.repository import ModelRepository
from twinsight.streams.events import EventMeta, event_meta, stream_event
from twinsight.streams.filters import StreamFilter, parse_filter

log = logging.getLogger(__name__)

RING_SIZE = 1024
"""Recent events kept for ``Last-Event-ID`` resumption."""
QUEUE_SIZE = 1000
"""Default mailbox bound per consumer (events, not bytes)."""
HEARTBEAT_SECONDS = 15.0


class Sink(Protocol):
    """Where matched events go: ``offer`` must be cheap and must never block."""

    def offer(self, tag: str, seq: int, body: bytes) -> None: ...


@dataclass(frozen=True, slots=True)
class Batch:
    """What a consumer takes at once: how many events it lost since the last take, control
    messages (acknowledgements, errors; never dropped) and ``(tag, seq, body)`` events."""

    dropped: int
    control: list[bytes]
    items: list[tuple[str, int, bytes]]


class AsyncMailbox:
    """A bounded, thread-safe mailbox read by one asyncio task (a WebSocket or SSE writer).

    ``offer`` may be called from any thread; the reader is woken through
    ``loop.call_soon_threadsafe`` only if it is waiting.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, maxsize: int = QUEUE_SIZE) -> None:
        if maxsize < 1:
            raise ValueError("a mailbox holds at least one event")
        self._loop = loop
        self.maxsize = maxsize
        self._lock = threading.Lock()
        self._items: deque[tuple[str, int, bytes]] = deque()
        self._control: list[bytes] = []
        self._dropped = 0
        self.total_dropped = 0
        self._waiting = False
        self._wake = asyncio.Event()

    def offer(self, tag: str, seq: int, body: bytes) -> None:
        with self._lock:
            if len(self._items) >= self.maxsize:
                self._items.popleft()
                self._dropped += 1
                self.total_dropped += 1
            self._items.append((tag, seq, body))
            wake = self._waiting
            self._waiting = False
        if wake:
            self._wake_up()

    def control(self, message: bytes) -> None:
        """Queue a control message (never dropped, sent before pending events)."""
        with self._lock:
            self._control.append(message)
            wake = self._waiting
            self._waiting = False
        if wake:
            self._wake_up()

    def _wake_up(self) -> None:
        with contextlib.suppress(RuntimeError):  # a closed loop: the consumer is gone
            self._loop.call_soon_threadsafe(self._wake.set)

    async def take(self, timeout: float | None = None) -> Batch | None:
        """Everything queued, waiting for something if empty; ``None`` after ``timeout``."""
        while True:
            with self._lock:
                if self._items or self._control or self._dropped:
                    batch = Batch(self._dropped, self._control, list(self._items))
                    self._items.clear()
                    self._control = []
                    self._dropped = 0
                    return batch
                self._waiting = True
                self._wake.clear()
            if timeout is None:
                await self._wake.wait()
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                with self._lock:
                    self._waiting = False
                return None


@dataclass(eq=False)
class Subscription:
    """One registered filter feeding one sink; ``close`` unregisters it."""

    filter: StreamFilter
    sink: Sink
    tag: str
    _owner: LiveStreams | None = field(default=None, repr=False)

    def close(self) -> None:
        if self._owner is not None:
            self._owner._remove(self)
            self._owner = None


_TELEMETRY = frozenset({TelemetryReceived, TelemetrySeries})


class _Buffered:
    """One event in the resume buffer: its stream form, or the bus event until a resuming
    client asks for it (telemetry that arrived while nobody was subscribed)."""

    __slots__ = ("data", "event", "meta", "seq")

    def __init__(
        self, seq: int, event: object, meta: EventMeta | None = None, data: bytes = b""
    ) -> None:
        self.seq = seq
        self.event = event
        self.meta = meta
        self.data = data

    def resolve(self, model_of: Any) -> tuple[EventMeta, bytes]:
        if self.meta is None:
            body = stream_event(self.event, model_of)
            assert body is not None  # only telemetry is kept unserialised
            self.meta, self.data, self.event = event_meta(body), orjson.dumps(body), None
        return self.meta, self.data


class LiveStreams:
    """Fan-out of bus events to filtered subscriptions (see the module docstring)."""

    def __init__(
        self,
        bus: EventBus,
        models: ModelRepository,
        graph: TwinGraph,
        *,
        ring_size: int = RING_SIZE,
        queue_size: int = QUEUE_SIZE,
        heartbeat: float = HEARTBEAT_SECONDS,
    ) -> None:
        self._models = models
        self._graph = graph
        self.queue_size = queue_size
        self.heartbeat = heartbeat
        self._lock = threading.Lock()
        self._subs: tuple[Subscription, ...] = ()
        self._ring: deque[_Buffered] = deque(maxlen=ring_size)
        self._seq = 0
        self._lineage: dict[str, frozenset[str]] = {}
        self._lineage_for: ModelSet | None = None
        self.published = 0
        # A series (a SenML pack's samples) is one stream event, not one per sample time:
        # hence whole_series, so the bus does not also split it into TelemetryReceived.
        self._unsubscribe = [
            bus.subscribe(self._on_event, kind, whole_series=True)
            for kind in (
                TwinChanged,
                RelationshipChanged,
                TelemetryReceived,
                TelemetrySeries,
                AlarmChanged,
                ActionChanged,
                RuleFired,
            )
        ]

    # ----------------------------------------------------------------- filters

    def parse_filter(self, raw: Any) -> StreamFilter:
        """Parse a filter, refusing models that were never uploaded."""
        return parse_filter(raw, self._known_model)

    def _known_model(self, dtmi: str) -> bool:
        return dtmi in self._models.model_set.interfaces

    def lineage(self, model: str) -> frozenset[str]:
        """``model`` and every interface it extends (cached per model set)."""
        current = self._models.model_set
        if current is not self._lineage_for:
            self._lineage = {}
            self._lineage_for = current
        family = self._lineage.get(model)
        if family is None:
            interface = current.interfaces.get(model)
            bases = interface.bases if interface is not None else frozenset()
            family = self._lineage[model] = frozenset((model, *bases))
        return family

    def model_of(self, twin_id: str) -> str:
        """The model of a twin, or "" if it does not exist (any more)."""
        twin = self._graph.index.twin(twin_id)
        return str(twin["$metadata"]["$model"]) if twin is not None else ""

    # ------------------------------------------------------------ subscriptions

    @property
    def subscriptions(self) -> int:
        return len(self._subs)

    def subscribe(
        self, stream_filter: StreamFilter, sink: Sink, tag: str = "", *, after: int | None = None
    ) -> Subscription:
        """Register ``sink`` for events passing ``stream_filter``. With ``after`` (a sequence
        number), first replay the buffered events newer than it — atomically with the
        registration, so nothing is missed or doubled between replay and live."""
        sub = Subscription(stream_filter, sink, tag, self)
        with self._lock:
            if after is not None:
                for entry in self._ring:
                    if entry.seq > after:
                        meta, body = entry.resolve(self.model_of)
                        if stream_filter.matches(meta, self.lineage):
                            sink.offer(tag, entry.seq, body)
            self._subs = (*self._subs, sub)
        return sub

    def _remove(self, sub: Subscription) -> None:
        with self._lock:
            self._subs = tuple(s for s in self._subs if s is not sub)

    # ------------------------------------------------------------------ events

    def _on_event(self, event: object) -> None:
        if event.__class__ in _TELEMETRY:
            # Nobody listening: keep the event for a later resume and serialise it only if
            # one asks for it. Telemetry is most events and its JSON most of their cost.
            with self._lock:
                if not self._subs:
                    self._seq += 1
                    self.published += 1
                    self._ring.append(_Buffered(self._seq, event))
                    return
        body = stream_event(event, self.model_of)
        if body is None:
            return
        meta = event_meta(body)
        data = orjson.dumps(body)
        with self._lock:
            self._seq += 1
            seq = self._seq
            self.published += 1
            self._ring.append(_Buffered(seq, None, meta, data))
            subs = self._subs
            for sub in subs:
                if sub.filter.matches(meta, self.lineage):
                    try:
                        sub.sink.offer(sub.tag, seq, data)
                    except Exception:
                        log.exception("stream sink %r failed", sub.sink)

    @property
    def last_seq(self) -> int:
        return self._seq

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        with self._lock:
            self._subs = ()
