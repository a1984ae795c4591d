"""History store benchmark (the embedded SQLite backend, on disk, WAL, synchronous=NORMAL).

Measured (medians of repeated runs; the machine is shared and noisy):

* ``append_points_per_s``: :meth:`SqliteHistoryStore.append` of ``HistoryPoint`` batches
  (10,000 points over 100 series interleaved, as the recorder and ingest produce them), one
  transaction per batch, durable on return;
* ``append_columns_per_s``: the columnar bulk path ``append_series`` (one series, times and
  values as lists), what a SenML pack or a back-fill can use;
* ``range_ms``: 1,000 raw points from a random place in a series of ``--series-points``
  points (1M in the full run), and ``latest_ms`` for the newest point of that series;
* ``aggregate_ms``: one day of 1 s data (86,400 points) into 1-minute buckets, avg/min/max,
  and with first/last added (``aggregate_edges_ms``);
* ``bytes_per_point``: database file size after a checkpoint / stored points;
* ``duckdb``: the same append (Arrow batches, ``INSERT OR IGNORE`` on the same primary
  key), range and aggregate on DuckDB, when it is installed (it is not a dependency:
  ``pip install duckdb``), and SQLite/DuckDB ratios, to back the choice of SQLite;
* ``twin_write_p99_ms_{shared,separate}``: a twin write's p99 latency while history batches
  are appended, with history in the twin database versus in its own file (the reason the
  hub gives history its own ``history.db``).

Usage (from the repo root): ``python bench/history.py [--quick]`` (quick: < 1 min).
The last line of stdout is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from twinsight.core.ports import HistoryPoint, SeriesKey
from twinsight.store.sqlite import Database, SqliteTwinStore
from twinsight.store.sqlite.history import SqliteHistoryStore, to_us

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _store(path: Path) -> SqliteHistoryStore:
    return SqliteHistoryStore(Database(path), Database(path))


def bench_append_points(folder: Path, batches: int, batch: int = 10_000) -> list[float]:
    store = _store(folder / "points.db")
    rates = []
    series = 100
    for b in range(batches):
        base = b * (batch // series)
        points = [
            HistoryPoint(
                f"pump-{i % series}",
                "temperature",
                "telemetry",
                T0 + timedelta(seconds=base + i // series),
                20.0 + (i % 97) * 0.1,
            )
            for i in range(batch)
        ]
        start = time.perf_counter()
        store.append(points)
        rates.append(batch / (time.perf_counter() - start))
    store.close()
    return rates


def bench_append_columns(
    store: SqliteHistoryStore, total: int, batch: int = 100_000
) -> list[float]:
    rates = []
    t0 = to_us(T0)
    for first in range(0, total, batch):
        n = min(batch, total - first)
        times = [t0 + (first + i) * 1_000_000 for i in range(n)]
        values = [20.0 + ((first + i) % 1000) * 0.01 for i in range(n)]
        start = time.perf_counter()
        store.append_series("big", "temperature", "telemetry", times, values)
        rates.append(n / (time.perf_counter() - start))
    return rates


def median_ms(fn: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def bench_twin_writes(folder: Path, shared: bool, seconds: float) -> float:
    """p99 of twin writes (ms) while another thread appends 20k-point history batches."""
    twin_db = Database(folder / f"twins-{shared}.db")
    twins = SqliteTwinStore(twin_db)
    history = SqliteHistoryStore(twin_db if shared else Database(folder / "hist-sep.db"))
    stop = threading.Event()

    def writer() -> None:
        b = 0
        while not stop.is_set():
            history.append(
                [
                    HistoryPoint(
                        f"t{i % 50}",
                        "x",
                        "telemetry",
                        T0 + timedelta(seconds=b * 400 + i // 50),
                        1.0,
                    )
                    for i in range(20_000)
                ]
            )
            b += 1

    thread = threading.Thread(target=writer)
    thread.start()
    latencies = []
    deadline = time.monotonic() + seconds
    i = 0
    while time.monotonic() < deadline:
        start = time.perf_counter()
        twins.put_twin({"$dtId": f"m{i % 100}", "$metadata": {"$model": "dtmi:x:M;1"}, "v": i})
        latencies.append((time.perf_counter() - start) * 1000)
        i += 1
        time.sleep(0.002)
    stop.set()
    thread.join()
    twin_db.close()
    return statistics.quantiles(latencies, n=100)[98]


def bench_duckdb(folder: Path, big: int, repeats: int) -> dict[str, Any] | None:
    """The same workload on DuckDB (columnar, embedded), if it is installed."""
    try:
        import duckdb
        import pyarrow as pa
    except ImportError:
        return None
    schema = (
        "CREATE TABLE p (series_id INTEGER, time BIGINT, num DOUBLE, raw BLOB,"
        " PRIMARY KEY (series_id, time))"
    )
    conn = duckdb.connect(str(folder / "points.duckdb"))
    conn.execute(schema)
    t0 = to_us(T0)
    rates = []
    batch, series = 10_000, 100
    for b in range(10):
        arrow_batch = pa.table(
            {
                "series_id": pa.array([i % series for i in range(batch)], pa.int32()),
                "time": pa.array(
                    [t0 + (b * batch + i) // series * 1_000_000 for i in range(batch)], pa.int64()
                ),
                "num": pa.array([20.0 + (i % 97) * 0.1 for i in range(batch)]),
                "raw": pa.nulls(batch, pa.binary()),
            }
        )
        start = time.perf_counter()
        conn.execute("BEGIN")
        conn.register("arrow_batch", arrow_batch)
        conn.execute("INSERT OR IGNORE INTO p SELECT * FROM arrow_batch")
        conn.execute("COMMIT")
        rates.append(batch / (time.perf_counter() - start))
    conn.close()
    path = folder / "big.duckdb"
    conn = duckdb.connect(str(path))
    conn.execute(schema)
    for first in range(0, big, 100_000):
        n = min(100_000, big - first)
        arrow_batch = pa.table(
            {
                "series_id": pa.array([1] * n, pa.int32()),
                "time": pa.array([t0 + (first + i) * 1_000_000 for i in range(n)], pa.int64()),
                "num": pa.array([20.0 + ((first + i) % 1000) * 0.01 for i in range(n)]),
                "raw": pa.nulls(n, pa.binary()),
            }
        )
        conn.register("arrow_batch", arrow_batch)
        conn.execute("INSERT OR IGNORE INTO p SELECT * FROM arrow_batch")
    rng = random.Random(1)

    def one_range() -> None:
        lo = t0 + rng.randrange(0, big - 1000) * 1_000_000
        rows = conn.execute(
            "SELECT time, num, raw FROM p WHERE series_id = 1 AND time >= ?"
            " ORDER BY time LIMIT 1000",
            [lo],
        ).fetchall()
        assert len(rows) == 1000

    def one_aggregate() -> None:
        conn.execute(
            "SELECT time - time % 60000000 AS b, avg(num), min(num), max(num) FROM p"
            " WHERE series_id = 1 AND time >= ? AND time < ? GROUP BY b ORDER BY b",
            [t0, t0 + 86_400_000_000],
        ).fetchall()

    out = {
        "version": duckdb.__version__,
        "append_points_per_s": round(statistics.median(rates)),
        "range_ms": round(median_ms(one_range, repeats), 3),
        "aggregate_ms": round(median_ms(one_aggregate, max(5, repeats // 4)), 2),
    }
    conn.execute("CHECKPOINT")
    conn.close()
    out["bytes_per_point"] = round(path.stat().st_size / big, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    parser.add_argument("--series-points", type=int, default=None, help="points in the big series")
    args = parser.parse_args()
    big = args.series_points or (200_000 if args.quick else 1_000_000)
    batches = 10 if args.quick else 40
    repeats = 20 if args.quick else 50
    result: dict[str, Any] = {
        "bench": "history",
        "date": datetime.now(UTC).date().isoformat(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "quick": args.quick,
        "series_points": big,
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rates = bench_append_points(folder, batches)
        result["append_points_per_s"] = round(statistics.median(rates))
        print(f"append HistoryPoint batches: {result['append_points_per_s']:,} points/s")

        store = _store(folder / "big.db")
        crates = bench_append_columns(store, big)
        result["append_columns_per_s"] = round(statistics.median(crates))
        print(f"append columns: {result['append_columns_per_s']:,} points/s")

        key = SeriesKey("big", "temperature")
        rng = random.Random(1)

        def one_range() -> None:
            start = T0 + timedelta(seconds=rng.randrange(0, big - 1000))
            got = store.range(key, start, None, limit=1000)
            assert len(got) == 1000

        result["range_ms"] = round(median_ms(one_range, repeats), 3)
        result["latest_ms"] = round(median_ms(lambda: store.latest([key]), repeats), 3)
        day_end = T0 + timedelta(days=1)
        agg = ["avg", "min", "max"]
        result["aggregate_ms"] = round(
            median_ms(lambda: store.aggregate(key, T0, day_end, 60, agg), max(5, repeats // 4)), 2
        )
        edges = [*agg, "first", "last"]
        result["aggregate_edges_ms"] = round(
            median_ms(lambda: store.aggregate(key, T0, day_end, 60, edges), max(5, repeats // 4)),
            2,
        )
        assert len(store.aggregate(key, T0, day_end, 60, agg)) == min(1440, -(-big // 60))
        store._db.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = (folder / "big.db").stat().st_size
        result["bytes_per_point"] = round(size / store.count(key), 1)
        store.close()
        print(
            f"range 1000 of {big:,}: {result['range_ms']} ms; latest {result['latest_ms']} ms;"
            f" 1 day 1 s -> 1 min buckets: {result['aggregate_ms']} ms"
            f" ({result['aggregate_edges_ms']} ms with first/last);"
            f" {result['bytes_per_point']} bytes/point"
        )
        duck = bench_duckdb(folder, big, repeats)
        result["duckdb"] = duck
        if duck is not None:
            result["sqlite_over_duckdb"] = {
                "append": round(result["append_points_per_s"] / duck["append_points_per_s"], 2),
                "range_time": round(result["range_ms"] / duck["range_ms"], 2),
                "aggregate_time": round(result["aggregate_ms"] / duck["aggregate_ms"], 2),
                "bytes_per_point": round(result["bytes_per_point"] / duck["bytes_per_point"], 2),
            }
            print(f"duckdb {duck}; sqlite/duckdb {result['sqlite_over_duckdb']}")
        seconds = 3.0 if args.quick else 10.0
        result["twin_write_p99_ms_shared"] = round(bench_twin_writes(folder, True, seconds), 2)
        result["twin_write_p99_ms_separate"] = round(bench_twin_writes(folder, False, seconds), 2)
        print(
            "twin write p99 during history appends: "
            f"shared file {result['twin_write_p99_ms_shared']} ms, "
            f"separate file {result['twin_write_p99_ms_separate']} ms"
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
