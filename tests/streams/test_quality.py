"""Data quality per stream: rates, gaps, silence, late and out-of-range values, rejects —
driven by a ManualClock through the real ingest pipeline and the twin API."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adt import running_server
from ingest.test_pipeline import make_hub, motor, msg
from twinsight.core.clock import ManualClock
from twinsight.core.errors import BadRequest
from twinsight.hub import Hub
from twinsight.streams.quality import (
    QualityConfig,
    RangeRule,
    load_quality_file,
    parse_quality,
)

QUALITY_YAML = """
notes: other top-level sections of the same file are ignored
quality:
  window: 60
  gapFactor: 3
  minIntervals: 5
  ranges:
    - {model: "dtmi:twinsight:factory:Machine;1", name: windingTemperature, min: -20, max: 90}
    - {twin: "line-*-motor", name: "bearing.*", max: 0.5}
"""


@pytest.fixture
def hub(clock: ManualClock, tmp_path: Path) -> Iterator[Hub]:
    path = tmp_path / "quality.yaml"
    path.write_text(QUALITY_YAML)
    with make_hub(clock, quality=load_quality_file(path)) as h:
        yield h


def series(hub: Hub, twin: str, name: str) -> dict[str, Any]:
    (found,) = [s for s in hub.quality.series(twin) if s["name"] == name]
    return found


def tick(hub: Hub, clock: ManualClock, offset_ms: int, **fields: object) -> None:
    result = hub.ingest.submit([motor(clock, offset_ms, **fields)])
    assert result.dead_letters == 0


def test_rate_is_messages_per_second_over_the_window(hub: Hub, clock: ManualClock) -> None:
    for i in range(10):
        tick(hub, clock, i * 1000, temp=100.0)
        clock.advance(0.5)
    s = series(hub, "line-1-motor", "windingTemperature")
    assert s["count"] == 10
    assert s["rate"] == pytest.approx(2.0, rel=0.01)  # every 0.5 s of arrival time
    assert s["lastSeen"] == "2026-01-01T00:00:04.500000Z"
    assert s["kind"] == "telemetry"
    clock.advance(120)  # nothing for two minutes: the window is empty
    s = series(hub, "line-1-motor", "windingTemperature")
    assert s["rate"] == 0.0
    assert s["silent"] is True


def test_gap_is_an_interval_longer_than_k_times_the_median(hub: Hub, clock: ManualClock) -> None:
    for i in range(7):
        tick(hub, clock, i * 1000, temp=100.0)
        clock.advance(1)
    s = series(hub, "line-1-motor", "windingTemperature")
    assert (s["gaps"], s["silent"], s["medianInterval"]) == (0, False, 1.0)
    clock.advance(2.5)  # 3.5 s since the last value: more than 3 × 1 s
    s = series(hub, "line-1-motor", "windingTemperature")
    assert s["silent"] is True
    assert s["silentFor"] == pytest.approx(3.5)
    tick(hub, clock, 20_000, temp=100.0)  # the series resumes: the silence was a gap
    s = series(hub, "line-1-motor", "windingTemperature")
    assert s["gaps"] == 1
    assert s["longestGap"] == pytest.approx(3.5)
    assert s["lastGap"] == {"from": "2026-01-01T00:00:06Z", "to": "2026-01-01T00:00:09.500000Z"}
    assert s["silent"] is False


def test_late_value_is_older_than_the_newest_source_time(hub: Hub, clock: ManualClock) -> None:
    tick(hub, clock, 5000, temp=100.0)
    clock.advance(1)
    tick(hub, clock, 1000, temp=100.0)  # measured before the one we already have
    clock.advance(1)
    tick(hub, clock, 6000, temp=100.0)
    s = series(hub, "line-1-motor", "windingTemperature")
    assert s["late"] == 1
    assert "late" in s["lastProblem"]


def test_out_of_range_by_model_inheritance_and_by_twin_glob(hub: Hub, clock: ManualClock) -> None:
    tick(hub, clock, 0, temp=212.0, wear=0.7)  # 100 °C > 90; wear 0.7 > 0.5
    tick(hub, clock, 1000, temp=150.0, wear=0.1)  # 65.6 °C fine; wear fine
    temp = series(hub, "line-1-motor", "windingTemperature")
    wear = series(hub, "line-1-motor", "bearing.wear")
    assert temp["outOfRange"] == 1
    assert temp["expectedRange"] == {"min": -20.0, "max": 90.0}
    assert wear["outOfRange"] == 1
    assert wear["kind"] == "property"


def test_non_finite_numbers_are_flagged(hub: Hub) -> None:
    hub.twins.publish_telemetry("line-1-pump", {"pressure": math.nan}, message_id="m1")
    hub.twins.publish_telemetry("line-1-pump", {"pressure": math.inf}, message_id="m2")
    assert series(hub, "line-1-pump", "pressure")["nonFinite"] == 2


def test_api_writes_are_tracked_once_and_ingest_events_not_twice(
    hub: Hub, clock: ManualClock
) -> None:
    doc = hub.twins.get_twin("line-1-motor")
    doc.pop("$etag")
    hub.twins.upsert_twin("line-1-motor", {**doc, "ratedPower": 20.0})
    assert series(hub, "line-1-motor", "ratedPower")["count"] == 1
    tick(hub, clock, 0, power=21.0)  # IngestBatch counts it; its TwinChanged is "recorded"
    assert series(hub, "line-1-motor", "ratedPower")["count"] == 2


def test_rejects_per_source_address_and_client(hub: Hub, clock: ManualClock) -> None:
    bad = msg("plant/line-1-motor/motor", b"{oops", clock, client="dev-7")
    hub.ingest.submit([bad, bad])
    hub.ingest.submit([msg("nowhere/at/all", b"1", clock, client="dev-8")])
    rows = hub.quality.rejects()
    assert [(r["address"], r["client"], r["count"]) for r in rows] == [
        ("plant/line-1-motor/motor", "dev-7", 2),
        ("nowhere/at/all", "dev-8", 1),
    ]
    assert rows[0]["source"] == "mqtt"
    assert rows[0]["lastReason"]
    assert hub.quality.summary()["rejects"] == 3


def test_series_cap_bounds_memory(clock: ManualClock) -> None:
    with make_hub(clock, quality=QualityConfig(max_series=2)) as hub:
        for twin in ("line-1-pump", "line-2-pump", "site"):
            hub.twins.publish_telemetry(twin, {"x": 1}, message_id="m")
        summary = hub.quality.summary()
    assert summary["series"] == 2
    assert summary["untracked"] == 1


def test_quality_api_worst_first_per_twin_and_rejects(hub: Hub, clock: ManualClock) -> None:
    for i in range(7):
        tick(hub, clock, i * 1000, temp=212.0)  # 100 °C: all out of range
        hub.twins.publish_telemetry("line-2-pump", {"pressure": 1.0}, message_id=f"p{i}")
        clock.advance(1)
    hub.ingest.submit([msg("plant/line-1-motor/motor", b"{oops", clock)])
    with running_server(hub) as base, httpx.Client(timeout=10) as client:
        summary = client.get(f"{base}/quality").json()
        one = client.get(f"{base}/quality/line-1-motor").json()
        rejects = client.get(f"{base}/quality/rejects").json()
        missing = client.get(f"{base}/quality/no-such-twin")
        bad_limit = client.get(f"{base}/quality", params={"limit": 0})
    assert summary["worst"][0]["name"] == "windingTemperature"
    assert summary["worst"][0]["outOfRange"] == 7
    assert summary["outOfRange"] == 7
    assert summary["rejects"] == 1
    assert [s["name"] for s in one["series"]] == ["windingTemperature"]
    assert rejects["value"][0]["count"] == 1
    assert missing.status_code == 404
    assert bad_limit.status_code == 400


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("quality: [1, 2]", "'quality' must be a mapping"),
        ("quality: {gapFactor: -1}", "must be positive"),
        ("quality: {speed: 3}", "unknown quality key 'speed'"),
        ("quality: {ranges: [{min: 1}]}", "needs a 'name'"),
        ("quality: {ranges: [{name: x}]}", "needs 'min' and/or 'max'"),
        ("quality: {ranges: [{name: x, min: 5, max: 1}]}", "min 5.0 is above max 1.0"),
        ("quality: {ranges: [{name: x, max: 1, colour: red}]}", "unknown key(s)"),
        ("quality: {ranges: [{name: x, max: .nan}]}", "finite number"),
    ],
)
def test_bad_quality_config_is_refused_clearly(text: str, message: str) -> None:
    import yaml

    with pytest.raises(BadRequest) as info:
        parse_quality(yaml.safe_load(text), "q.yaml")
    assert message in info.value.message
    assert info.value.message.startswith("q.yaml")


def test_configure_applies_new_ranges_to_tracked_series(hub: Hub, clock: ManualClock) -> None:
    tick(hub, clock, 0, temp=212.0)  # 100 °C: above the file's 90
    hub.quality.configure(QualityConfig(ranges=(RangeRule("windingTemperature", max=150.0),)))
    tick(hub, clock, 1000, temp=212.0)  # now within range
    s = series(hub, "line-1-motor", "windingTemperature")
    assert s["outOfRange"] == 1
    assert s["expectedRange"] == {"min": None, "max": 150.0}


def test_unreadable_quality_files_are_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "latin1.yaml").write_bytes(b"quality:\n  ranges: []\n# caf\xe9\n")
    for name, fragment in [("latin1.yaml", "not valid UTF-8"), ("missing.yaml", "cannot be read")]:
        with pytest.raises(BadRequest, match=fragment):
            load_quality_file(tmp_path / name)
