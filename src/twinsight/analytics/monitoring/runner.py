"""Running monitors live: bus events → one detector per (twin, stream) → alarms.

The runner subscribes to telemetry — single messages, and series (a SenML pack's samples
as columns, :class:`~twinsight.core.events.TelemetrySeries`) taken whole, reading only the
columns it watches, sample time by sample time — and to twin changes (property
streams, and limits whose bound is a property: patching a tank's ``alarmLimits`` takes
effect at once). For each twin a monitor applies to — by model, with inheritance, so twins
created later are watched too, or by id — it keeps one detector, made on the twin's first
sample, and one :class:`~twinsight.analytics.alarms.Hysteresis` per condition.

Per sample: score, then learn (``process_one``); the score (or, for a limit, the value)
goes through the hysteresis, which raises or clears the alarm through the
:class:`~twinsight.analytics.alarms.AlarmService`. Bad input never stops the runner:

* a value that is not a number (text, a boolean, an object) is skipped, with the reason;
* NaN and infinities go to the detector, which scores them ``0.0`` without learning them
  (the detector contract), so a dropped reading neither raises nor clears anything;
* a sample whose source time is not after the stream's last one (a replay, a device
  clock stepping back) is skipped, with the reason, since detectors learn in time order;
* gaps are fed as they come (detectors get the time); a constant series is scored like
  any other (the detectors keep a floor under their spread);
* a detector that raises is logged and scores ``0.0``; the other monitors carry on.

Each stream keeps how many samples it scored and skipped and the last reason, shown by
``GET /twins/{id}/anomalies`` beside the latest score.

A multi-stream monitor (``streams``) keeps each stream's latest value and its source time.
A sample time is scored once: at once when every stream has a value at that very time (a
SenML pack, or the last of its separate messages), else when a later sample time begins —
then with each stream's latest value, provided it is at most ``fresh`` seconds older;
otherwise the sample time is skipped with the stale streams named. So values of one
sample time that arrive in separate messages are paired with each other, not with the
previous sample's.

Given a model registry, every detector monitor is a registered model version
(:mod:`.models`), named in its alarms' source; with ``publish`` its score is also derived
telemetry of the twin, named by that version (:mod:`twinsight.core.provenance`), at most
once per ``publish_every`` seconds of source time.
"""

from __future__ import annotations

import fnmatch
import logging
import math
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import twinsight
from twinsight.analytics.alarms import AlarmService, Hysteresis
from twinsight.analytics.alarms.hysteresis import Direction
from twinsight.analytics.detectors.base import NON_FINITE_SCORE, Detector
from twinsight.analytics.detectors.multi import MultiDetector, make_multi_detector
from twinsight.analytics.monitoring.config import Monitor, MonitoringSpec
from twinsight.analytics.monitoring.models import model_name, register_monitors
from twinsight.analytics.monitoring.registry import make_detector
from twinsight.analytics.registry import ModelRegistry
from twinsight.core.events import EventBus, TelemetryReceived, TelemetrySeries, TwinChanged
from twinsight.core.provenance import produced_by

log = logging.getLogger(__name__)

MAX_PENDING = 64
"""Residual measurements kept waiting for their estimate, per stream."""
MAX_ESTIMATES = 256
"""Recent estimates kept for pairing, per stream."""

TwinLookup = Callable[[str], Mapping[str, Any] | None]
Lineage = Callable[[str], frozenset[str]]
Publisher = Callable[[str, Mapping[str, Any], datetime, Mapping[str, str]], None]
"""``(twin id, payload, source time, message properties)``: publish derived telemetry."""


@dataclass
class StreamScore:
    """What one monitor last saw on one twin (the API's view)."""

    monitor: str
    stream: str
    detector: str | None
    score: float | None
    value: float | None
    time: datetime | None
    alarm: bool
    samples: int
    skipped: int
    last_skip: str | None
    model: str | None = None
    version: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "monitor": self.monitor,
            "stream": self.stream,
            "detector": self.detector,
            "score": self.score,
            "value": self.value,
            "sourceTime": self.time.isoformat().replace("+00:00", "Z") if self.time else None,
            "alarm": self.alarm,
            "samples": self.samples,
            "skipped": self.skipped,
            "lastSkip": self.last_skip,
        }


