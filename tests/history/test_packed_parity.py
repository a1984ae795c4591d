"""Packed blocks and one row per value answer every query identically.

The same writes — SenML-like columns (some overlapping earlier data, some out of order),
single points of every type, duplicates — go to a store that packs columns into blocks and
to one that stores every value as a row; then ranges, latest values, aggregates, series
statistics, counts and retention must agree."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from twinsight.core.ports import HistoryKind, SeriesKey
from twinsight.store.sqlite import Database
from twinsight.store.sqlite import history as sqlite_history
from twinsight.store.sqlite.history import SqliteHistoryStore

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US0 = 1_767_225_600_000_000  # 2026-01-01
SERIES = [SeriesKey("s1", "reading"), SeriesKey("s2", "reading"), SeriesKey("s1", "other")]

Column = tuple[str, str, HistoryKind, list[int], list[Any]]
Row = tuple[str, str, HistoryKind, datetime, Any]


def writes(rng: random.Random) -> list[tuple[list[Row], list[Column]]]:
    """Batches of rows and columns, as the ingest pipeline hands them over."""
    batches: list[tuple[list[Row], list[Column]]] = []
    clock = {s: US0 for s in SERIES}
    for _ in range(40):
        rows: list[Row] = []
        columns: list[Column] = []
        for key in rng.sample(SERIES, 2):
            n = rng.choice([5, 40, 100])
            step = rng.choice([1, 10_000, 1_000_000])
            start = clock[key] + rng.randint(1, 3) * step
            if rng.random() < 0.2:  # overlaps what is stored: written as rows
                start -= rng.randint(0, 50) * step
            if rng.random() < 0.05:  # before 1970: buckets of negative times
                start = -start // 10**6
            times = [start + i * step for i in range(n)]
            if rng.random() < 0.1:
                rng.shuffle(times)
            values = [round(rng.uniform(-50, 50), 3) for _ in range(n)]
            columns.append((key.twin_id, key.name, "telemetry", times, values))
            clock[key] = max(clock[key], *times)
        for _ in range(rng.randint(0, 6)):
            key = rng.choice(SERIES)
            us = rng.choice(
                [clock[key] + rng.randint(1, 10**6), clock[key] - rng.randint(0, 10**7)]
            )
            value = rng.choice([rng.random(), rng.randint(-5, 5), "text", True, False, {"a": 1}])
            rows.append(
                (key.twin_id, key.name, "telemetry", EPOCH + timedelta(microseconds=us), value)
            )
        batches.append((rows, columns))
    return batches


@pytest.fixture
def stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    def open_store(name: str) -> SqliteHistoryStore:
        path = tmp_path / f"{name}.db"
        return SqliteHistoryStore(Database(path), Database(path))

    packed, rows = open_store("packed"), open_store("rows")
    rng = random.Random(2026)
    batches = writes(rng)
    added = []
    for store, block_min in ((packed, sqlite_history.BLOCK_MIN), (rows, 10**9)):
        monkeypatch.setattr(sqlite_history, "BLOCK_MIN", block_min)
        added.append([store.append_rows(r, c) for r, c in batches])
    assert added[0] == added[1]
    blocks = packed._db.read(lambda c: c.execute("SELECT count(*) FROM history_blocks").fetchone())
    assert blocks[0] > 20  # the packed store really packed
    yield packed, rows
    packed.close()
    rows.close()


def at(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def test_ranges_and_latest_agree(stores: tuple[Any, Any]) -> None:
    packed, rows = stores
    rng = random.Random(1)
    for key in SERIES:
        assert packed.range(key, None, None, limit=10**6) == rows.range(
            key, None, None, limit=10**6
        )
        assert packed.latest([key]) == rows.latest([key])
        for _ in range(60):
            lo = US0 + rng.randint(-(10**8), 10**9)
            hi = lo + rng.choice([1, 10**4, 10**6, 10**8, 10**10])
            for limit in (1, 7, 1000):
                for descending in (False, True):
                    args = (key, at(lo), at(hi))
                    assert packed.range(*args, limit=limit, descending=descending) == rows.range(
                        *args, limit=limit, descending=descending
                    )
        assert packed.range(key, None, at(US0), limit=1000) == rows.range(
            key, None, at(US0), limit=1000
        )


def test_aggregates_agree(stores: tuple[Any, Any]) -> None:
    packed, rows = stores
    functions = ["avg", "min", "max", "sum", "count", "first", "last"]
    for key in SERIES:
        for width in (0.5, 7.0, 60.0, 3600.0):
            windows = [
                (-(10**16), 10**17),
                (-(10**12), 10**12),
                (US0, US0 + 10**8),
                (US0 + 12_345, US0 + 10**9),
            ]
            for lo, hi in windows:
                a = packed.aggregate(key, at(lo), at(hi), width, functions)
                b = rows.aggregate(key, at(lo), at(hi), width, functions)
                assert [x.start for x in a] == [x.start for x in b]
                for x, y in zip(a, b, strict=True):
                    # sums are added in time order by both, but SQLite may compensate them
                    for fn in ("avg", "sum"):
                        expected = y.values[fn]
                        assert x.values[fn] == (
                            None if expected is None else pytest.approx(expected, rel=1e-12)
                        )
                    exact = [f for f in functions if f not in ("avg", "sum")]
                    assert {f: x.values[f] for f in exact} == {f: y.values[f] for f in exact}


def test_statistics_counts_and_retention_agree(stores: tuple[Any, Any]) -> None:
    packed, rows = stores
    assert packed.list_series() == rows.list_series()
    assert packed.count() == rows.count()
    assert [packed.count(k) for k in SERIES] == [rows.count(k) for k in SERIES]
    everything = packed.range(SERIES[0], None, None, limit=10**6)
    cut = everything[len(everything) // 2].time + timedelta(microseconds=3)  # inside a block
    assert packed.delete_before(cut, [SERIES[0]]) == rows.delete_before(cut, [SERIES[0]])
    assert packed.range(SERIES[0], None, None, limit=10**6) == rows.range(
        SERIES[0], None, None, limit=10**6
    )
    later = at(US0 + 5 * 10**8)
    assert packed.delete_before(later) == rows.delete_before(later)
    for key in SERIES:
        assert packed.range(key, None, None, limit=10**6) == rows.range(
            key, None, None, limit=10**6
        )
    assert packed.list_series() == rows.list_series()
    assert packed.count() == rows.count()


def test_a_row_never_doubles_a_packed_point(tmp_path: Path) -> None:
    store = SqliteHistoryStore(Database(tmp_path / "h.db"))
    times = [US0 + i * 1000 for i in range(50)]
    assert (
        store.append_rows([], [("m", "x", "telemetry", times, [float(i) for i in range(50)])]) == 50
    )
    again = [("m", "x", "telemetry", at(t), -1.0) for t in times[::7]]
    assert store.append_rows(again) == 0  # first write wins
    assert store.append_series("m", "x", "telemetry", times[10:45], [9.0] * 35) == 0
    points = store.range(SeriesKey("m", "x"), None, None, limit=1000)
    assert [p.value for p in points] == [float(i) for i in range(50)]
    store.close()


def test_another_process_s_blocks_are_seen(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    first, second = SqliteHistoryStore(Database(path)), SqliteHistoryStore(Database(path))
    first.append_rows([("m", "x", "telemetry", at(US0), 1.0)])  # both know the series now
    second.append_rows([("m", "x", "telemetry", at(US0 - 1), 1.0)])
    times = [US0 + 10 + i for i in range(40)]
    assert second.append_series("m", "x", "telemetry", times, [2.0] * 40) == 40  # a block
    assert first.append_rows([("m", "x", "telemetry", at(times[5]), 3.0)]) == 0
    assert first.count(SeriesKey("m", "x")) == 42
    first.close()
    second.close()
