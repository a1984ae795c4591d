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

import orjson

from twinsight.core.ports import (
    Bucket,
    HistoryKind,
    HistoryPoint,
    HistoryValue,
    SeriesInfo,
    SeriesKey,
)
from twinsight.store.sqlite.database import Database, Migration

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


MIGRATIONS: list[Migration] = [_create_tables]


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


class SqliteHistoryStore:
    """Time series in SQLite: ``write_db`` takes appends, ``read_db`` (optional, a second
    connection to the same file) answers queries without waiting for a running append."""

    def __init__(self, write_db: Database, read_db: Database | None = None) -> None:
        self._db = write_db
        self._read = read_db or write_db
        write_db.migrate("history", MIGRATIONS)
        self._ids: dict[tuple[str, str], int] = {}
        self._kinds: dict[int, HistoryKind] = {}  # a series' kind never changes
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
        columns: Sequence[tuple[str, str, HistoryKind, Sequence[int], Sequence[Any]]] = (),
    ) -> int:
        """:meth:`append` for ``(twin_id, name, kind, time, value)`` tuples and for columns
        ``(twin_id, name, kind, times, values)`` (times in µs since the epoch), in one
        transaction: the ingest pipeline has them already, and skips building a
        :class:`HistoryPoint` per value."""
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
            for twin_id, name, kind, times, values in columns:
                key = (twin_id, name)
                sid = ids.get(key) or new_ids.get(key)
                if sid is None:
                    sid = self._series_id(conn, twin_id, name, kind)
                    new_ids[key] = sid
                if all(v.__class__ is float or v.__class__ is int for v in values):
                    out.extend(zip(repeat(sid), times, values, repeat(None)))
                else:
                    for us, value in zip(times, values, strict=True):
                        append((sid, us, *_encode(value)))
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO history_points (series_id, time, num, raw)"
                " VALUES (?, ?, ?, ?)",
                out,
            )
            added = conn.total_changes - before
        # Only after the commit: a rolled-back series id must not be remembered.
        ids.update(new_ids)
        return added

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
        with self._db.transaction() as conn:
            sid = self._ids.get((twin_id, name)) or self._series_id(conn, twin_id, name, kind)
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO history_points (series_id, time, num) VALUES (?, ?, ?)",
                zip([sid] * len(times_us), times_us, values, strict=True),
            )
            added = conn.total_changes - before
        self._ids[(twin_id, name)] = sid
        return added

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
            else:
                for sid in self._known_ids(series):
                    conn.execute(
                        "DELETE FROM history_points WHERE series_id = ? AND time < ?", (sid, cut)
                    )
            return conn.total_changes - before

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
        lo = to_us(start) if start is not None else -(2**62)
        hi = to_us(end) if end is not None else 2**62
        order = "DESC" if descending else "ASC"
        rows = self._read.read(
            lambda c: c.execute(
                "SELECT time, num, raw FROM history_points"
                f" WHERE series_id = ? AND time >= ? AND time < ? ORDER BY time {order} LIMIT ?",
                (sid, lo, hi, limit),
            ).fetchall()
        )
        return [
            HistoryPoint(series.twin_id, series.name, kind, from_us(t), _decode(n, r))
            for t, n, r in rows
        ]

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
        where: list[str] = []
        params: list[Any] = []
        if twin_id is not None:
            where.append("twin_id = ?")
            params.append(twin_id)
        if prefix:
            # A range on the name instead of LIKE: exact for any character, and indexed.
            where.append("name >= ? AND name < ?")
            params += [prefix, prefix + "\U0010ffff"]
        if kind is not None:
            where.append("kind = ?")
            params.append(kind)
        sql = "SELECT id, twin_id, name, kind FROM history_series"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY twin_id, name"

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
                lambda c: c.execute("SELECT count(*) FROM history_points").fetchone()
            )
            return int(row[0])
        sid = self._id_of(series)
        if sid is None:
            return 0
        row = self._read.read(
            lambda c: c.execute(
                "SELECT count(*) FROM history_points WHERE series_id = ?", (sid,)
            ).fetchone()
        )
        return int(row[0])

    def close(self) -> None:
        if self._read is not self._db:
            self._read.close()
        self._db.close()
