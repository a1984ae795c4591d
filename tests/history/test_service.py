"""The History service: input checking, multi-series aggregates, streamed exports read back
with the csv module and pyarrow, and retention policies."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from twinsight.core.clock import ManualClock
from twinsight.core.errors import BadRequest
from twinsight.core.ports import HistoryPoint, SeriesKey
from twinsight.history import History, RetentionPolicy, parse_bucket
from twinsight.hub import Hub

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def fill(history: History) -> None:
    history.append(
        [HistoryPoint("p1", "temp", "telemetry", at(s), float(s)) for s in range(0, 600, 10)]
        + [HistoryPoint("p2", "temp", "telemetry", at(s), 2.0 * s) for s in range(0, 600, 10)]
        + [HistoryPoint("p1", "state", "property", at(5), "running")]
        + [HistoryPoint("p1", "config", "property", at(6), {"mode": "auto", "gain": [1, 2]})]
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda h: h.range("p1/temp", start="yesterday"), "not an ISO 8601 date-time"),
        (lambda h: h.range("p1/temp", at(10), at(5)), "is before start"),
        (lambda h: h.range("p1/nothing"), "no recorded series 'p1/nothing'"),
        (lambda h: h.range("p1-temp"), "not of the form TWIN/NAME"),
        (lambda h: h.range("p1/temp", limit=0), "limit must be"),
        (lambda h: h.aggregate("p1/temp", at(0), at(60), functions=["median"]), "median"),
        (lambda h: h.aggregate("p1/temp", at(0), at(60), bucket="0s"), "at least 1 µs"),
        (lambda h: h.aggregate("p1/temp", at(0), at(60), bucket="fortnight"), "not a duration"),
        (
            lambda h: h.aggregate("p1/temp", at(0), at(86400 * 365), bucket="1s"),
            "at most 100000 are allowed",
        ),
        (lambda h: h.export_chunks(["p1/temp"], format="xlsx"), "csv or parquet"),
    ],
)
def test_bad_input_is_a_bad_request_naming_the_problem(
    hub: Hub, call: object, message: str
) -> None:
    fill(hub.history)
    with pytest.raises(BadRequest) as info:
        call(hub.history)  # type: ignore[operator]
    assert message in info.value.message


def test_bucket_durations() -> None:
    assert [parse_bucket(b) for b in ("500ms", "15s", "1m", "1.5h", "1d", "1w", "30")] == [
        0.5,
        15.0,
        60.0,
        5400.0,
        86400.0,
        604800.0,
        30.0,
    ]


def test_aggregate_over_many_series_with_iso_strings(hub: Hub) -> None:
    fill(hub.history)
    result = hub.history.aggregate(
        ["p1/temp", "p2/temp"],
        "2026-01-01T00:00:00Z",
        "2026-01-01T00:02:00Z",
        bucket="1m",
        functions=["min", "max", "count", "sum"],
    )
    assert list(result) == ["p1/temp", "p2/temp"]
    assert [b.values for b in result["p1/temp"]] == [
        {"min": 0.0, "max": 50.0, "count": 6, "sum": 150.0},
        {"min": 60.0, "max": 110.0, "count": 6, "sum": 510.0},
    ]
    assert result["p2/temp"][1].values["max"] == 220.0


def test_end_defaults_to_the_clock(hub: Hub, clock: ManualClock) -> None:
    fill(hub.history)
    clock.advance(30)  # now = T0 + 30 s: only 0, 10, 20 are before it
    [bucket] = hub.history.aggregate("p1/temp", at(0), functions=["count"])["p1/temp"]
    assert bucket.values == {"count": 3}


def test_csv_export_reads_back_with_types_as_text(hub: Hub, tmp_path: Path) -> None:
    fill(hub.history)
    out = tmp_path / "h.csv"
    size = hub.history.export(out, ["p1/temp", "p1/config", "p1/state"], end=at(30))
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert size == out.stat().st_size
    assert [(r["name"], r["time"], r["value"]) for r in rows] == [
        ("temp", "2026-01-01T00:00:00Z", "0.0"),
        ("temp", "2026-01-01T00:00:10Z", "10.0"),
        ("temp", "2026-01-01T00:00:20Z", "20.0"),
        ("config", "2026-01-01T00:00:06Z", '{"mode":"auto","gain":[1,2]}'),
        ("state", "2026-01-01T00:00:05Z", "running"),
    ]


def test_parquet_export_streams_row_groups_and_reads_back(hub: Hub, tmp_path: Path) -> None:
    hub.history.append(
        [HistoryPoint("p1", "temp", "telemetry", at(s / 10), s * 0.5) for s in range(120_000)]
        + [HistoryPoint("p1", "on", "property", at(1), True)]
    )
    chunks = list(hub.history.export_chunks(["p1/temp", "p1/on"], format="parquet"))
    assert len(chunks) > 2  # streamed, not produced in one piece
    out = tmp_path / "h.parquet"
    out.write_bytes(b"".join(chunks))
    meta = pq.ParquetFile(out).metadata
    assert meta.num_rows == 120_001 and meta.num_row_groups >= 3
    table = pq.read_table(out)
    assert table.column("value")[119_999].as_py() == 119_999 * 0.5
    assert table.column("time")[1].as_py() == at(0.1)
    assert table.column("value_json")[120_000].as_py() == "true"
    assert table.column("name").to_pylist()[-1] == "on"


def test_retention_keeps_the_longest_matching_age_and_unmatched_series(
    hub: Hub, clock: ManualClock
) -> None:
    days = [
        HistoryPoint(t, n, "telemetry", at(d * 86400), 1.0)
        for d in range(10)
        for t, n in [("pump-1", "vibration.rms"), ("pump-1", "speed"), ("fan-1", "vibration.rms")]
    ]
    hub.history.append(days)
    hub.history.add_retention(RetentionPolicy("pump-*", "vibration.*", timedelta(days=3)))
    hub.history.add_retention(RetentionPolicy("*", "vibration.*", timedelta(days=5)))
    clock.advance(9 * 86400)
    deleted = hub.history.apply_retention()
    count = hub.history.store.count
    assert count(SeriesKey("pump-1", "vibration.rms")) == 6  # the 5-day policy also matches
    assert count(SeriesKey("fan-1", "vibration.rms")) == 6
    assert count(SeriesKey("pump-1", "speed")) == 10  # no policy: kept forever
    assert deleted == 8


def test_hub_takes_retention_policies(clock: ManualClock) -> None:
    policy = RetentionPolicy("*", "*", timedelta(hours=1))
    with Hub(clock=clock, retention=[policy]) as hub:
        hub.history.append([HistoryPoint("a", "b", "telemetry", at(-7200), 1.0)])
        assert hub.history.retention == [policy]
        assert hub.history.apply_retention() == 1


def test_retention_rejects_a_non_positive_age() -> None:
    with pytest.raises(ValueError, match="positive"):
        RetentionPolicy("*", "*", timedelta(0))
