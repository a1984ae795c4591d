"""Data quality per stream: rate, gaps, late and out-of-range values, rejects.

A read model fed only by the event bus (never by reading another service's tables):

- :class:`~twinsight.core.events.IngestBatch` for everything the ingest pipeline accepted
  (with arrival and source times) or rejected;
- :class:`~twinsight.core.events.TwinChanged` / :class:`~twinsight.core.events.TelemetryReceived`
  *not* marked ``recorded`` — values written through the twin API (ingest's own events are
  marked, and already counted from the batch).

Per series (twin, name) it keeps: message count; rate in messages/s over a sliding window
of arrival times (hub clock, so tests drive it with a ``ManualClock``); last seen; gaps —
an interval longer than ``gap_factor`` × the series' median interval, and "silent" when the
time since the last value already is; late values (source time older than the newest seen);
out-of-range values (declared :class:`RangeRule`) and non-finite numbers.

Why inline rather than queued: the work per value is a few dict and deque operations under a
lock, with no I/O, so the bus is never held for long and results are exact the moment the
write returns (tests need no waiting).

Memory is bounded: at most ``max_series`` series (later ones are counted in ``untracked``,
not tracked), at most ``ARRIVALS_CAP`` arrival times and ``INTERVALS_CAP`` intervals per
series (about 3 KB per series at worst), at most ``max_reject_keys`` reject sources.
"""

from __future__ import annotations

import fnmatch
import math
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC as _UTC
from datetime import datetime, timedelta
from itertools import repeat
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np
import yaml
from numpy.typing import NDArray

from twinsight.core.clock import Clock
from twinsight.core.columns import NumberColumn
from twinsight.core.errors import BadRequest
from twinsight.core.events import (
    EventBus,
    IngestBatch,
    TelemetryReceived,
    TelemetrySeries,
    TwinChanged,
)
from twinsight.streams.events import property_changes

ARRIVALS_CAP = 256
INTERVALS_CAP = 64


@dataclass(frozen=True, slots=True)
class RangeRule:
    """Expected range of a series: ``name`` (glob) on twins matching ``twin`` (glob) and/or
    of ``model`` (a DTMI, inheritance included). The first matching rule applies."""

    name: str
    min: float | None = None
    max: float | None = None
    model: str | None = None
    twin: str | None = None

    def applies(self, twin_id: str, name: str, lineage: frozenset[str]) -> bool:
        if not fnmatch.fnmatchcase(name, self.name):
            return False
        if self.twin is not None and not fnmatch.fnmatchcase(twin_id, self.twin):
            return False
        return self.model is None or self.model in lineage


@dataclass(frozen=True, slots=True)
class QualityConfig:
    """How quality is judged; see ``docs/streams.md`` for the YAML form (``quality:``)."""

    window_seconds: float = 60.0
    gap_factor: float = 3.0
    min_intervals: int = 5
    """Intervals a series needs before gaps are judged (a median of two is noise)."""
    max_series: int = 20_000
    max_reject_keys: int = 10_000
    ranges: tuple[RangeRule, ...] = ()


_CONFIG_KEYS = {
    "window": "window_seconds",
    "gapFactor": "gap_factor",
    "minIntervals": "min_intervals",
    "maxSeries": "max_series",
    "maxRejectSources": "max_reject_keys",
}
_RULE_KEYS = frozenset({"name", "min", "max", "model", "twin"})


