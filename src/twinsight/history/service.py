"""The history query API for Python users (the HTTP routes and the CLI call the same).

Every method accepts times as ISO 8601 strings or datetimes, series as ``"twin/name"``
strings or :class:`~twinsight.core.ports.SeriesKey`, and buckets as ``"15s"``, ``"1m"``,
``"1h"``. Bad input raises :class:`~twinsight.core.errors.BadRequest` with a message that
names the problem, which the API answers as a 400.

>>> from datetime import UTC, datetime
>>> from twinsight.hub import Hub
>>> from twinsight.core.ports import HistoryPoint
>>> with Hub() as hub:
...     t = datetime(2026, 1, 1, tzinfo=UTC)
...     _ = hub.history.append([
...         HistoryPoint("pump-1", "temperature", "telemetry", t.replace(second=s), 20.0 + s)
...         for s in range(0, 60, 10)
...     ])
...     [p.value for p in hub.history.range("pump-1/temperature", limit=3)]
...     hub.history.latest(["pump-1/temperature"])[0].value
...     b = hub.history.aggregate("pump-1/temperature", "2026-01-01T00:00:00Z",
...                               "2026-01-01T00:01:00Z", bucket="30s", functions=["avg", "max"])
...     [(x.start.second, x.values) for x in b["pump-1/temperature"]]
[20.0, 30.0, 40.0]
70.0
[(0, {'avg': 30.0, 'max': 40.0}), (30, {'avg': 60.0, 'max': 70.0})]
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
from numpy.typing import NDArray

from twinsight.core.clock import Clock
from twinsight.core.errors import BadRequest
from twinsight.core.ports import (
    AGGREGATE_FUNCTIONS,
    Bucket,
    HistoryKind,
    HistoryPoint,
    HistoryStore,
    SeriesInfo,
    SeriesKey,
)
from twinsight.history.export import csv_chunks, parquet_chunks
from twinsight.history.retention import RetentionPolicy

TimeLike = str | datetime
SeriesLike = str | SeriesKey | tuple[str, str]

MAX_LIMIT = 100_000
"""Largest page of raw points one call returns (export streams instead)."""
MAX_BUCKETS = 100_000
"""Most buckets one aggregate may produce: a typo like ``bucket=1s`` over a year would
otherwise ask the database for 31 million rows."""
EXPORT_CHUNK = 50_000

_BUCKET = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_ONE_US = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _plain(column: Sequence[Any] | NDArray[Any]) -> Sequence[Any]:
    """A column as Python values (a store may not take numpy scalars)."""
    return column.tolist() if isinstance(column, np.ndarray) else column


def parse_time(value: TimeLike | None, what: str = "time") -> datetime | None:
    """An aware UTC datetime from an ISO 8601 string (``Z`` allowed) or a datetime; naive
    values are taken as UTC.

    >>> parse_time("2026-01-01T00:00:00Z").isoformat()
    '2026-01-01T00:00:00+00:00'
    """
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise BadRequest(
                f"{what} {value!r} is not an ISO 8601 date-time (e.g. 2026-01-01T00:00:00Z)",
                code="InvalidArgument",
            ) from None
    if not isinstance(value, datetime):
        raise BadRequest(f"{what} must be a date-time, not {value!r}", code="InvalidArgument")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_bucket(value: str | float | timedelta) -> float:
    """Bucket width in seconds from ``"500ms"``, ``"15s"``, ``"1m"``, ``"1h"``, ``"1d"``,
    ``"1w"``, a number of seconds or a timedelta.

    >>> parse_bucket("15s"), parse_bucket("1m"), parse_bucket("1h")
    (15.0, 60.0, 3600.0)
    """
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _BUCKET.match(value)
        if match is None:
            raise BadRequest(
                f"bucket {value!r} is not a duration like 500ms, 15s, 1m, 1h, 1d or 1w",
                code="InvalidArgument",
            )
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]
    if seconds < 0.000001:
        raise BadRequest(f"bucket {value!r} must be at least 1 µs long", code="InvalidArgument")
    return seconds


def parse_series(value: SeriesLike) -> SeriesKey:
    """A series from ``"twin/name"`` (twin ids never contain ``/``), a pair or a key.

    >>> parse_series("pump-1/bearing.wear")
    SeriesKey(twin_id='pump-1', name='bearing.wear')
    """
    if isinstance(value, SeriesKey):
        return value
    if isinstance(value, tuple):
        return SeriesKey(*value)
    twin, sep, name = value.partition("/")
    if not sep or not twin or not name:
        raise BadRequest(
            f"series {value!r} is not of the form TWIN/NAME (e.g. pump-1/temperature)",
            code="InvalidArgument",
        )
    return SeriesKey(twin, name)


class History:
    """Query, export and prune the recorded time series."""

    def __init__(
        self,
        store: HistoryStore,
        clock: Clock,
        retention: Sequence[RetentionPolicy] = (),
    ) -> None:
        self._store = store
        self._clock = clock
        self._policies = list(retention)
        self._retention_lock = threading.Lock()

    @property
    def store(self) -> HistoryStore:
        return self._store

    # ------------------------------------------------------------------ writes

    def append(self, points: Sequence[HistoryPoint]) -> int:
        """Record points now, in one transaction: durable when this returns (the ingest
        pipeline calls this before acknowledging a message). Returns how many were new."""
        return self._store.append(points)

    def append_rows(
        self,
        rows: Sequence[tuple[str, str, HistoryKind, datetime, Any]],
        columns: Sequence[
            tuple[
                str,
                str,
                HistoryKind,
                Sequence[int] | NDArray[np.int64],
                Sequence[Any] | NDArray[np.float64],
            ]
        ] = (),
    ) -> int:
        """:meth:`append` for ``(twin_id, name, kind, time, value)`` tuples and for
        ``(twin_id, name, kind, times, values)`` columns with times in microseconds since
        the epoch (the ingest path: a SenML pack's samples), in one transaction and without
        a :class:`HistoryPoint` per value where the store allows. A column may be numpy
        arrays (int64 times, float64 values): the ingest pipeline keeps them so."""
        fast = getattr(self._store, "append_rows", None)
        if fast is not None:
            return int(fast(rows, columns) if columns else fast(rows))
        points = [HistoryPoint(*row) for row in rows]
        for twin_id, name, kind, times, values in columns:
            points.extend(
                HistoryPoint(twin_id, name, kind, _EPOCH + timedelta(microseconds=us), value)
                for us, value in zip(_plain(times), _plain(values), strict=True)
            )
        return self._store.append(points)

    # ------------------------------------------------------------------- reads

    def series(
        self,
        twin: str | None = None,
        prefix: str | None = None,
        kind: HistoryKind | None = None,
    ) -> list[SeriesInfo]:
        """Known series (optionally of one twin, with names starting with ``prefix``)."""
        return self._store.list_series(twin_id=twin, prefix=prefix, kind=kind)

    def _window(
        self, start: TimeLike | None, end: TimeLike | None
    ) -> tuple[datetime | None, datetime | None]:
        lo = parse_time(start, "start")
        hi = parse_time(end, "end")
        if lo is not None and hi is not None and hi < lo:
            raise BadRequest(
                f"end {hi.isoformat()} is before start {lo.isoformat()}", code="InvalidArgument"
            )
        return lo, hi

    def _known(self, series: SeriesLike) -> SeriesKey:
        key = parse_series(series)
        if not self._store.latest([key]):
            raise BadRequest(f"there is no recorded series {str(key)!r}", code="SeriesNotFound")
        return key

    def range(
        self,
        series: SeriesLike,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        *,
        limit: int = 1000,
        order: Literal["asc", "desc"] = "asc",
    ) -> list[HistoryPoint]:
        """Raw points with ``start <= time < end`` (both optional), oldest first (or newest
        first with ``order="desc"``), at most ``limit`` (up to :data:`MAX_LIMIT`)."""
        key = self._known(series)
        lo, hi = self._window(start, end)
        if not 1 <= limit <= MAX_LIMIT:
            raise BadRequest(f"limit must be 1..{MAX_LIMIT}, not {limit}", code="InvalidArgument")
        if order not in ("asc", "desc"):
            raise BadRequest(f"order must be asc or desc, not {order!r}", code="InvalidArgument")
        return self._store.range(key, lo, hi, limit=limit, descending=order == "desc")

    def latest(self, series: Iterable[SeriesLike]) -> list[HistoryPoint]:
        """The newest point (by source time) of each series that has one."""
        return self._store.latest([parse_series(s) for s in series])

    def aggregate(
        self,
        series: SeriesLike | Iterable[SeriesLike],
        start: TimeLike,
        end: TimeLike | None = None,
        *,
        bucket: str | float | timedelta = "1m",
        functions: Iterable[str] = ("avg",),
    ) -> dict[str, list[Bucket]]:
        """Time-bucket aggregates per series (keyed ``"twin/name"``), computed in the
        database. Buckets are aligned to the epoch (a 1m bucket starts on a whole minute)
        and empty ones are left out. ``end`` defaults to now."""
        keys = [
            self._known(s)
            for s in ([series] if isinstance(series, str | SeriesKey | tuple) else series)
        ]
        if not keys:
            raise BadRequest("name at least one series", code="InvalidArgument")
        fns = list(dict.fromkeys(functions))
        unknown = [f for f in fns if f not in AGGREGATE_FUNCTIONS]
        if unknown or not fns:
            raise BadRequest(
                f"unknown aggregate function(s) {', '.join(unknown) or '(none given)'}; "
                f"use {', '.join(AGGREGATE_FUNCTIONS)}",
                code="InvalidArgument",
            )
        lo, hi = self._window(start, end if end is not None else self._clock.now())
        if lo is None or hi is None:
            raise BadRequest("an aggregate needs a start time", code="InvalidArgument")
        width = parse_bucket(bucket)
        buckets = (hi - lo).total_seconds() / width
        if buckets > MAX_BUCKETS:
            raise BadRequest(
                f"{buckets:.0f} buckets of {width:g} s between start and end; at most "
                f"{MAX_BUCKETS} are allowed: use a larger bucket or a shorter window",
                code="InvalidArgument",
            )
        return {str(k): self._store.aggregate(k, lo, hi, width, fns) for k in keys}

    def iter_points(
        self,
        series: Iterable[SeriesLike],
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        *,
        chunk: int = EXPORT_CHUNK,
    ) -> Iterator[list[HistoryPoint]]:
        """Every point of the series in the window, series by series in time order, in
        chunks of at most ``chunk``: keyset paging, so memory stays flat however much is
        exported and no read lock is held between chunks."""
        keys = [self._known(s) for s in series]
        lo, hi = self._window(start, end)
        for key in keys:
            cursor = lo
            while True:
                points = self._store.range(key, cursor, hi, limit=chunk)
                if points:
                    yield points
                if len(points) < chunk:
                    break
                cursor = points[-1].time + _ONE_US

    # ------------------------------------------------------------------ export

    def export_chunks(
        self,
        series: Iterable[SeriesLike],
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        *,
        format: Literal["csv", "parquet"] = "csv",
    ) -> Iterator[bytes]:
        """The export file as a stream of byte chunks (for an HTTP response or a file).
        Series and times are checked before the first chunk is produced."""
        keys = [self._known(s) for s in series]
        self._window(start, end)
        chunks = self.iter_points(keys, start, end)
        if format == "csv":
            return csv_chunks(chunks)
        if format == "parquet":
            return parquet_chunks(chunks)
        raise BadRequest(f"format must be csv or parquet, not {format!r}", code="InvalidArgument")

    def export(
        self,
        out: Path | str | IO[bytes],
        series: Iterable[SeriesLike],
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        *,
        format: Literal["csv", "parquet"] = "csv",
    ) -> int:
        """Write the export to a path or binary file; returns the bytes written."""
        chunks = self.export_chunks(series, start, end, format=format)
        if isinstance(out, Path | str):
            with open(out, "wb") as f:
                return sum(f.write(c) for c in chunks)
        return sum(out.write(c) for c in chunks)

    # --------------------------------------------------------------- retention

    @property
    def retention(self) -> list[RetentionPolicy]:
        return list(self._policies)

    def add_retention(self, policy: RetentionPolicy) -> None:
        self._policies.append(policy)

    def apply_retention(self, now: datetime | None = None) -> int:
        """Delete points older than their series' policy allows; returns how many.

        A series matched by several policies keeps the longest age; a series matched by
        none is kept forever."""
        now = now or self._clock.now()
        if not self._policies:
            return 0
        with self._retention_lock:
            by_age: dict[timedelta, list[SeriesKey]] = {}
            for info in self._store.list_series(stats=False):
                ages = [p.max_age for p in self._policies if p.matches(info.twin_id, info.name)]
                if ages:
                    by_age.setdefault(max(ages), []).append(info.key)
            return sum(self._store.delete_before(now - age, keys) for age, keys in by_age.items())
