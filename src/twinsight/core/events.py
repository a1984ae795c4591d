"""Events and the in-process event bus.

Every change of state is published as an immutable event; read models (history, live
streams, rules, detectors) subscribe instead of reaching into another service's tables. The
bus is synchronous and in-process: a subscriber that needs to do slow work queues it.
A failing subscriber is logged and skipped, never allowed to fail the write that published.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

log = logging.getLogger(__name__)

ChangeKind = Literal["create", "update", "delete"]


@dataclass(frozen=True, slots=True)
class TwinChanged:
    """A twin was created, replaced/patched, or deleted. ``old``/``new`` are full twin
    documents (``None`` where the twin did not exist)."""

    kind: ChangeKind
    twin_id: str
    model: str
    time: datetime
    old: Mapping[str, Any] | None
    new: Mapping[str, Any] | None
    patch: tuple[Mapping[str, Any], ...] = ()
    recorded: bool = False
    """True when the writer already stored the values in history (the ingest pipeline does,
    before acknowledging), so recorders skip the event."""


@dataclass(frozen=True, slots=True)
class RelationshipChanged:
    """A relationship was created, replaced or deleted."""

    kind: ChangeKind
    source_id: str
    relationship_id: str
    name: str
    target_id: str
    time: datetime
    new: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class TelemetryReceived:
    """A telemetry message for a twin (or one of its components)."""

    twin_id: str
    model: str
    component: str | None
    message_id: str
    payload: Mapping[str, Any]
    time: datetime
    source_time: datetime | None = None
    properties: Mapping[str, str] = field(default_factory=dict)
    recorded: bool = False
    """True when the values are already in history (see :class:`TwinChanged`)."""


@dataclass(frozen=True, slots=True)
class IngestBatch:
    """What one ingest batch did, compactly, for data-quality tracking: every accepted value
    as ``(twin_id, name, kind, time, arrival_time, value)`` (``time`` is the source time, or
    the arrival time when the device sent none) and every rejected message as
    ``(source, address, client, reason)``."""

    time: datetime
    values: tuple[tuple[str, str, str, datetime, datetime, Any], ...]
    rejects: tuple[tuple[str, str, str, str], ...]


Event = TwinChanged | RelationshipChanged | TelemetryReceived | IngestBatch
Handler = Callable[[Any], None]


class EventBus:
    """Publish events to subscribers of their type (or of every event)."""

    def __init__(self) -> None:
        self._handlers: dict[type | None, list[Handler]] = {}
        self._lock = threading.Lock()

    def subscribe(self, handler: Handler, event_type: type | None = None) -> Callable[[], None]:
        """Call ``handler`` for each event of ``event_type`` (every event if ``None``);
        returns a function that unsubscribes."""
        with self._lock:
            self._handlers.setdefault(event_type, []).append(handler)

        def unsubscribe() -> None:
            with self._lock:
                handlers = self._handlers.get(event_type, [])
                if handler in handlers:
                    handlers.remove(handler)

        return unsubscribe

    def publish(self, event: Event) -> None:
        for handler in (*self._handlers.get(type(event), ()), *self._handlers.get(None, ())):
            try:
                handler(event)
            except Exception:
                log.exception("event subscriber %r failed on %s", handler, type(event).__name__)
