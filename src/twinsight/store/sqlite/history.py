"""SQLite implementation of :class:`twinsight.core.ports.HistoryStore`.

Layout, and why:

- ``history_series`` is a dictionary: each (twin, name) gets a small integer id once, so a
  point row carries 8 bytes of series id instead of two strings.
- ``history_points`` is a ``WITHOUT ROWID`` table keyed by ``(series_id, time)``: the
  clustered primary key *is* the index that range, latest and aggregate queries walk (rows
  of one series lie together in time order), and ``INSERT OR IGNORE`` on it records a
  duplicate (same series and time) once, without a second index to maintain.
- ``time`` is integer microseconds since the epoch (UTC): exact, compact, and bucketing is
  integer arithmetic inside SQL.
- ``num`` has no declared type, so integers stay integers and floats stay floats (booleans
  are stored as 0/1 so aggregates can use them); ``raw`` holds orjson bytes for anything
  else, and for booleans (so they read back as booleans). Aggregates read ``num`` only.

- ``history_blocks`` holds bulk arrivals packed: a column of at least ``BLOCK_MIN`` floats
  of one series with ascending times (a SenML pack's samples) is one row — first and last
  time, count, and the times (int64) and values (float64) as arrays — when nothing stored
  for the series lies in its time span. One SQLite row per value costs a few µs (the
  B-tree insert and its share of the WAL); a block costs that once per pack. A column that
  overlaps stored data is written as rows, and rows whose time a block already holds are
  skipped, so a (series, time) is stored once across both tables; every read (range,
  latest, aggregates, series statistics, counts, retention) reads both.

The hub gives history its own database file (``history.db``): the shared database
serialises every statement behind one lock, so a 100,000-point batch would make twin writes
wait for it. A second connection to the same file serves reads, which WAL lets run while
a batch commits (in-memory databases cannot be shared that way and use one connection).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from itertools import repeat
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from twinsight.core.ports import (
    AGGREGATE_FUNCTIONS,
    Bucket,
    HistoryKind,
    HistoryPoint,
    HistoryValue,
    SeriesInfo,
    SeriesKey,
)
from twinsight.store.sqlite.database import Database, Migration
from twinsight.store.sqlite.filters import Where

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_TRUE = orjson.dumps(True)
_FALSE = orjson.dumps(False)
_NUMERIC_AGGREGATES = {"avg": "avg(p.num)", "min": "min(p.num)", "max": "max(p.num)"}
MAX_SQL_VARIABLES = 500


def to_us(time: datetime) -> int:
    """Microseconds since the epoch; a naive datetime is taken as UTC."""
    if time.tzinfo is None:
        time = time.replace(tzinfo=UTC)
    return (time - EPOCH) // _US


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


Times = Sequence[int] | NDArray[np.int64]
"""A column's times, µs since the epoch: a sequence of ints or an int64 array."""
Values = Sequence[Any] | NDArray[np.float64]
"""A column's values: a sequence, or a float64 array."""


def _plain(column: Times | Values) -> Sequence[Any]:
    """A column as Python values for SQLite, which binds no numpy scalar."""
    return column.tolist() if isinstance(column, np.ndarray) else column


def _first(row: tuple[int, Any, bytes | None]) -> int:
    return row[0]


def _create_tables(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE history_series (
            id INTEGER PRIMARY KEY,
            twin_id TEXT NOT NULL,
            name TEXT NOT NULL,
            kind TEXT NOT NULL,
            UNIQUE (twin_id, name)
        )"""
    )
    conn.execute(
        """CREATE TABLE history_points (
            series_id INTEGER NOT NULL,
            time INTEGER NOT NULL,
            num,
            raw BLOB,
            PRIMARY KEY (series_id, time)
        ) WITHOUT ROWID"""
    )


def _create_blocks(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE history_blocks (
            series_id INTEGER NOT NULL,
            t0 INTEGER NOT NULL,
            t1 INTEGER NOT NULL,
            n INTEGER NOT NULL,
            times BLOB NOT NULL,
            nums BLOB NOT NULL,
            PRIMARY KEY (series_id, t0)
        ) WITHOUT ROWID"""
    )


MIGRATIONS: list[Migration] = [_create_tables, _create_blocks]

