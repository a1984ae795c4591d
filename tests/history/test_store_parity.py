"""The history store contract, run against every backend (SQLite today; a PostgreSQL
backend joins by adding a parameter to the ``store`` fixture)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twinsight.core.ports import HistoryPoint, HistoryStore, SeriesKey
from twinsight.store.sqlite import Database
from twinsight.store.sqlite.history import SqliteHistoryStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TEMP = SeriesKey("pump-1", "temperature")

Opener = Callable[[], HistoryStore]
"""Opens the store under test; opened twice on disk, the second sees the first's data."""
_fresh = itertools.count()


def _sqlite_memory(tmp: Path) -> Opener:
    return lambda: SqliteHistoryStore(Database(":memory:"))


def _sqlite_file(tmp: Path) -> Opener:
    path = tmp / "history.db"
    return lambda: SqliteHistoryStore(Database(path), Database(path))


BACKENDS = {"sqlite-memory": _sqlite_memory, "sqlite-file": _sqlite_file}


@pytest.fixture(params=sorted(BACKENDS))
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    factory: Callable[[Path], Opener] = BACKENDS[request.param]
    return factory(tmp_path)


@pytest.fixture
def store(opener: Opener) -> Iterator[HistoryStore]:
    s = opener()
    yield s
    s.close()


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def pt(seconds: float, value: Any, name: str = "temperature", twin: str = "pump-1") -> HistoryPoint:
    return HistoryPoint(twin, name, "telemetry", at(seconds), value)


def test_range_returns_points_in_time_order_within_half_open_window(store: HistoryStore) -> None:
    store.append([pt(s, float(s)) for s in (5, 1, 3, 2, 4)])
    got = store.range(TEMP, at(2), at(4), limit=100)
    assert [(p.time, p.value) for p in got] == [(at(2), 2.0), (at(3), 3.0)]
    newest = store.range(TEMP, None, None, limit=2, descending=True)
    assert [p.value for p in newest] == [5.0, 4.0]
    assert all(p.kind == "telemetry" and p.twin_id == "pump-1" for p in got)


def test_duplicates_are_recorded_once_and_first_write_wins(store: HistoryStore) -> None:
    assert store.append([pt(1, 10.0), pt(2, 20.0)]) == 2
    assert store.append([pt(1, 99.0), pt(3, 30.0), pt(3, 31.0)]) == 1
    assert store.count(TEMP) == 3
    assert [p.value for p in store.range(TEMP, None, None, limit=10)] == [10.0, 20.0, 30.0]


def test_late_data_is_kept_and_latest_is_the_newest_source_time(store: HistoryStore) -> None:
    store.append([pt(100, 1.0)])
    store.append([pt(50, 2.0)])  # arrives later, happened earlier
    [latest] = store.latest([TEMP])
    assert (latest.time, latest.value) == (at(100), 1.0)
    assert store.count(TEMP) == 2


def test_values_keep_their_types(store: HistoryStore) -> None:
    values: list[Any] = [21, 21.5, True, False, "running", {"lat": 1.5, "tags": ["a"]}, [1, 2]]
    store.append([pt(i, v, name=f"v{i}") for i, v in enumerate(values)])
    for i, v in enumerate(values):
        [p] = store.range(SeriesKey("pump-1", f"v{i}"), None, None, limit=5)
        assert p.value == v and type(p.value) is type(v)


def test_latest_of_many_series_in_the_asked_order(store: HistoryStore) -> None:
    store.append([pt(1, 1.0, "a"), pt(2, 2.0, "a"), pt(5, 5.0, "b")])
    keys = [SeriesKey("pump-1", "b"), SeriesKey("nobody", "x"), SeriesKey("pump-1", "a")]
    assert [(p.name, p.value) for p in store.latest(keys)] == [("b", 5.0), ("a", 2.0)]


def test_unknown_series_has_no_points(store: HistoryStore) -> None:
    unknown = SeriesKey("nobody", "nothing")
    assert store.range(unknown, None, None, limit=10) == []
    assert store.aggregate(unknown, at(0), at(10), 1.0, ["avg"]) == []
    assert store.count(unknown) == 0


