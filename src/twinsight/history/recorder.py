"""The recorder: turns twin changes and telemetry on the event bus into history points.

Why batches on a background thread: the bus is synchronous, so a subscriber that wrote to
disk per event would put a transaction on every twin write and telemetry message. The
recorder only converts and queues (microseconds), and a background thread appends the
queue in one transaction when it reaches ``batch_size`` points or ``interval`` seconds
after the first queued point, whichever comes first. If the writer falls far behind
(``max_pending``), the publishing thread appends itself: back-pressure instead of memory
growing without bound. :meth:`Recorder.flush` writes everything queued now (tests and
shutdown). Callers that must know a value is durable before answering (the ingest pipeline
acknowledging a message) call :meth:`~twinsight.history.History.append` directly instead.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from twinsight.core.events import EventBus, TelemetryReceived, TelemetrySeries, TwinChanged
from twinsight.core.ports import HistoryPoint, HistoryStore

log = logging.getLogger(__name__)


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        time = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return time if time.tzinfo is not None else time.replace(tzinfo=UTC)


def _written_properties(
    old: Mapping[str, Any] | None, new: Mapping[str, Any], prefix: str
) -> Iterator[tuple[str, Any, Mapping[str, Any] | None]]:
    """(path, value, metadata entry) of each property of ``new`` that was written: its value
    or its metadata (a new ``lastUpdateTime`` or ``sourceTime``) differs from ``old``."""
    meta = new.get("$metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    old_meta = old.get("$metadata") if old is not None else None
    old_meta = old_meta if isinstance(old_meta, Mapping) else {}
    for key, value in new.items():
        if key.startswith("$"):
            continue
        before = old.get(key) if old is not None else None
        if isinstance(value, Mapping) and "$metadata" in value:  # a component
            yield from _written_properties(
                before if isinstance(before, Mapping) else None, value, f"{prefix}{key}."
            )
            continue
        entry = meta.get(key)
        entry = entry if isinstance(entry, Mapping) else None
        if old is None or key not in old or before != value or old_meta.get(key) != entry:
            yield f"{prefix}{key}", value, entry


def points_from_twin_change(event: TwinChanged) -> list[HistoryPoint]:
    """One ``property`` point per written property, at its ``sourceTime`` if the writer gave
    one, else its ``lastUpdateTime``; component properties are named ``component.prop``.
    A deleted twin writes nothing: its history stays."""
    if event.new is None:
        return []
    points = []
    for name, value, entry in _written_properties(event.old, event.new, ""):
        time = None
        if entry is not None:
            time = _parse(entry.get("sourceTime")) or _parse(entry.get("lastUpdateTime"))
        points.append(HistoryPoint(event.twin_id, name, "property", time or event.time, value))
    return points


def _flatten(payload: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, Any]]:
    for key, value in payload.items():
        if isinstance(value, Mapping):
            yield from _flatten(value, f"{prefix}{key}.")
        elif value is not None:
            yield f"{prefix}{key}", value


def points_from_telemetry(event: TelemetryReceived) -> list[HistoryPoint]:
    """One ``telemetry`` point per field of the payload (nested objects flattened with dots,
    arrays kept whole), at the message's source time or else its receive time; telemetry of
    a component is named ``component.field``."""
    time = event.source_time or event.time
    prefix = f"{event.component}." if event.component else ""
    return [
        HistoryPoint(event.twin_id, name, "telemetry", time, value)
        for name, value in _flatten(event.payload, prefix)
    ]


def points_from_series(event: TelemetrySeries) -> list[HistoryPoint]:
    """One ``telemetry`` point per sample of each name of a series (``None`` is no sample)."""
    prefix = f"{event.component}." if event.component else ""
    points = []
    for name, column in event.values.items():
        for us, value in zip(event.times, column, strict=True):
            if value is not None:
                points.append(
                    HistoryPoint(
                        event.twin_id,
                        prefix + name,
                        "telemetry",
                        _EPOCH + timedelta(microseconds=us),
                        value,
                    )
                )
    return points


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Recorder:
    """Subscribes a history store to a bus; batches and writes in the background."""

    def __init__(
        self,
        store: HistoryStore,
        bus: EventBus,
        *,
        batch_size: int = 10_000,
        interval: float = 0.2,
        max_pending: int = 200_000,
        on_idle: Callable[[], object] | None = None,
        idle_every: float = 60.0,
    ) -> None:
        self._store = store
        self._batch_size = batch_size
        self._interval = interval
        self._max_pending = max_pending
        self._on_idle = on_idle
        self._idle_every = idle_every
        self._pending: list[HistoryPoint] = []
        self._cond = threading.Condition()
        self._write_lock = threading.Lock()
        self._closed = False
        self.failures = 0
        """Batches that could not be written (logged; the points are dropped)."""
        self._unsubscribe = [
            bus.subscribe(self._on_twin, TwinChanged),
            bus.subscribe(self._on_telemetry, TelemetryReceived, whole_series=True),
            bus.subscribe(self._on_series, TelemetrySeries),
        ]
        self._thread = threading.Thread(target=self._run, name="history-recorder", daemon=True)
        self._thread.start()

    def _on_twin(self, event: TwinChanged) -> None:
        if not event.recorded:  # the ingest pipeline writes its own points before acking
            self.record(points_from_twin_change(event))

    def _on_telemetry(self, event: TelemetryReceived) -> None:
        if not event.recorded:
            self.record(points_from_telemetry(event))

    def _on_series(self, event: TelemetrySeries) -> None:
        if not event.recorded:
            self.record(points_from_series(event))

    def record(self, points: list[HistoryPoint]) -> None:
        """Queue points for the next batch."""
        if not points:
            return
        with self._cond:
            self._pending.extend(points)
            size = len(self._pending)
            if size >= self._batch_size:
                self._cond.notify()
        if size >= self._max_pending:
            self.flush()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def flush(self) -> int:
        """Write everything queued so far, now, in one transaction; returns points written."""
        with self._write_lock:
            with self._cond:
                batch, self._pending = self._pending, []
            if not batch:
                return 0
            try:
                self._store.append(batch)
            except Exception:
                self.failures += 1
                log.exception("history: could not write a batch of %d points", len(batch))
                return 0
            return len(batch)

    def _run(self) -> None:
        import time

        next_idle = time.monotonic() + self._idle_every
        while True:
            with self._cond:
                if not self._pending and not self._closed:
                    self._cond.wait(timeout=min(self._idle_every, 1.0))
                if self._pending and len(self._pending) < self._batch_size and not self._closed:
                    # Give a batch ``interval`` to fill up before writing it.
                    self._cond.wait_for(
                        lambda: len(self._pending) >= self._batch_size or self._closed,
                        timeout=self._interval,
                    )
                closed = self._closed
            self.flush()
            if closed:
                return
            if self._on_idle is not None and time.monotonic() >= next_idle:
                next_idle = time.monotonic() + self._idle_every
                try:
                    self._on_idle()
                except Exception:
                    log.exception("history: periodic maintenance failed")

    def close(self) -> None:
        """Stop listening, write what is queued, stop the thread."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=30)
        self.flush()