BLOCK_MIN = 32
"""Fewest values of a column stored as one block rather than as rows."""
_BLOCKS_FROM = (
    "FROM history_blocks WHERE series_id = :s AND t0 < :hi AND t0 >= coalesce("
    "(SELECT max(t0) FROM history_blocks WHERE series_id = :s AND t0 <= :lo), :lo)"
)
"""The blocks of series ``:s`` that hold times in ``[:lo, :hi)``: blocks never overlap, so
of those starting at or before ``:lo`` only the last can reach into the window."""
_LOW = -(2**62)
_HIGH = 2**62


def _encode(value: HistoryValue) -> tuple[Any, bytes | None]:
    if value is True:
        return 1, _TRUE
    if value is False:
        return 0, _FALSE
    if isinstance(value, int | float):
        return value, None
    return None, orjson.dumps(value)


def _decode(num: Any, raw: bytes | None) -> HistoryValue:
    if raw is not None:
        value: HistoryValue = orjson.loads(raw)
        return value
    return num  # type: ignore[no-any-return]


def _bucket_of(us: int, width: int) -> int:
    """``time - (time % width)`` as SQLite computes it (the remainder takes the sign of the
    time), so packed and row storage put a point in the same bucket."""
    return us - (us % width if us >= 0 else -(-us % width))


def _aggregate(
    points: list[tuple[int, Any, bytes | None]], width: int, functions: Sequence[str]
) -> list[Bucket]:
    """What the aggregate query computes, over ``(time, num, raw)`` in time order: the same
    definitions (``avg``/``min``/``max``/``sum`` of numbers, booleans as 0/1; ``count`` of
    every point; ``first``/``last`` at the bucket's edges), sums accumulated in time order."""
    buckets: list[Bucket] = []
    start = 0
    while start < len(points):
        b = _bucket_of(points[start][0], width)
        stop = start + 1
        while stop < len(points) and _bucket_of(points[stop][0], width) == b:
            stop += 1
        group = points[start:stop]
        numbers = [num for _, num, _ in group if num is not None]
        values: dict[str, HistoryValue | None] = {}
        for fn in functions:
            if fn == "count":
                values[fn] = len(group)
            elif fn == "first":
                values[fn] = _decode(group[0][1], group[0][2])
            elif fn == "last":
                values[fn] = _decode(group[-1][1], group[-1][2])
            elif not numbers:
                values[fn] = None
            elif fn == "min":
                values[fn] = min(numbers)
            elif fn == "max":
                values[fn] = max(numbers)
            else:
                total: float = 0.0
                for number in numbers:
                    total += number
                if fn == "avg":
                    values[fn] = total / len(numbers)
                elif all(number.__class__ is int for number in numbers):
                    values[fn] = sum(numbers)
                else:
                    values[fn] = total
        buckets.append(Bucket(from_us(b), values))
        start = stop
    return buckets