def test_list_series_filters_by_twin_prefix_and_kind(store: HistoryStore) -> None:
    store.append(
        [
            pt(1, 1.0, "bearing.wear", "m1"),
            pt(2, 2.0, "bearing.wear", "m1"),
            pt(1, 1.0, "bearing.rul", "m1"),
            pt(1, 1.0, "speed", "m1"),
            HistoryPoint("m2", "ratedPower", "property", at(1), 5.0),
        ]
    )
    all_series = store.list_series()
    assert [str(s.key) for s in all_series] == [
        "m1/bearing.rul",
        "m1/bearing.wear",
        "m1/speed",
        "m2/ratedPower",
    ]
    wear = next(s for s in all_series if s.name == "bearing.wear")
    assert (wear.count, wear.first, wear.last) == (2, at(1), at(2))
    assert [s.name for s in store.list_series(twin_id="m1", prefix="bearing.")] == [
        "bearing.rul",
        "bearing.wear",
    ]
    assert [str(s.key) for s in store.list_series(kind="property")] == ["m2/ratedPower"]


def test_delete_before_prunes_only_the_named_series(store: HistoryStore) -> None:
    store.append([pt(s, 1.0, "a") for s in range(10)] + [pt(s, 1.0, "b") for s in range(10)])
    assert store.delete_before(at(4), [SeriesKey("pump-1", "a")]) == 4
    assert store.count(SeriesKey("pump-1", "a")) == 6
    assert store.count(SeriesKey("pump-1", "b")) == 10
    assert store.delete_before(at(8)) == 4 + 8
    assert store.count() == 4


def test_first_and_last_are_the_values_at_the_bucket_edges(store: HistoryStore) -> None:
    store.append([pt(s, v) for s, v in [(61, "x"), (5, "a"), (70, "y"), (30, "b"), (0, "c")]])
    buckets = store.aggregate(TEMP, at(0), at(120), 60, ["first", "last", "count", "avg"])
    assert [(b.start, b.values) for b in buckets] == [
        (at(0), {"first": "c", "last": "b", "count": 3, "avg": None}),
        (at(60), {"first": "x", "last": "y", "count": 2, "avg": None}),
    ]


def _python_aggregate(
    points: dict[int, float], lo: int, hi: int, width: int
) -> dict[int, dict[str, Any]]:
    """The reference: bucket start (seconds) -> every function, in plain Python."""
    out: dict[int, list[tuple[int, float]]] = {}
    for t, v in sorted(points.items()):
        if lo <= t < hi:
            out.setdefault(t - t % width, []).append((t, v))
    return {
        b: {
            "avg": sum(v for _, v in rows) / len(rows),
            "min": min(v for _, v in rows),
            "max": max(v for _, v in rows),
            "sum": sum(v for _, v in rows),
            "count": len(rows),
            "first": rows[0][1],
            "last": rows[-1][1],
        }
        for b, rows in out.items()
    }


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.dictionaries(
        st.integers(0, 3600),
        st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
        max_size=200,
    ),
    width=st.sampled_from([1, 7, 60, 600]),
    lo=st.integers(0, 1800),
    span=st.integers(1, 3600),
)
def test_aggregates_match_a_plain_python_computation(
    opener: Opener, data: dict[int, float], width: int, lo: int, span: int
) -> None:
    store = opener()
    try:
        key = SeriesKey(f"t{next(_fresh)}", "x")  # a fresh series per example
        store.append(
            [HistoryPoint(key.twin_id, "x", "telemetry", at(t), v) for t, v in data.items()]
        )
        fns = ["avg", "min", "max", "sum", "count", "first", "last"]
        got = store.aggregate(key, at(lo), at(lo + span), width, fns)
        want = _python_aggregate(data, lo, lo + span, width)
        assert [b.start for b in got] == [at(b) for b in sorted(want)]
        for b in got:
            expected = want[int((b.start - T0).total_seconds())]
            for fn in fns:
                assert math.isclose(b.values[fn], expected[fn], rel_tol=1e-9, abs_tol=1e-6), fn  # type: ignore[arg-type]
    finally:
        store.close()


def test_points_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    store = SqliteHistoryStore(Database(path))
    store.append([pt(1, 1.5), pt(2, "two")])
    store.close()
    again = SqliteHistoryStore(Database(path))
    try:
        assert [p.value for p in again.range(TEMP, None, None, limit=10)] == [1.5, "two"]
        assert again.append([pt(1, 9.9)]) == 0  # the series dictionary was reloaded too
    finally:
        again.close()


def test_listing_without_statistics_gives_keys_only(store: HistoryStore) -> None:
    store.append([pt(1, 1.0, "a"), pt(2, 1.0, "b")])
    infos = store.list_series(stats=False)
    assert [(str(i.key), i.count, i.first) for i in infos] == [
        ("pump-1/a", None, None),
        ("pump-1/b", None, None),
    ]
