"""The /history routes over a real server: answers, streamed exports, and 400s (never a
traceback) for bad input."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from adt import running_server
from twinsight.cli import app
from twinsight.core.ports import HistoryPoint
from twinsight.hub import Hub

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def client(hub: Hub) -> Iterator[httpx.Client]:
    hub.history.append(
        [HistoryPoint("p1", "temp", "telemetry", at(s), float(s)) for s in range(0, 180, 10)]
        + [HistoryPoint("p1", "state", "property", at(3), "running")]
        + [HistoryPoint("p2", "temp", "telemetry", at(s), -float(s)) for s in range(0, 60, 30)]
    )
    with running_server(hub) as url, httpx.Client(base_url=url) as c:
        yield c


def test_series_listing_with_filters(client: httpx.Client) -> None:
    body = client.get("/history/series", params={"twin": "p1"}).json()
    assert [(s["series"], s["kind"], s["count"]) for s in body["value"]] == [
        ("p1/state", "property", 1),
        ("p1/temp", "telemetry", 18),
    ]
    assert body["value"][1]["first"] == "2026-01-01T00:00:00Z"
    names = [s["series"] for s in client.get("/history/series?prefix=te").json()["value"]]
    assert names == ["p1/temp", "p2/temp"]


def test_raw_range_with_window_limit_and_order(client: httpx.Client) -> None:
    r = client.get(
        "/history/p1/temp",
        params={"start": "2026-01-01T00:00:20Z", "end": "2026-01-01T00:01:00Z", "limit": 2},
    )
    assert r.status_code == 200
    assert r.json()["value"] == [
        {"time": "2026-01-01T00:00:20Z", "value": 20.0},
        {"time": "2026-01-01T00:00:30Z", "value": 30.0},
    ]
    newest = client.get("/history/p1/temp?order=desc&limit=1").json()["value"]
    assert newest == [{"time": "2026-01-01T00:02:50Z", "value": 170.0}]


def test_latest_of_several_series(client: httpx.Client) -> None:
    r = client.get("/history/latest", params=[("series", "p1/state"), ("series", "p2/temp")])
    assert [(v["series"], v["value"]) for v in r.json()["value"]] == [
        ("p1/state", "running"),
        ("p2/temp", -30.0),
    ]


def test_aggregate_buckets(client: httpx.Client) -> None:
    r = client.get(
        "/history/aggregate",
        params=[
            ("series", "p1/temp"),
            ("series", "p2/temp"),
            ("start", "2026-01-01T00:00:00Z"),
            ("end", "2026-01-01T00:02:00Z"),
            ("bucket", "1m"),
            ("fn", "avg"),
            ("fn", "last"),
        ],
    )
    assert r.status_code == 200, r.text
    [p1, p2] = r.json()["value"]
    assert p1["buckets"] == [
        {"start": "2026-01-01T00:00:00Z", "avg": 25.0, "last": 50.0},
        {"start": "2026-01-01T00:01:00Z", "avg": 85.0, "last": 110.0},
    ]
    assert p2 == {
        "series": "p2/temp",
        "buckets": [{"start": "2026-01-01T00:00:00Z", "avg": -15.0, "last": -30.0}],
    }


def test_exports_stream_csv_and_parquet(client: httpx.Client, tmp_path: Path) -> None:
    r = client.get("/history/export", params={"series": "p1/temp", "end": "2026-01-01T00:00:30Z"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows == [
        ["twin_id", "name", "kind", "time", "value"],
        ["p1", "temp", "telemetry", "2026-01-01T00:00:00Z", "0.0"],
        ["p1", "temp", "telemetry", "2026-01-01T00:00:10Z", "10.0"],
        ["p1", "temp", "telemetry", "2026-01-01T00:00:20Z", "20.0"],
    ]
    r = client.get(
        "/history/export",
        params=[("series", "p1/temp"), ("series", "p1/state"), ("format", "parquet")],
    )
    assert r.status_code == 200
    out = tmp_path / "h.parquet"
    out.write_bytes(r.content)
    table = pq.read_table(out)
    assert table.num_rows == 19
    assert table.column("value_json").to_pylist()[-1] == '"running"'


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/history/p1/temp?start=noon", "not an ISO 8601 date-time"),
        ("/history/p1/temp?start=2026-01-02T00:00:00Z&end=2026-01-01T00:00:00Z", "before start"),
        ("/history/p1/nope", "no recorded series"),
        ("/history/p1/temp?order=sideways", "order must be asc or desc"),
        ("/history/p1/temp?limit=abc", "limit"),
        ("/history/aggregate?series=p1/temp&start=2026-01-01T00:00:00Z&fn=median", "median"),
        ("/history/aggregate?series=p1/temp&start=2026-01-01T00:00:00Z&bucket=0", "at least"),
        (
            "/history/aggregate?series=p1/temp&start=2000-01-01T00:00:00Z&end=2026-01-01T00:00:00Z&bucket=1s",
            "buckets",
        ),
        ("/history/aggregate?series=p1/temp", "start"),
        ("/history/latest?series=no-slash", "TWIN/NAME"),
        ("/history/export?series=p1/temp&format=xlsx", "csv or parquet"),
        ("/history/export?series=ghost/temp", "no recorded series"),
    ],
)
def test_bad_input_is_a_400_in_the_standard_error_format(
    client: httpx.Client, path: str, message: str
) -> None:
    r = client.get(path)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert message in error["message"]
    assert r.headers["x-ms-error-code"] == error["code"]
    assert "Traceback" not in r.text


def test_cli_lists_and_exports_history(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Hub(data) as hub:
        hub.history.append(
            [HistoryPoint("p1", "temp", "telemetry", at(s), float(s)) for s in range(100)]
        )
    runner = CliRunner()
    listed = runner.invoke(app, ["history", "series", "--data-dir", str(data), "--json"])
    assert listed.exit_code == 0, listed.output
    assert '"count": 100' in listed.stdout
    out = tmp_path / "t.parquet"
    result = runner.invoke(
        app,
        [
            "history",
            "export",
            "-d",
            str(data),
            "-s",
            "p1/temp",
            "--start",
            "2026-01-01T00:00:50Z",
            "--format",
            "parquet",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert pq.read_table(out).column("value").to_pylist() == [float(s) for s in range(50, 100)]
    bad = runner.invoke(
        app, ["history", "export", "-d", str(data), "-s", "p1/nope", "-o", str(out)]
    )
    assert bad.exit_code == 1 and "no recorded series" in bad.output


@pytest.mark.parametrize(
    "path", ["/history/latest", "/history/aggregate?start=2026-01-01T00:00:00Z", "/history/export"]
)
def test_a_missing_series_is_a_400(client: httpx.Client, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 400
    assert "at least one series" in r.json()["error"]["message"]


def test_unknown_kind_filter_is_a_400(client: httpx.Client) -> None:
    r = client.get("/history/series?kind=sensor")
    assert r.status_code == 400 and "property or telemetry" in r.json()["error"]["message"]
    assert [s["series"] for s in client.get("/history/series?kind=property").json()["value"]] == [
        "p1/state"
    ]