class SqliteHistoryStore:
    """Time series in SQLite: ``write_db`` takes appends, ``read_db`` (optional, a second
    connection to the same file) answers queries without waiting for a running append."""

    def __init__(self, write_db: Database, read_db: Database | None = None) -> None:
        self._db = write_db
        self._read = read_db or write_db
        write_db.migrate("history", MIGRATIONS)
        self._ids: dict[tuple[str, str], int] = {}
        self._kinds: dict[int, HistoryKind] = {}  # a series' kind never changes
        self._blocked: set[int] = set()
        """Series that have blocks: rows of other series need no check against blocks."""
        self._data_version: int | None = None
        self._load_ids()

    def _load_ids(self) -> None:
        rows = self._db.read(
            lambda c: c.execute("SELECT twin_id, name, id FROM history_series").fetchall()
        )
        self._ids = {(t, n): i for t, n, i in rows}

    # ------------------------------------------------------------------ writes

    def append(self, points: Sequence[HistoryPoint]) -> int:
        if not points:
            return 0
        return self.append_rows([(p.twin_id, p.name, p.kind, p.time, p.value) for p in points])

    def append_rows(
        self,
        rows: Sequence[tuple[str, str, HistoryKind, datetime, Any]],
        columns: Sequence[tuple[str, str, HistoryKind, Times, Values]] = (),
    ) -> int:
        """:meth:`append` for ``(twin_id, name, kind, time, value)`` tuples and for columns
        ``(twin_id, name, kind, times, values)`` (times in µs since the epoch), in one
        transaction: the ingest pipeline has them already, and skips building a
        :class:`HistoryPoint` per value. A column may be numpy arrays (int64 times,
        float64 values), which a block stores as they are."""
        if not rows and not columns:
            return 0
        ids = self._ids
        with self._db.transaction() as conn:
            out: list[tuple[int, int, Any, bytes | None]] = []
            append = out.append
            new_ids: dict[tuple[str, str], int] = {}
            # The fields of one message share one datetime object: convert it once.
            last_time: datetime | None = None
            us = 0
            for twin_id, name, kind, time, value in rows:
                key = (twin_id, name)
                sid = ids.get(key) or new_ids.get(key)
                if sid is None:
                    sid = self._series_id(conn, twin_id, name, kind)
                    new_ids[key] = sid
                if time is not last_time:
                    last_time = time
                    us = (
                        (time - EPOCH) // _US
                        if time.tzinfo is not None
                        else (time.replace(tzinfo=UTC) - EPOCH) // _US
                    )
                if value.__class__ is float or value.__class__ is int:
                    append((sid, us, value, None))
                else:
                    num, raw = _encode(value)
                    append((sid, us, num, raw))
            candidates: list[tuple[int, Times, Values]] = []
            for twin_id, name, kind, times, values in columns:
                key = (twin_id, name)
                sid = ids.get(key) or new_ids.get(key)
                if sid is None:
                    sid = self._series_id(conn, twin_id, name, kind)
                    new_ids[key] = sid
                if isinstance(values, np.ndarray):  # floats, as the ingest pipeline gives them
                    if len(values) >= BLOCK_MIN and values.dtype == np.float64:
                        candidates.append((sid, times, values))
                    else:
                        out.extend(zip(repeat(sid), _plain(times), _plain(values), repeat(None)))
                elif len(values) >= BLOCK_MIN and set(map(type, values)) == {float}:
                    candidates.append((sid, times, values))
                elif all(v.__class__ is float or v.__class__ is int for v in values):
                    out.extend(zip(repeat(sid), times, values, repeat(None)))
                else:
                    for us, value in zip(times, values, strict=True):
                        append((sid, us, *_encode(value)))
            blocked = self._refresh(conn)
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO history_points (series_id, time, num, raw)"
                " VALUES (?, ?, ?, ?)",
                self._not_in_blocks(conn, out, blocked) if blocked else out,
            )
            added = conn.total_changes - before
            new_blocked: set[int] = set()
            for sid, times, values in candidates:
                count, packed = self._append_block(conn, sid, times, values, blocked | new_blocked)
                added += count
                if packed:
                    new_blocked.add(sid)
        self._blocked |= new_blocked
        # Only after the commit: a rolled-back series id must not be remembered.
        ids.update(new_ids)
        return added

    def _refresh(self, conn: sqlite3.Connection) -> set[int]:
        """The series with blocks, re-read when another connection (another process) has
        written to the file since this one last looked: what this store remembers is then
        stale. Called inside the write transaction, so nothing changes until it ends."""
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._data_version:
            self._data_version = version
            self._blocked = {
                sid for (sid,) in conn.execute("SELECT DISTINCT series_id FROM history_blocks")
            }
        return self._blocked

    def _append_block(
        self,
        conn: sqlite3.Connection,
        sid: int,
        times: Times,
        values: Values,
        blocked: set[int],
    ) -> tuple[int, bool]:
        """Store a column as one block if its times ascend strictly and nothing stored lies
        in its span, else as rows (skipping times a block holds); returns how many values
        were added and whether they went in as a block."""
        stamps = np.asarray(times, dtype=np.int64)
        t0, t1 = int(stamps[0]), int(stamps[-1])
        if bool((stamps[1:] > stamps[:-1]).all()) and not self._overlaps(conn, sid, t0, t1):
            conn.execute(
                "INSERT INTO history_blocks (series_id, t0, t1, n, times, nums)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    sid,
                    t0,
                    t1,
                    len(stamps),
                    stamps.tobytes(),
                    np.asarray(values, dtype=np.float64).tobytes(),
                ),
            )
            return len(stamps), True
        rows: list[tuple[int, int, Any, bytes | None]] = list(
            zip(repeat(sid), _plain(times), _plain(values), repeat(None))
        )
        before = conn.total_changes
        conn.executemany(
            "INSERT OR IGNORE INTO history_points (series_id, time, num, raw) VALUES (?, ?, ?, ?)",
            self._not_in_blocks(conn, rows, blocked | {sid}),
        )
        return conn.total_changes - before, False

    @staticmethod
    def _overlaps(conn: sqlite3.Connection, sid: int, t0: int, t1: int) -> bool:
        row = conn.execute(
            "SELECT 1 FROM history_points WHERE series_id = ? AND time BETWEEN ? AND ? LIMIT 1",
            (sid, t0, t1),
        ).fetchone()
        if row is not None:
            return True
        last = conn.execute(
            "SELECT t1 FROM history_blocks WHERE series_id = ? AND t0 <= ?"
            " ORDER BY t0 DESC LIMIT 1",
            (sid, t1),
        ).fetchone()
        return last is not None and last[0] >= t0

    @staticmethod
    def _not_in_blocks(
        conn: sqlite3.Connection, rows: list[tuple[int, int, Any, bytes | None]], blocked: set[int]
    ) -> list[tuple[int, int, Any, bytes | None]]:
        """``rows`` without those whose (series, time) a block holds: first write wins."""
        spans: dict[int, list[int]] = {}
        for sid, us, _, _ in rows:
            if sid in blocked:
                span = spans.get(sid)
                if span is None:
                    spans[sid] = [us, us]
                elif us < span[0]:
                    span[0] = us
                elif us > span[1]:
                    span[1] = us
        if not spans:
            return rows
        held: set[tuple[int, int]] = set()
        for sid, (lo, hi) in spans.items():
            for (times,) in conn.execute(
                f"SELECT times {_BLOCKS_FROM}", {"s": sid, "lo": lo, "hi": hi + 1}
            ):
                held.update((sid, t) for t in np.frombuffer(times, dtype=np.int64).tolist())
        if not held:
            return rows
        return [row for row in rows if (row[0], row[1]) not in held]

    def append_series(
        self,
        twin_id: str,
        name: str,
        kind: HistoryKind,
        times_us: Sequence[int],
        values: Sequence[float],
    ) -> int:
        """Bulk-load one numeric series from columns (microsecond times, float values).

        Why: the per-point path builds a :class:`HistoryPoint` per value; a SenML pack or a
        back-fill already has columns, and skipping the objects roughly doubles throughput.
        """
        return self.append_rows((), [(twin_id, name, kind, times_us, values)])

    @staticmethod
    def _series_id(conn: sqlite3.Connection, twin_id: str, name: str, kind: str) -> int:
        row = conn.execute(
            "SELECT id FROM history_series WHERE twin_id = ? AND name = ?", (twin_id, name)
        ).fetchone()
        if row is not None:
            return int(row[0])
        cur = conn.execute(
            "INSERT INTO history_series (twin_id, name, kind) VALUES (?, ?, ?)",
            (twin_id, name, kind),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def delete_before(self, cutoff: datetime, series: Sequence[SeriesKey] | None = None) -> int:
        cut = to_us(cutoff)
        with self._db.transaction() as conn:
            before = conn.total_changes
            if series is None:
                conn.execute("DELETE FROM history_points WHERE time < ?", (cut,))
                removed = conn.total_changes - before
                removed += self._cut_blocks(conn, None, cut)
            else:
                for sid in self._known_ids(series):
                    conn.execute(
                        "DELETE FROM history_points WHERE series_id = ? AND time < ?", (sid, cut)
                    )
                removed = conn.total_changes - before
                for sid in self._known_ids(series):
                    removed += self._cut_blocks(conn, sid, cut)
            return removed

    @staticmethod
    def _cut_blocks(conn: sqlite3.Connection, sid: int | None, cut: int) -> int:
        """Remove the block points before ``cut`` (of one series or all): whole blocks that
        end before it, and the older part of a block that spans it; returns how many."""
        where = "" if sid is None else " AND series_id = :s"
        params = {"cut": cut, "s": sid}
        (removed,) = conn.execute(
            f"SELECT coalesce(sum(n), 0) FROM history_blocks WHERE t1 < :cut{where}", params
        ).fetchone()
        conn.execute(f"DELETE FROM history_blocks WHERE t1 < :cut{where}", params)
        spanning = conn.execute(
            "SELECT series_id, t0, times, nums FROM history_blocks"
            f" WHERE t0 < :cut AND t1 >= :cut{where}",
            params,
        ).fetchall()
        for series_id, t0, times, nums in spanning:
            stamps = np.frombuffer(times, dtype=np.int64)
            keep = stamps >= cut
            kept = stamps[keep]
            conn.execute(
                "DELETE FROM history_blocks WHERE series_id = ? AND t0 = ?", (series_id, t0)
            )
            conn.execute(
                "INSERT INTO history_blocks (series_id, t0, t1, n, times, nums)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    series_id,
                    int(kept[0]),
                    int(kept[-1]),
                    len(kept),
                    kept.tobytes(),
                    np.frombuffer(nums, dtype=np.float64)[keep].tobytes(),
                ),
            )
            removed += len(stamps) - len(kept)
        return int(removed)

    # ------------------------------------------------------------------- reads

    def _id_of(self, series: SeriesKey) -> int | None:
        key = (series.twin_id, series.name)
        sid = self._ids.get(key)
        if sid is None:  # maybe written by another process since we loaded the dictionary
            row = self._read.read(
                lambda c: c.execute(
                    "SELECT id FROM history_series WHERE twin_id = ? AND name = ?", key
                ).fetchone()
            )
            if row is not None:
                sid = int(row[0])
                self._ids[key] = sid
        return sid

    def _known_ids(self, series: Iterable[SeriesKey]) -> list[int]:
        return [sid for s in series if (sid := self._id_of(s)) is not None]

    def range(
        self,
        series: SeriesKey,
        start: datetime | None,
        end: datetime | None,
        *,
        limit: int,
        descending: bool = False,
    ) -> list[HistoryPoint]:
        sid = self._id_of(series)
        if sid is None or limit <= 0:
            return []
        kind = self._kind(sid)
        lo = to_us(start) if start is not None else _LOW
        hi = to_us(end) if end is not None else _HIGH
        rows = self._read.read(lambda c: self._points(c, sid, lo, hi, limit, descending))
        return [
            HistoryPoint(series.twin_id, series.name, kind, from_us(t), _decode(n, r))
            for t, n, r in rows
        ]

    @staticmethod
    def _points(
        c: sqlite3.Connection, sid: int, lo: int, hi: int, limit: int | None, descending: bool
    ) -> list[tuple[int, Any, bytes | None]]:
        """``(time, num, raw)`` of the series in ``[lo, hi)`` from rows and blocks, in time
        order (newest first if ``descending``), at most ``limit``."""
        order = "DESC" if descending else "ASC"
        rows: list[tuple[int, Any, bytes | None]] = c.execute(
            "SELECT time, num, raw FROM history_points"
            f" WHERE series_id = ? AND time >= ? AND time < ? ORDER BY time {order} LIMIT ?",
            (sid, lo, hi, -1 if limit is None else limit),
        ).fetchall()
        packed: list[tuple[int, Any, bytes | None]] = []
        for times, nums in c.execute(
            f"SELECT times, nums {_BLOCKS_FROM} ORDER BY t0 {order}", {"s": sid, "lo": lo, "hi": hi}
        ):
            stamps = np.frombuffer(times, dtype=np.int64)
            values = np.frombuffer(nums, dtype=np.float64)
            inside = (stamps >= lo) & (stamps < hi)
            if not inside.all():
                stamps, values = stamps[inside], values[inside]
            if descending:
                stamps, values = stamps[::-1], values[::-1]
            packed.extend(zip(stamps.tolist(), values.tolist(), repeat(None)))
            if limit is not None and len(packed) >= limit:
                break
        if not packed:
            return rows
        merged = sorted(rows + packed, key=_first, reverse=descending)
        return merged if limit is None else merged[:limit]

    def _kind(self, sid: int) -> HistoryKind:
        cached = self._kinds.get(sid)
        if cached is not None:
            return cached
        row = self._read.read(
            lambda c: c.execute("SELECT kind FROM history_series WHERE id = ?", (sid,)).fetchone()
        )
        kind: HistoryKind = row[0] if row else "property"
        self._kinds[sid] = kind
        return kind

    def latest(self, series: Sequence[SeriesKey]) -> list[HistoryPoint]:
        found: list[HistoryPoint] = []
        for s in series:
            points = self.range(s, None, None, limit=1, descending=True)
            found.extend(points)
        return found

    def aggregate(
        self,
        series: SeriesKey,
        start: datetime,
        end: datetime,
        bucket_seconds: float,
        functions: Sequence[str],
    ) -> list[Bucket]:
        sid = self._id_of(series)
        if sid is None:
            return []
        width = max(1, round(bucket_seconds * 1_000_000))
        lo, hi = to_us(start), to_us(end)
        for fn in functions:
            if fn not in AGGREGATE_FUNCTIONS:
                raise ValueError(f"unknown aggregate function {fn!r}")

        def packed(c: sqlite3.Connection) -> list[tuple[int, Any, bytes | None]] | None:
            window = {"s": sid, "lo": lo, "hi": hi}
            if c.execute(f"SELECT 1 {_BLOCKS_FROM} LIMIT 1", window).fetchone() is None:
                return None
            return self._points(c, sid, lo, hi, None, False)

        points = self._read.read(packed)
        if points is not None:
            return _aggregate(points, width, functions)
        columns = ["(p.time - (p.time % :w)) AS b", "min(p.time) AS t0", "max(p.time) AS t1"]
        for fn in functions:
            if fn in _NUMERIC_AGGREGATES:
                columns.append(_NUMERIC_AGGREGATES[fn])
            elif fn == "sum":
                columns.append("CASE WHEN count(p.num) THEN sum(p.num) END")
            elif fn == "count":
                columns.append("count(*)")
            elif fn in ("first", "last"):
                columns.append("NULL")
            else:
                raise ValueError(f"unknown aggregate function {fn!r}")
        sql = (
            f"SELECT {', '.join(columns)} FROM history_points p"
            " WHERE p.series_id = :s AND p.time >= :lo AND p.time < :hi GROUP BY b ORDER BY b"
        )
        want_edges = "first" in functions or "last" in functions
        if want_edges:
            sql = (
                f"WITH agg AS ({sql}) SELECT agg.*, f.num, f.raw, l.num, l.raw FROM agg"
                " JOIN history_points f ON f.series_id = :s AND f.time = agg.t0"
                " JOIN history_points l ON l.series_id = :s AND l.time = agg.t1 ORDER BY agg.b"
            )
        params = {"w": width, "s": sid, "lo": to_us(start), "hi": to_us(end)}
        rows = self._read.read(lambda c: c.execute(sql, params).fetchall())
        buckets: list[Bucket] = []
        n = len(functions)
        for row in rows:
            values: dict[str, HistoryValue | None] = {}
            for i, fn in enumerate(functions):
                if fn == "first":
                    values[fn] = _decode(row[3 + n], row[4 + n])
                elif fn == "last":
                    values[fn] = _decode(row[5 + n], row[6 + n])
                else:
                    values[fn] = row[3 + i]
            buckets.append(Bucket(from_us(row[0]), values))
        return buckets

    def list_series(
        self,
        *,
        twin_id: str | None = None,
        prefix: str | None = None,
        kind: HistoryKind | None = None,
        stats: bool = True,
    ) -> list[SeriesInfo]:
        where = Where().equal("twin_id", twin_id)
        if prefix:
            # A range on the name instead of LIKE: exact for any character, and indexed.
            where.add("name >= ? AND name < ?", prefix, prefix + "\U0010ffff")
        where.equal("kind", kind)
        sql = (
            f"SELECT id, twin_id, name, kind FROM history_series{where.sql()}"
            " ORDER BY twin_id, name"
        )
        params = where.args

        def read(c: sqlite3.Connection) -> list[SeriesInfo]:
            infos = []
            for sid, twin, name, k in c.execute(sql, params).fetchall():
                if not stats:
                    infos.append(SeriesInfo(twin, name, k, None, None, None))
                    continue
                count, t0, t1 = c.execute(
                    "SELECT count(*), min(time), max(time) FROM history_points WHERE series_id = ?",
                    (sid,),
                ).fetchone()
                packed, b0, b1 = c.execute(
                    "SELECT sum(n), min(t0), max(t1) FROM history_blocks WHERE series_id = ?",
                    (sid,),
                ).fetchone()
                if packed:
                    count += packed
                    t0 = b0 if t0 is None else min(t0, b0)
                    t1 = b1 if t1 is None else max(t1, b1)
                infos.append(
                    SeriesInfo(
                        twin,
                        name,
                        k,
                        count,
                        from_us(t0) if t0 is not None else None,
                        from_us(t1) if t1 is not None else None,
                    )
                )
            return infos

        return self._read.read(read)

    def count(self, series: SeriesKey | None = None) -> int:
        if series is None:
            row = self._read.read(
                lambda c: c.execute(
                    "SELECT (SELECT count(*) FROM history_points)"
                    " + (SELECT coalesce(sum(n), 0) FROM history_blocks)"
                ).fetchone()
            )
            return int(row[0])
        sid = self._id_of(series)
        if sid is None:
            return 0
        row = self._read.read(
            lambda c: c.execute(
                "SELECT (SELECT count(*) FROM history_points WHERE series_id = :s)"
                " + (SELECT coalesce(sum(n), 0) FROM history_blocks WHERE series_id = :s)",
                {"s": sid},
            ).fetchone()
        )
        return int(row[0])

    def close(self) -> None:
        if self._read is not self._db:
            self._read.close()
        self._db.close()