@dataclass
class _Side:
    """One alarm condition of a stream and the hysteresis that drives it."""

    condition: str
    hysteresis: Hysteresis
    bound: float | None = None
    last_report: float = -math.inf


@dataclass
class _Stream:
    """The state of one monitor on one twin."""

    monitor: Monitor
    detector: Detector | MultiDetector | None
    sides: list[_Side]
    first_t: float | None = None
    last_t: float | None = None
    score: float | None = None
    value: float | None = None
    samples: int = 0
    skipped: int = 0
    last_skip: str | None = None
    estimates: deque[list[Any]] = field(default_factory=lambda: deque(maxlen=MAX_ESTIMATES))
    pending: deque[tuple[float, float]] = field(default_factory=deque)
    latest: dict[str, tuple[float, float]] = field(default_factory=dict)
    pending_time: float | None = None
    last_published: float = -math.inf


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _path(document: Mapping[str, Any] | None, path: str) -> Any:
    node: Any = document
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def _when(t: float) -> datetime:
    return datetime.fromtimestamp(t, tz=UTC)


class MonitoringRunner:
    """Runs the monitors of ``spec`` on the live events of ``bus`` (see the module notes).

    ``twin_document(id)`` reads a twin's current document (property bounds);
    ``lineage(model)`` gives a model and every model it extends (monitors on a base model
    watch twins of derived ones); without it models match exactly."""

    def __init__(
        self,
        spec: MonitoringSpec,
        alarms: AlarmService,
        bus: EventBus,
        *,
        twin_document: TwinLookup,
        lineage: Lineage | None = None,
        registry: ModelRegistry | None = None,
        publish: Publisher | None = None,
    ) -> None:
        self.spec = spec
        self.versions: dict[str, int] = (
            register_monitors(spec, registry) if registry is not None else {}
        )
        """The registered model version of each detector monitor, by monitor name."""
        self._publish = publish
        self._alarms = alarms
        self._twin = twin_document
        self._lineage = lineage
        self._lock = threading.RLock()
        self._streams: dict[tuple[str, str], _Stream] = {}
        self._applicable: dict[tuple[str, str], tuple[Monitor, ...]] = {}
        self._unsubscribe = [
            # Series are taken whole (whole_series): the runner reads only the columns it
            # watches, and the bus need not split every SenML pack into one event per
            # sample time for everybody's sake.
            bus.subscribe(self._on_telemetry, TelemetryReceived, whole_series=True),
            bus.subscribe(self._on_series, TelemetrySeries),
            bus.subscribe(self._on_twin, TwinChanged),
        ]

    # ------------------------------------------------------------------ reading

    def scores(self, twin_id: str) -> list[StreamScore]:
        """The latest score of every monitor running on ``twin_id``, by monitor name."""
        with self._lock:
            found = [s for (twin, _), s in self._streams.items() if twin == twin_id]
            return [
                StreamScore(
                    s.monitor.name,
                    s.monitor.signal,
                    s.monitor.detector,
                    s.score,
                    s.value,
                    _when(s.last_t) if s.last_t is not None else None,
                    any(side.hysteresis.active for side in s.sides),
                    s.samples,
                    s.skipped,
                    s.last_skip,
                    model_name(s.monitor) if s.monitor.name in self.versions else None,
                    self.versions.get(s.monitor.name),
                )
                for s in sorted(found, key=lambda s: s.monitor.name)
            ]

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()

    # ------------------------------------------------------------------ matching

    def _monitors(self, twin_id: str, model: str) -> tuple[Monitor, ...]:
        key = (twin_id, model)
        found = self._applicable.get(key)
        if found is None:
            family = self._lineage(model) if self._lineage is not None else frozenset((model,))
            found = tuple(
                m
                for m in self.spec.monitors
                if (m.model is not None and m.model in family)
                or (m.twins is not None and any(fnmatch.fnmatchcase(twin_id, p) for p in m.twins))
            )
            if len(self._applicable) > 100_000:  # twins come and go: keep it bounded
                self._applicable.clear()
            self._applicable[key] = found
        return found

    def _stream(self, twin_id: str, monitor: Monitor) -> _Stream:
        key = (twin_id, monitor.name)
        stream = self._streams.get(key)
        if stream is None:
            detector: Detector | MultiDetector | None = None
            if monitor.detector is not None and monitor.streams is not None:
                detector = make_multi_detector(
                    monitor.detector, monitor.streams, dict(monitor.parameters)
                )
            elif monitor.detector is not None:
                detector = make_detector(monitor.detector, dict(monitor.parameters))
            stream = self._streams[key] = _Stream(monitor, detector, self._sides(twin_id, monitor))
        return stream

    def _sides(self, twin_id: str, monitor: Monitor) -> list[_Side]:
        rule = monitor.alarm
        sides: list[_Side] = []
        if monitor.limit is None:
            assert rule.raise_at is not None
            clear = rule.clear_at if rule.clear_at is not None else rule.raise_at
            condition = rule.condition or f"anomaly:{monitor.signal}"
            sides.append(
                _Side(
                    condition,
                    Hysteresis(rule.raise_at, clear, rule.raise_after, rule.clear_after),
                )
            )
        else:
            base = rule.condition or f"limit:{monitor.signal}"
            sides_of: tuple[tuple[str, Direction], ...] = (("high", "above"), ("low", "below"))
            for name, direction in sides_of:
                if getattr(monitor.limit, direction) is None:
                    continue
                # Thresholds are set from the bound at each sample (it may be a property).
                h = Hysteresis(0.0, 0.0, rule.raise_after, rule.clear_after, direction)
                sides.append(_Side(f"{base}:{name}", h))
        for side in sides:  # an alarm left active (say, before a restart) can still clear
            side.hysteresis.active = self._alarms.active(twin_id, side.condition) is not None
        return sides

    # ------------------------------------------------------------------ events

    def _on_telemetry(self, event: TelemetryReceived) -> None:
        monitors = self._monitors(event.twin_id, event.model)
        if not monitors:
            return
        prefix = f"{event.component}." if event.component else ""
        payload = {prefix + k: v for k, v in event.payload.items()} if prefix else event.payload
        t = (event.source_time or event.time).timestamp()
        with self._lock:
            self._payload(event.twin_id, monitors, payload, t)

    def _on_series(self, event: TelemetrySeries) -> None:
        """A series (a SenML pack's samples as columns): the watched columns only, one
        sample time after another, as if each had come alone."""
        monitors = self._monitors(event.twin_id, event.model)
        if not monitors:
            return
        prefix = f"{event.component}." if event.component else ""
        wanted = {
            name
            for m in monitors
            if m.kind == "telemetry"
            for name in (
                (m.residual.measured, m.residual.estimate, m.residual.std)
                if m.residual is not None
                else (*(m.streams or ()), m.stream)
            )
            if name is not None
        }
        columns = [
            (prefix + name, column)
            for name, column in event.values.items()
            if prefix + name in wanted
        ]
        if not columns:
            return
        with self._lock:
            for i, us in enumerate(event.times):
                payload = {name: column[i] for name, column in columns if column[i] is not None}
                if payload:
                    self._payload(event.twin_id, monitors, payload, us / 1e6)

    def _payload(
        self, twin_id: str, monitors: tuple[Monitor, ...], payload: Mapping[str, Any], t: float
    ) -> None:
        """One sample time's values of a twin, to every telemetry monitor on it."""
        for monitor in monitors:
            if monitor.kind != "telemetry":
                continue
            try:
                if monitor.residual is not None:
                    self._residual(twin_id, monitor, payload, t)
                elif monitor.streams is not None:
                    if any(name in payload for name in monitor.streams):
                        self._vector(twin_id, monitor, payload, t)
                elif monitor.stream is not None and monitor.stream in payload:
                    self._sample(twin_id, monitor, payload[monitor.stream], t)
            except Exception:
                log.exception("monitor %s failed on %s", monitor.name, twin_id)

    def _on_twin(self, event: TwinChanged) -> None:
        if event.new is None:
            with self._lock:  # a deleted twin: forget its streams
                for key in [k for k in self._streams if k[0] == event.twin_id]:
                    del self._streams[key]
            return
        monitors = self._monitors(event.twin_id, event.model)
        if not monitors:
            return
        with self._lock:
            for monitor in monitors:
                try:
                    self._on_twin_change(event, monitor)
                except Exception:
                    log.exception("monitor %s failed on %s", monitor.name, event.twin_id)

    def _on_twin_change(self, event: TwinChanged, monitor: Monitor) -> None:
        assert event.new is not None
        if monitor.kind == "property" and monitor.stream is not None:
            value = _path(event.new, monitor.stream)
            if value is not None and value != _path(event.old, monitor.stream):
                self._sample(event.twin_id, monitor, value, event.time.timestamp())
            return
        limit = monitor.limit
        if limit is None:
            return
        paths = [b for b in (limit.above, limit.below) if isinstance(b, str)]
        changed = any(_path(event.new, p) != _path(event.old, p) for p in paths)
        stream = self._streams.get((event.twin_id, monitor.name))
        if changed and stream is not None and stream.value is not None:
            # A new bound judges the last value at once (counts as one sample).
            assert stream.last_t is not None
            self._judge(event.twin_id, stream, stream.value, stream.value, stream.last_t)

    # ------------------------------------------------------------------ samples

    def _skip(self, stream: _Stream, twin_id: str, reason: str) -> None:
        stream.skipped += 1
        stream.last_skip = reason
        log.debug("monitor %s on %s skipped a sample: %s", stream.monitor.name, twin_id, reason)

    def _sample(self, twin_id: str, monitor: Monitor, raw: Any, t: float) -> None:
        stream = self._stream(twin_id, monitor)
        x = _number(raw)
        if x is None:
            self._skip(stream, twin_id, f"not a number: {raw!r:.80}")
            return
        if stream.last_t is not None and t <= stream.last_t:
            self._skip(
                stream,
                twin_id,
                f"source time {_when(t).isoformat()} is not after the last one "
                f"({_when(stream.last_t).isoformat()})",
            )
            return
        stream.last_t = t
        if stream.first_t is None:
            stream.first_t = t
        if stream.detector is not None and t - stream.first_t < monitor.settle:
            stream.skipped += 1
            stream.last_skip = f"settling: the first {monitor.settle:g} s are not scored"
            return
        stream.samples += 1
        if stream.detector is not None:
            assert isinstance(stream.detector, Detector)
            try:
                score = stream.detector.process_one(t, x)
            except Exception:
                log.exception("detector of monitor %s on %s failed", monitor.name, twin_id)
                score = NON_FINITE_SCORE
                stream.last_skip = "the detector failed on this value (see the log)"
            if not math.isfinite(x):
                stream.last_skip = f"non-finite value {x!r} scored {NON_FINITE_SCORE}"
            stream.score = score
            stream.value = x
            self._judge(twin_id, stream, score, x, t)
            self._publish_score(twin_id, stream, score, t)
        else:
            stream.value = x
            self._judge(twin_id, stream, x, x, t)

    def _vector(self, twin_id: str, monitor: Monitor, payload: Mapping[str, Any], t: float) -> None:
        """A sample time of a multi-stream monitor: note the streams' new values, then
        score the vector once if all are fresh (see the module notes)."""
        stream = self._stream(twin_id, monitor)
        assert monitor.streams is not None and isinstance(stream.detector, MultiDetector)
        if stream.last_t is not None and t < stream.last_t:
            self._skip(
                stream,
                twin_id,
                f"source time {_when(t).isoformat()} is before the last one "
                f"({_when(stream.last_t).isoformat()})",
            )
            return
        if stream.pending_time is not None and t > stream.pending_time:
            self._score_vector(twin_id, stream, stream.pending_time)
        for name in monitor.streams:
            if name in payload:
                x = _number(payload[name])
                if x is None:
                    self._skip(stream, twin_id, f"{name} is not a number: {payload[name]!r:.80}")
                    return
                if name not in stream.latest or stream.latest[name][0] <= t:
                    stream.latest[name] = (t, x)
        if stream.last_t == t:
            return  # a late piece of a sample time scored already
        if all(name in stream.latest and stream.latest[name][0] == t for name in monitor.streams):
            self._score_vector(twin_id, stream, t)
        else:
            stream.pending_time = t  # the rest may still come, in another message

    def _score_vector(self, twin_id: str, stream: _Stream, t: float) -> None:
        monitor = stream.monitor
        assert monitor.streams is not None and isinstance(stream.detector, MultiDetector)
        stream.pending_time = None
        stale = [
            name
            for name in monitor.streams
            if name not in stream.latest or t - stream.latest[name][0] > monitor.fresh
        ]
        if stale:
            self._skip(
                stream,
                twin_id,
                f"no value of {', '.join(stale)} within {monitor.fresh:g} s before this one",
            )
            return
        stream.last_t = t
        if stream.first_t is None:
            stream.first_t = t
        if t - stream.first_t < monitor.settle:
            stream.skipped += 1
            stream.last_skip = f"settling: the first {monitor.settle:g} s are not scored"
            return
        stream.samples += 1
        values = {name: stream.latest[name][1] for name in monitor.streams}
        try:
            score = stream.detector.process_one(t, values)
        except Exception:
            log.exception("detector of monitor %s on %s failed", monitor.name, twin_id)
            score = NON_FINITE_SCORE
            stream.detector.last_reason = "the detector failed on this vector (see the log)"
        if stream.detector.last_reason is not None:
            stream.last_skip = stream.detector.last_reason
        stream.score = score
        stream.value = None
        self._judge(twin_id, stream, score, score, t)
        self._publish_score(twin_id, stream, score, t)

    def _publish_score(self, twin_id: str, stream: _Stream, score: float, t: float) -> None:
        """The score as derived telemetry of the twin, named by the monitor's model
        version; at most once per ``publish_every`` seconds of source time."""
        monitor = stream.monitor
        version = self.versions.get(monitor.name)
        if monitor.publish is None or self._publish is None or version is None:
            return
        if t - stream.last_published < monitor.publish_every:
            return
        stream.last_published = t
        try:
            self._publish(
                twin_id,
                {monitor.publish: score},
                _when(t),
                produced_by(model_name(monitor), version),
            )
        except Exception:
            log.exception("score of monitor %s on %s not published", monitor.name, twin_id)

    def _judge(self, twin_id: str, stream: _Stream, signal: float, x: float, t: float) -> None:
        """Feed the signal (a score, or the value for a limit) to each side's hysteresis
        and raise, refresh or clear its alarm."""
        monitor = stream.monitor
        for side in stream.sides:
            if monitor.limit is not None and not self._set_bound(twin_id, monitor, side):
                continue
            transition = side.hysteresis.update(signal)
            if transition == "clear":
                self._alarms.clear(twin_id, side.condition, value=x, time=_when(t))
                side.last_report = -math.inf
                continue
            refresh = (
                side.hysteresis.active
                and self._still_bad(side, signal)
                and t - side.last_report >= monitor.alarm.repeat
            )
            if transition == "raise" or refresh:
                self._alarms.report(
                    twin_id,
                    side.condition,
                    source=self._source(monitor),
                    severity=monitor.alarm.severity,
                    message=self._message(monitor, side, signal, x),
                    value=x,
                    time=_when(t),
                )
                side.last_report = t

    @staticmethod
    def _still_bad(side: _Side, signal: float) -> bool:
        """Whether a value seen while the alarm is on is itself beyond the raise threshold
        (only those refresh the alarm; values between the thresholds just hold it)."""
        h = side.hysteresis
        if not math.isfinite(signal):
            return False
        return signal >= h.raise_at if h.direction == "above" else signal <= h.raise_at

    def _set_bound(self, twin_id: str, monitor: Monitor, side: _Side) -> bool:
        """Set a limit side's thresholds from its bound (a number or a property of the
        twin now); ``False`` when the twin has no usable bound (the side is skipped)."""
        limit = monitor.limit
        assert limit is not None
        h = side.hysteresis
        raw = limit.above if h.direction == "above" else limit.below
        bound = _number(_path(self._twin(twin_id), raw)) if isinstance(raw, str) else raw
        if bound is None or not math.isfinite(bound):
            return False
        side.bound = bound
        h.raise_at = bound
        h.clear_at = bound - limit.deadband if h.direction == "above" else bound + limit.deadband
        return True

    def _source(self, monitor: Monitor) -> str:
        if monitor.limit is not None:
            return f"limit (monitor {monitor.name}; twinsight {twinsight.__version__})"
        version = self.versions.get(monitor.name)
        model = f"model {model_name(monitor)} v{version}; " if version is not None else ""
        return (
            f"detector {monitor.detector} (monitor {monitor.name}; {model}"
            f"twinsight {twinsight.__version__})"
        )

    @staticmethod
    def _message(monitor: Monitor, side: _Side, signal: float, x: float) -> str:
        if monitor.limit is not None:
            where = "over the high" if side.hysteresis.direction == "above" else "under the low"
            return f"{monitor.signal} {x:.4g} is {where} limit {side.bound:g}"
        if monitor.streams is not None:
            return (
                f"{monitor.signal} look anomalous together: score {signal:.3f} "
                f"(alarm at {side.hysteresis.raise_at:g}, {monitor.detector})"
            )
        return (
            f"{monitor.signal} looks anomalous: score {signal:.3f} "
            f"(alarm at {side.hysteresis.raise_at:g}, {monitor.detector}), value {x:.4g}"
        )

    # ------------------------------------------------------------------ residuals

    def _residual(
        self, twin_id: str, monitor: Monitor, payload: Mapping[str, Any], t: float
    ) -> None:
        spec = monitor.residual
        assert spec is not None
        names = (spec.measured, spec.estimate, spec.std)
        if not any(n is not None and n in payload for n in names):
            return
        stream = self._stream(twin_id, monitor)
        if spec.estimate in payload or (spec.std is not None and spec.std in payload):
            estimate = _number(payload.get(spec.estimate))
            std = _number(payload.get(spec.std)) if spec.std is not None else None
            last = stream.estimates[-1] if stream.estimates else None
            if last is not None and last[0] == t:  # estimate and std in two messages
                last[1] = estimate if estimate is not None else last[1]
                last[2] = std if std is not None else last[2]
            elif last is not None and t < last[0]:
                self._skip(stream, twin_id, "an estimate's source time went back")
            else:
                stream.estimates.append([t, estimate, std])
        if spec.measured in payload:
            measured = _number(payload[spec.measured])
            if measured is None:
                self._skip(
                    stream,
                    twin_id,
                    f"measured value is not a number: {payload[spec.measured]!r:.80}",
                )
            else:
                stream.pending.append((t, measured))
        self._pair(twin_id, stream)

    def _pair(self, twin_id: str, stream: _Stream) -> None:
        """Resolve waiting measurements: with the estimate at their time, or — once an
        estimate after them shows theirs will not come, or too many wait — with the latest
        estimate before them, within ``max_lag``."""
        spec = stream.monitor.residual
        assert spec is not None
        newest = stream.estimates[-1][0] if stream.estimates else -math.inf
        while stream.pending:
            tm, measured = stream.pending[0]
            exact = next((e for e in reversed(stream.estimates) if e[0] == tm), None)
            if exact is None and newest <= tm and len(stream.pending) <= MAX_PENDING:
                return  # its estimate may still come
            stream.pending.popleft()
            chosen = exact or next((e for e in reversed(stream.estimates) if e[0] <= tm), None)
            if chosen is None or tm - chosen[0] > spec.max_lag:
                self._skip(stream, twin_id, f"no estimate within {spec.max_lag:g} s before")
                continue
            _, estimate, std = chosen
            if estimate is None:
                self._skip(stream, twin_id, "the estimate is not a number")
                continue
            residual = measured - estimate
            if spec.std is not None:
                if std is None or not std > 0:
                    self._skip(stream, twin_id, f"no positive {spec.std} with the estimate")
                    continue
                residual /= std
            self._sample(twin_id, stream.monitor, residual, tm)
