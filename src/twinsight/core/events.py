"""Events and the in-process event bus.

Every change of state is published as an immutable event; read models (history, live
streams, rules, detectors) subscribe instead of reaching into another service's tables. The
bus is synchronous and in-process: a subscriber that needs to do slow work queues it.
A failing subscriber is logged and skipped, never allowed to fail the write that published.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from twinsight.core.ports import ActionRecord, Alarm, RuleFiring

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
class TelemetrySeries:
    """Timed telemetry samples of one twin (or component) from one message, or from the
    messages of one address read together in a batch, together.

    Why: a SenML pack carries many samples (100 times of a sensor); one event per sample
    time made every subscriber (live streams serialising JSON, webhooks) pay per sample.
    This event hands them the message's samples in one go, as columns: ``times`` are the
    source times in integer microseconds since the epoch (UTC) and ``values`` maps each
    telemetry name to one value per time, ``None`` where that name has no sample at that
    time. Times are in ascending order and distinct.

    Subscribers of :class:`TelemetryReceived` that did not ask for whole series receive
    it as one :class:`TelemetryReceived` per time (see :meth:`EventBus.subscribe`), so
    code written before this event existed still sees every sample.
    """

    twin_id: str
    model: str
    component: str | None
    message_id: str
    time: datetime
    times: Sequence[int]
    values: Mapping[str, Sequence[Any]]
    recorded: bool = False
    """True when the values are already in history (see :class:`TwinChanged`)."""

    def samples(self) -> list[TelemetryReceived]:
        """The series as one :class:`TelemetryReceived` per source time."""
        columns = list(self.values.items())
        out = []
        for i, us in enumerate(self.times):
            payload = {name: column[i] for name, column in columns if column[i] is not None}
            out.append(
                TelemetryReceived(
                    self.twin_id,
                    self.model,
                    self.component,
                    self.message_id,
                    payload,
                    self.time,
                    _EPOCH + timedelta(microseconds=us),
                    recorded=self.recorded,
                )
            )
        return out


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class IngestBatch:
    """What one ingest batch did, compactly, for data-quality tracking: every accepted value
    as ``(twin_id, name, kind, time, arrival_time, value)`` (``time`` is the source time, or
    the arrival time when the device sent none) and every rejected message as
    ``(source, address, client, reason)``."""

    time: datetime
    values: tuple[tuple[str, str, str, datetime, datetime, Any], ...]
    rejects: tuple[tuple[str, str, str, str], ...]
    columns: tuple[tuple[str, str, str, datetime, Sequence[int], Sequence[Any]], ...] = ()
    """Accepted values that arrived as a series (a SenML pack's samples of one name), as
    ``(twin_id, name, kind, arrival_time, times, values)`` with ``times`` the source
    times in microseconds since the epoch, in message order: one entry instead of one
    tuple per value."""


AlarmTransition = Literal["raised", "updated", "acknowledged", "cleared"]


@dataclass(frozen=True, slots=True)
class AlarmChanged:
    """An alarm was raised, updated by a repeat of its condition (count, last value),
    acknowledged or cleared; ``alarm`` is the alarm after the change."""

    transition: AlarmTransition
    alarm: Alarm
    time: datetime


@dataclass(frozen=True, slots=True)
class ActionChanged:
    """A command or desired-property action entered ``record.state`` (refused, sent,
    done, ...); ``record`` is the action after the change."""

    record: ActionRecord
    time: datetime


@dataclass(frozen=True, slots=True)
class RuleFired:
    """A rule fired on a twin: ``firing`` says what it asked and what came of it (a
    notification rule's message travels this way)."""

    firing: RuleFiring
    time: datetime


Event = (
    TwinChanged
    | RelationshipChanged
    | TelemetryReceived
    | TelemetrySeries
    | IngestBatch
    | AlarmChanged
    | ActionChanged
    | RuleFired
)
Handler = Callable[[Any], None]


_SAMPLES = "samples of TelemetrySeries"
"""Handler-table key of the :class:`TelemetryReceived` handlers that take a series' samples."""


class EventBus:
    """Publish events to subscribers of their type (or of every event)."""

    def __init__(self) -> None:
        self._handlers: dict[type | str | None, list[Handler]] = {}
        self._lock = threading.Lock()

    def subscribe(
        self, handler: Handler, event_type: type | None = None, *, whole_series: bool = False
    ) -> Callable[[], None]:
        """Call ``handler`` for each event of ``event_type`` (every event if ``None``);
        returns a function that unsubscribes.

        A handler of :class:`TelemetryReceived` also receives every
        :class:`TelemetrySeries` split into one :class:`TelemetryReceived` per sample time,
        so it sees all telemetry in the form it knows; ``whole_series=True`` says it
        subscribes to :class:`TelemetrySeries` itself (or has no use for them) and spares
        the bus that split."""
        keys: list[type | str | None] = [event_type]
        if event_type is TelemetryReceived and not whole_series:
            keys.append(_SAMPLES)
        with self._lock:
            for key in keys:
                self._handlers.setdefault(key, []).append(handler)

        def unsubscribe() -> None:
            with self._lock:
                for key in keys:
                    handlers = self._handlers.get(key, [])
                    if handler in handlers:
                        handlers.remove(handler)

        return unsubscribe

    def publish(self, event: Event) -> None:
        for handler in (*self._handlers.get(type(event), ()), *self._handlers.get(None, ())):
            self._call(handler, event)
        if event.__class__ is TelemetrySeries:
            split = tuple(self._handlers.get(_SAMPLES, ()))
            if split:
                for sample in event.samples():
                    for handler in split:
                        self._call(handler, sample)

    @staticmethod
    def _call(handler: Handler, event: object) -> None:
        try:
            handler(event)
        except Exception:
            log.exception("event subscriber %r failed on %s", handler, type(event).__name__)