def _number(where: str, value: Any, *, positive: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadRequest(f"{where} must be a finite number, not {value!r}", code="InvalidArgument")
    if positive and value <= 0:
        raise BadRequest(f"{where} must be positive, not {value!r}", code="InvalidArgument")
    return float(value)


def parse_quality(document: Any, source: str = "quality") -> QualityConfig:
    """Read the ``quality:`` section of a decoded YAML/JSON document (other top-level keys,
    e.g. ``mappings:``, are ignored, so it may live in the mapping file)."""
    if not isinstance(document, Mapping):
        raise BadRequest(f"{source}: expected a mapping at the top", code="InvalidArgument")
    section = document.get("quality", {}) or {}
    if not isinstance(section, Mapping):
        raise BadRequest(f"{source}: 'quality' must be a mapping", code="InvalidArgument")
    options: dict[str, Any] = {}
    for key, value in section.items():
        if key == "ranges":
            continue
        if key not in _CONFIG_KEYS:
            raise BadRequest(
                f"{source}: unknown quality key {key!r}; use ranges, {', '.join(_CONFIG_KEYS)}",
                code="InvalidArgument",
            )
        number = _number(f"{source}: quality.{key}", value)
        options[_CONFIG_KEYS[key]] = (
            int(number) if key in ("minIntervals", "maxSeries", "maxRejectSources") else number
        )
    raw_rules = section.get("ranges", []) or []
    if not isinstance(raw_rules, list):
        raise BadRequest(f"{source}: quality.ranges must be a list", code="InvalidArgument")
    rules: list[RangeRule] = []
    for i, raw in enumerate(raw_rules):
        where = f"{source}: quality.ranges[{i}]"
        if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
            raise BadRequest(f"{where} needs a 'name' (glob)", code="InvalidArgument")
        unknown = set(raw) - _RULE_KEYS
        if unknown:
            raise BadRequest(
                f"{where}: unknown key(s) {sorted(unknown)}; use {sorted(_RULE_KEYS)}",
                code="InvalidArgument",
            )
        low = _number(f"{where}.min", raw["min"], positive=False) if "min" in raw else None
        high = _number(f"{where}.max", raw["max"], positive=False) if "max" in raw else None
        if low is None and high is None:
            raise BadRequest(f"{where} needs 'min' and/or 'max'", code="InvalidArgument")
        if low is not None and high is not None and low > high:
            raise BadRequest(f"{where}: min {low} is above max {high}", code="InvalidArgument")
        for key in ("model", "twin"):
            if key in raw and not isinstance(raw[key], str):
                raise BadRequest(f"{where}.{key} must be a string", code="InvalidArgument")
        rules.append(RangeRule(raw["name"], low, high, raw.get("model"), raw.get("twin")))
    return QualityConfig(**options, ranges=tuple(rules))


def load_quality_file(path: Path | str) -> QualityConfig:
    """Load a YAML (or JSON) file's ``quality:`` section."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise BadRequest(f"{path}: not valid YAML: {exc}", code="InvalidArgument") from exc
    except UnicodeDecodeError as exc:
        raise BadRequest(
            f"{path}: byte {exc.start} is not valid UTF-8", code="InvalidArgument"
        ) from exc
    except OSError as exc:
        raise BadRequest(
            f"{path}: cannot be read: {exc.strerror or exc}", code="InvalidArgument"
        ) from exc
    return parse_quality(document, str(path))


@dataclass(slots=True)
class _Series:
    twin_id: str
    name: str
    kind: str
    limits: RangeRule | None
    first_seen: float
    count: int = 0
    last_arrival: float | None = None
    last_value: Any = None
    newest_source: datetime | None = None
    arrivals: deque[float] = field(default_factory=lambda: deque(maxlen=ARRIVALS_CAP))
    intervals: deque[float] = field(default_factory=lambda: deque(maxlen=INTERVALS_CAP))
    gaps: int = 0
    longest_gap: float = 0.0
    last_gap: tuple[float, float] | None = None
    late: int = 0
    out_of_range: int = 0
    non_finite: int = 0
    last_problem: str | None = None


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=_UTC).isoformat().replace("+00:00", "Z")


_ISO_Z = re.compile(r"Z$")


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(_ISO_Z.sub("+00:00", value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=_UTC)


_EPOCH = datetime(1970, 1, 1, tzinfo=_UTC)


def _float_array(values: Sequence[Any]) -> NDArray[np.float64] | None:
    """A column of Python floats (or a float :class:`NumberColumn`) as one float64 array,
    or ``None`` when any value is something else (an int, a bool, a text)."""
    if isinstance(values, NumberColumn):
        array = np.asarray(values)
        return array if array.dtype == np.float64 else None
    if set(map(type, values)) != {float}:
        return None
    return np.asarray(values, dtype=np.float64)


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _flatten(payload: Mapping[str, Any], prefix: str) -> Iterable[tuple[str, Any]]:
    for key, value in payload.items():
        if isinstance(value, Mapping):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield prefix + key, value


class QualityTracker:
    """The data-quality read model (see the module docstring)."""

    def __init__(
        self,
        bus: EventBus,
        clock: Clock,
        *,
        config: QualityConfig | None = None,
        model_of: Callable[[str], str] | None = None,
        lineage: Callable[[str], frozenset[str]] | None = None,
    ) -> None:
        self.clock = clock
        self.config = config or QualityConfig()
        self._model_of = model_of or (lambda _twin: "")
        self._lineage = lineage or (lambda model: frozenset((model,)))
        self._lock = threading.Lock()
        self._series: dict[tuple[str, str], _Series] = {}
        self._rejects: dict[tuple[str, str, str], list[Any]] = {}
        self.untracked = 0
        self._unsubscribe = [
            bus.subscribe(self._on_batch, IngestBatch),
            bus.subscribe(self._on_twin, TwinChanged),
            bus.subscribe(self._on_telemetry, TelemetryReceived, whole_series=True),
            bus.subscribe(self._on_series, TelemetrySeries),
        ]

    # ------------------------------------------------------------------ input

    def _on_batch(self, event: IngestBatch) -> None:
        with self._lock:
            for twin_id, name, kind, time, arrival, value in event.values:
                self._record(twin_id, name, kind, time, arrival, value)
            for twin_id, name, kind, arrival, times, values in event.columns:
                self._record_column(twin_id, name, kind, arrival, times, values)
            for source, address, client, reason in event.rejects:
                self._reject(source, address, client, reason, event.time)

    def _on_twin(self, event: TwinChanged) -> None:
        # Creation sets initial values (configuration, nameplate data): not a message of a
        # stream. Ingest's own events are "recorded" and already counted from its batch.
        if event.recorded or event.kind != "update" or event.new is None:
            return
        changes = property_changes(event.old, event.new)
        with self._lock:
            for name, change in changes.items():
                if change.get("removed"):
                    continue
                source = _parse_time(change.get("sourceTime"))
                self._record(event.twin_id, name, "property", source, event.time, change["value"])

    def _on_telemetry(self, event: TelemetryReceived) -> None:
        if event.recorded:
            return
        prefix = f"{event.component}." if event.component else ""
        with self._lock:
            for name, value in _flatten(event.payload, prefix):
                self._record(event.twin_id, name, "telemetry", event.source_time, event.time, value)

    def _on_series(self, event: TelemetrySeries) -> None:
        if event.recorded:  # counted from the ingest batch
            return
        prefix = f"{event.component}." if event.component else ""
        with self._lock:
            for name, column in event.values.items():
                times = [us for us, v in zip(event.times, column, strict=True) if v is not None]
                values = [v for v in column if v is not None]
                self._record_column(
                    event.twin_id, prefix + name, "telemetry", event.time, times, values
                )

    def _limits(self, twin_id: str, name: str) -> RangeRule | None:
        if not self.config.ranges:
            return None
        lineage = self._lineage(self._model_of(twin_id))
        for rule in self.config.ranges:
            if rule.applies(twin_id, name, lineage):
                return rule
        return None

    def _record(
        self,
        twin_id: str,
        name: str,
        kind: str,
        source_time: datetime | None,
        arrival: datetime,
        value: Any,
    ) -> None:
        cfg = self.config
        ts = arrival.timestamp()
        series = self._series.get((twin_id, name))
        if series is None:
            if len(self._series) >= cfg.max_series:
                self.untracked += 1
                return
            series = _Series(twin_id, name, kind, self._limits(twin_id, name), ts)
            self._series[(twin_id, name)] = series
        series.count += 1
        if series.last_arrival is not None:
            interval = ts - series.last_arrival
            if interval > 0:
                # The median is at least the window's minimum, so most intervals are cleared
                # by the cheap test and the median (a sort) runs only for candidate gaps.
                if len(series.intervals) >= cfg.min_intervals and interval > cfg.gap_factor * min(
                    series.intervals
                ):
                    typical = median(series.intervals)
                    if interval > cfg.gap_factor * typical:
                        series.gaps += 1
                        series.longest_gap = max(series.longest_gap, interval)
                        series.last_gap = (series.last_arrival, ts)
                series.intervals.append(interval)
        if series.last_arrival is None or ts >= series.last_arrival:
            series.last_arrival = ts
        series.arrivals.append(ts)
        series.last_value = value
        if source_time is not None:
            if series.newest_source is not None and source_time < series.newest_source:
                series.late += 1
                series.last_problem = f"late: source time {source_time.isoformat()}"
            else:
                series.newest_source = source_time
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value):
                series.non_finite += 1
                series.last_problem = f"non-finite value {value!r}"
            elif series.limits is not None:
                low, high = series.limits.min, series.limits.max
                if (low is not None and value < low) or (high is not None and value > high):
                    series.out_of_range += 1
                    series.last_problem = f"value {value!r} outside [{low}, {high}]"

    def _record_column(
        self,
        twin_id: str,
        name: str,
        kind: str,
        arrival: datetime,
        times: Sequence[int],
        values: Sequence[Any],
    ) -> None:
        """What :meth:`_record` does for each value of a column that arrived together (one
        arrival time; source times in µs), in O(1) Python steps when nothing is wrong.

        Why it is exact: with one arrival time only the first value can open an interval
        (the others are 0 s after it), so gaps and the rate need the arrival once and
        ``count``; a value is late only if its source time is below the newest so far,
        which for ascending times means only the first can be; range and finiteness are
        checked on the column at once. Anything else (late values inside the column,
        values out of range, non-numbers) takes the per-value path.

        A :class:`~twinsight.core.columns.NumberColumn` (what the ingest pipeline sends) is
        read as the arrays it holds, never as Python numbers, unless the per-value path
        is taken."""
        n = len(values)
        if n == 0:
            return
        numbers = _float_array(values)
        if numbers is None:  # not all floats: value by value
            for us, value in zip(times, values, strict=True):
                self._record(twin_id, name, kind, _from_us(us), arrival, value)
            return
        stamps = np.asarray(times, dtype=np.int64)
        series = self._series.get((twin_id, name))
        if series is None and n > 2:  # a new series: its first value makes it, as one by one
            self._record(twin_id, name, kind, _from_us(int(stamps[0])), arrival, float(numbers[0]))
            series = self._series.get((twin_id, name))
            stamps, numbers, n = stamps[1:], numbers[1:], n - 1
        if series is None or n < 2 or not self._column_is_clean(series, stamps, numbers):
            for us, value in zip(stamps.tolist(), numbers.tolist(), strict=True):
                self._record(twin_id, name, kind, _from_us(us), arrival, value)
            return
        # the first value does the interval and arrival bookkeeping; the rest only count
        self._record(twin_id, name, kind, _from_us(int(stamps[0])), arrival, float(numbers[0]))
        ts = arrival.timestamp()
        series.count += n - 1
        series.arrivals.extend(repeat(ts, min(n - 1, ARRIVALS_CAP)))
        series.last_value = float(numbers[-1])
        series.newest_source = _from_us(int(stamps[-1]))

    @staticmethod
    def _column_is_clean(
        series: _Series, stamps: NDArray[np.int64], numbers: NDArray[np.float64]
    ) -> bool:
        """Ascending times not older than the series' newest, finite floats within its
        expected range: the column adds no late, non-finite or out-of-range value."""
        if bool((stamps[1:] < stamps[:-1]).any()):
            return False
        newest = series.newest_source
        if newest is not None and _from_us(int(stamps[0])) < newest:
            return False
        if not np.isfinite(numbers).all():
            return False
        limits = series.limits
        if limits is not None:
            if limits.min is not None and float(numbers.min()) < limits.min:
                return False
            if limits.max is not None and float(numbers.max()) > limits.max:
                return False
        return True

    def _reject(self, source: str, address: str, client: str, reason: str, time: datetime) -> None:
        key = (source, address, client)
        entry = self._rejects.get(key)
        if entry is None:
            if len(self._rejects) >= self.config.max_reject_keys:
                key = ("*", "*", "*")  # one bucket for everything beyond the cap
                entry = self._rejects.get(key)
            if entry is None:
                entry = self._rejects[key] = [0, "", time]
        entry[0] += 1
        entry[1] = reason
        entry[2] = time

    # ------------------------------------------------------------------ output

    def _view(self, s: _Series, now: float) -> dict[str, Any]:
        cfg = self.config
        window_start = now - cfg.window_seconds
        recent = [t for t in s.arrivals if t >= window_start]
        rate: float | None
        if not recent:
            rate = 0.0
        elif len(recent) == ARRIVALS_CAP or s.first_seen > window_start:
            # The window is not fully covered by what we hold: rate over what we hold.
            span = now - recent[0]
            rate = len(recent) / span if span > 0 else None
        else:
            rate = len(recent) / cfg.window_seconds
        typical = median(s.intervals) if len(s.intervals) >= cfg.min_intervals else None
        quiet = now - s.last_arrival if s.last_arrival is not None else None
        silent = typical is not None and quiet is not None and quiet > cfg.gap_factor * typical
        problems = s.gaps + s.late + s.out_of_range + s.non_finite
        return {
            "twinId": s.twin_id,
            "name": s.name,
            "kind": s.kind,
            "count": s.count,
            "rate": round(rate, 6) if rate is not None else None,
            "lastSeen": _iso(s.last_arrival),
            "lastValue": s.last_value,
            "medianInterval": typical,
            "gaps": s.gaps,
            "longestGap": s.longest_gap or None,
            "lastGap": (
                {"from": _iso(s.last_gap[0]), "to": _iso(s.last_gap[1])} if s.last_gap else None
            ),
            "silent": silent,
            "silentFor": round(quiet, 6) if silent and quiet is not None else None,
            "late": s.late,
            "outOfRange": s.out_of_range,
            "nonFinite": s.non_finite,
            "expectedRange": (
                {"min": s.limits.min, "max": s.limits.max} if s.limits is not None else None
            ),
            "lastProblem": s.last_problem,
            "problems": problems + (1 if silent else 0),
        }

    def series(self, twin_id: str | None = None) -> list[dict[str, Any]]:
        """Every tracked series (of one twin), worst first: silent ones, then by problem
        count, then by twin and name."""
        now = self.clock.now().timestamp()
        with self._lock:
            views = [
                self._view(s, now)
                for s in self._series.values()
                if twin_id is None or s.twin_id == twin_id
            ]
        views.sort(key=lambda v: (not v["silent"], -v["problems"], v["twinId"], v["name"]))
        return views

    def summary(self, limit: int = 100) -> dict[str, Any]:
        views = self.series()
        with self._lock:
            rejects = sum(entry[0] for entry in self._rejects.values())
        return {
            "series": len(views),
            "untracked": self.untracked,
            "silent": sum(1 for v in views if v["silent"]),
            "gaps": sum(v["gaps"] for v in views),
            "late": sum(v["late"] for v in views),
            "outOfRange": sum(v["outOfRange"] for v in views),
            "nonFinite": sum(v["nonFinite"] for v in views),
            "rejects": rejects,
            "worst": views[:limit],
        }

    def rejects(self) -> list[dict[str, Any]]:
        """Rejected messages per source, address and client, most first."""
        with self._lock:
            rows = [
                {
                    "source": k[0],
                    "address": k[1],
                    "client": k[2],
                    "count": v[0],
                    "lastReason": v[1],
                    "lastTime": v[2].isoformat().replace("+00:00", "Z"),
                }
                for k, v in self._rejects.items()
            ]
        rows.sort(key=lambda r: (-r["count"], r["source"], r["address"], r["client"]))
        return rows

    def configure(self, config: QualityConfig) -> None:
        """Replace the configuration (e.g. after loading a ``quality:`` file at start-up);
        tracked series keep their figures and get the new expected ranges."""
        with self._lock:
            self.config = config
            for series in self._series.values():
                series.limits = self._limits(series.twin_id, series.name)

    def knows(self, twin_id: str) -> bool:
        with self._lock:
            return any(key[0] == twin_id for key in self._series)

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
