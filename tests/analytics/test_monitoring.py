"""The monitoring file and its runner: every problem of a file named with its line and
field; detectors run per (twin, stream) on live events; bad samples (NaN, text, times
going back, a constant series) are scored or skipped with a reason, never a crash;
residuals pair measurement and estimate; limits follow a property; the CLI refuses a bad
file before serving."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from support import add_factory_models
from twinsight.analytics.detectors.multi import multi_detector_classes
from twinsight.analytics.monitoring import (
    MonitoringConfigError,
    detector_classes,
    load_monitoring_file,
    parse_monitoring,
)
from twinsight.cli import app
from twinsight.core.clock import ManualClock
from twinsight.hub import Hub
from twinsight.scenarios import factory
from twinsight.scenarios.factory import world

T0 = datetime(2026, 5, 4, 6, 0, tzinfo=UTC)


def _problems(text: str) -> list[str]:
    with pytest.raises(MonitoringConfigError) as info:
        parse_monitoring(text, "m.yaml")
    assert info.value.code == "InvalidMonitoring"
    return info.value.problems


def test_the_factory_file_loads_and_names_registered_detectors() -> None:
    spec = load_monitoring_file(factory.MONITORING_FILE)
    names = {m.name for m in spec.monitors}
    assert {"motor-vibration", "pump-flow", "tank-level-limits"} <= names
    for monitor in spec.monitors:
        known = multi_detector_classes() if monitor.streams else detector_classes()
        assert monitor.detector is None or monitor.detector in known
    assert {"robust_z", "rarity", "hst"} <= set(detector_classes())


def test_every_problem_is_named_with_its_line_and_field() -> None:
    problems = _problems(
        """monitors:
  - name: a
    model: dtmi:x:Y;1
    stream: v
    detector: robust_z
    parameters: {alpha: 7}
    alarm: {raise: 0.8}
  - name: b
    twins: [t]
    stream: v
    detector: robust_z
    alarm:
      raise: 1.5
      severity: fatal
  - name: c
    model: dtmi:x:Y;1
    twins: [t]
    stream: v
    limit: {deadband: 1}
"""
    )
    assert problems[0].startswith("m.yaml: line 2: monitors[0]: detector 'robust_z': alpha")
    assert any(p.startswith("m.yaml: line 13: monitors[1].alarm.raise: ") for p in problems)
    assert any(
        p.startswith("m.yaml: line 14: monitors[1].alarm.severity: Input should be 'critical'")
        for p in problems
    )
    assert any(
        "line 19: monitors[2].limit: a limit needs 'above' or 'below'" in p for p in problems
    )
    broken = _problems("monitors:\n  - name: a\n    model: dtmi:x:Y;1\n    stream: [\n")
    assert broken == [
        "m.yaml: line 5, column 1: not valid YAML: expected the node content, but found "
        "'<stream end>'"
    ]
    unknown = _problems(
        "monitors:\n  - {name: a, model: 'dtmi:x:Y;1', stream: v, detector: nope, "
        "alarm: {raise: 0.5}}\n"
    )
    assert "line 2: monitors[0]: unknown detector 'nope'; registered: " in unknown[0]
    extra = _problems("monitors:\n  - {name: a, twins: [t], stream: v, colour: red}\n")
    assert any("line 2: monitors[0].colour: Extra inputs are not permitted" in p for p in extra)
    both = _problems("monitors:\n  - {name: a, twins: [t], stream: v}\n")
    assert "give exactly one of 'detector' (anomaly) or 'limit' (bounds)" in both[0]
    twice = _problems(
        "monitors:\n  - {name: a, twins: [t], stream: v, limit: {above: 1}}\n"
        "  - {name: a, twins: [t], stream: w, limit: {above: 1}}\n"
    )
    assert "monitor name 'a' is used twice" in twice[0]


def test_the_cli_refuses_a_bad_monitoring_file_before_serving(tmp_path: Path) -> None:
    bad = tmp_path / "monitoring.yaml"
    bad.write_text("monitors:\n  - name: a\n    twins: [t]\n    stream: v\n    limit: {}\n")
    for command in (["serve", "--port", "0"], ["demo", "--port", "0"]):
        result = CliRunner().invoke(
            app, [*command, "--data-dir", str(tmp_path / "d"), "--monitoring", str(bad)]
        )
        assert result.exit_code == 2, result.output
        assert "line 5: monitors[0].limit: a limit needs 'above' or 'below'" in result.output
    assert not (tmp_path / "d").exists()  # refused before anything was opened


MONITORS = """
monitors:
  - name: vib
    twins: [line-*-motor]
    stream: vibration
    detector: robust_z
    parameters: {warmup: 5}
    alarm: {severity: major, raise: 0.7, clear: 0.5, raise_after: 2, clear_after: 3}
  - name: winding
    model: dtmi:twinsight:factory:Motor;1
    residual: {measured: windingTemperature, estimate: windingTemperaturePredicted,
               std: windingTemperaturePredictedStd, max_lag: 30}
    detector: robust_z
    parameters: {warmup: 5}
    alarm: {severity: minor, raise: 0.9, clear: 0.5}
  - name: tank
    model: dtmi:twinsight:factory:Machine;1
    stream: level
    limit: {above: alarmLimits.high, below: 0.2}
    alarm: {severity: critical}
  - name: hours
    model: dtmi:twinsight:factory:Motor;1
    stream: operatingHours
    kind: property
    limit: {above: 10000}
"""


@pytest.fixture
def hub() -> Iterator[Hub]:
    with Hub(clock=ManualClock(T0)) as hub:
        add_factory_models(hub)
        world.build(hub.twins, lines=2)
        hub.start_monitoring(parse_monitoring(MONITORS, "m.yaml"))
        yield hub


def _send(hub: Hub, twin: str, second: float, **payload: Any) -> None:
    hub.twins.publish_telemetry(
        twin,
        payload,
        message_id=f"m{second}",
        source_time=T0 + timedelta(seconds=second),
    )


def _score(hub: Hub, twin: str, monitor: str) -> dict[str, Any]:
    assert hub.monitoring is not None
    scores = {s.monitor: s.to_json() for s in hub.monitoring.scores(twin)}
    return scores[monitor]


def test_bad_samples_get_a_defined_score_or_a_reason_and_never_stop_the_runner(hub: Hub) -> None:
    for second in range(10):  # a constant series: no spread at all
        _send(hub, "line-1-motor", second, vibration=0.1)
    assert _score(hub, "line-1-motor", "vib")["score"] == 0.0
    _send(hub, "line-1-motor", 10, vibration=math.nan)
    nan = _score(hub, "line-1-motor", "vib")
    assert (nan["score"], nan["samples"]) == (0.0, 11)  # scored 0, not learnt
    assert "non-finite" in nan["lastSkip"]
    _send(hub, "line-1-motor", 5, vibration=0.1)  # time went back
    _send(hub, "line-1-motor", 11, vibration="loud")  # not a number
    _send(hub, "line-1-motor", 11.5, vibration=True)  # a boolean is not a measurement
    after = _score(hub, "line-1-motor", "vib")
    assert (after["samples"], after["skipped"]) == (11, 3)
    assert "not a number" in after["lastSkip"]
    _send(hub, "line-1-motor", 3600, vibration=0.1)  # after an hour's gap: scored as usual
    assert _score(hub, "line-1-motor", "vib")["samples"] == 12
    # The first change of a constant series is as odd as it gets: two raise the alarm.
    _send(hub, "line-1-motor", 3601, vibration=0.5)
    _send(hub, "line-1-motor", 3602, vibration=0.5)
    alarm = hub.alarms.active("line-1-motor", "anomaly:vibration")
    assert alarm is not None and alarm.severity == "major" and alarm.value == 0.5
    assert alarm.raised == T0 + timedelta(seconds=3602)
    assert alarm.source.startswith("detector robust_z (monitor vib")
    assert hub.alarms.active("line-2-motor", "anomaly:vibration") is None  # its own detector
    assert hub.monitoring is not None
    assert [s.monitor for s in hub.monitoring.scores("line-2-motor")] == []  # nothing sent


def test_a_residual_pairs_measurement_and_estimate_at_equal_times_or_the_latest_before(
    hub: Hub,
) -> None:
    # The estimator publishes after the measurement it predicted, at the same source time.
    for second in range(8):
        _send(hub, "line-1-motor", second, windingTemperature=70.0 + 0.01 * second)
        _send(
            hub,
            "line-1-motor",
            second,
            windingTemperaturePredicted=70.0,
            windingTemperaturePredictedStd=0.5,
        )
    paired = _score(hub, "line-1-motor", "winding")
    assert paired["samples"] == 8 and paired["stream"] == "windingTemperature-residual"
    assert paired["value"] == pytest.approx(0.14)  # (70.07 - 70) / 0.5
    # No estimate at 8: once one at 9 arrives, 8 pairs with the latest before it (at 7).
    _send(hub, "line-1-motor", 8, windingTemperature=71.0)
    assert _score(hub, "line-1-motor", "winding")["samples"] == 8  # waits for its estimate
    _send(
        hub, "line-1-motor", 9, windingTemperaturePredicted=70.0, windingTemperaturePredictedStd=0.5
    )
    assert _score(hub, "line-1-motor", "winding")["value"] == pytest.approx(2.0)
    # In one message; a missing std is a skip with the reason; too old an estimate too.
    _send(hub, "line-1-motor", 10, windingTemperature=70.5, windingTemperaturePredicted=70.0)
    assert (
        "no positive windingTemperaturePredictedStd"
        in _score(hub, "line-1-motor", "winding")["lastSkip"]
    )
    _send(hub, "line-1-motor", 100, windingTemperature=70.0)
    _send(
        hub,
        "line-1-motor",
        101,
        windingTemperaturePredicted=70.0,
        windingTemperaturePredictedStd=0.5,
    )
    assert "no estimate within 30 s" in _score(hub, "line-1-motor", "winding")["lastSkip"]


def test_a_limit_follows_its_property_and_a_patch_takes_effect_at_once(hub: Hub) -> None:
    _send(hub, "line-1-tank", 1, level=3.0)
    assert hub.alarms.list() == []
    hub.twins.patch_twin(
        "line-1-tank",
        [{"op": "replace", "path": "/alarmLimits", "value": {"low": 0.5, "high": 2.5}}],
    )
    alarm = hub.alarms.active("line-1-tank", "limit:level:high")
    assert alarm is not None and "over the high limit 2.5" in alarm.message
    hub.twins.patch_twin(
        "line-1-tank",
        [{"op": "replace", "path": "/alarmLimits", "value": {"low": 0.5, "high": 3.5}}],
    )
    assert hub.alarms.get(alarm.id).state == "cleared"
    _send(hub, "line-1-tank", 2, level=0.1)  # under the fixed low bound 0.2
    assert hub.alarms.active("line-1-tank", "limit:level:low") is not None
    # A property stream: the motor's operating hours past 10000.
    hub.twins.patch_twin(
        "line-1-motor", [{"op": "add", "path": "/operatingHours", "value": 12000.0}]
    )
    hours = hub.alarms.active("line-1-motor", "limit:operatingHours:high")
    assert hours is not None and hours.value == 12000.0


def test_an_alarm_left_active_before_a_restart_still_clears(tmp_path: Path) -> None:
    spec = parse_monitoring(MONITORS, "m.yaml")
    with Hub(tmp_path, clock=ManualClock(T0)) as hub:
        add_factory_models(hub)
        world.build(hub.twins, lines=1)
        hub.start_monitoring(spec)
        _send(hub, "line-1-tank", 1, level=3.9)
        assert hub.alarms.active("line-1-tank", "limit:level:high") is not None
    with Hub(tmp_path, clock=ManualClock(T0)) as hub:
        hub.start_monitoring(spec)
        _send(hub, "line-1-tank", 2, level=3.0)
        assert hub.alarms.active("line-1-tank", "limit:level:high") is None
        (alarm,) = hub.alarms.list()
        assert alarm.state == "cleared" and alarm.value == 3.0


def test_a_series_is_scored_sample_by_sample_from_the_watched_columns(hub: Hub) -> None:
    """A SenML pack arrives as one TelemetrySeries: the runner takes it whole and scores
    each sample of the columns it watches, in time order, skipping the gaps (None)."""
    from twinsight.core.events import TelemetrySeries

    start = int(T0.timestamp() * 1e6)
    times = [start + i * 1_000_000 for i in range(12)]
    vibration: list[float | None] = [0.1] * 10 + [None, 0.9]
    hub.bus.publish(
        TelemetrySeries(
            "line-1-motor",
            "dtmi:twinsight:factory:Motor;1",
            None,
            "pack-1",
            T0,
            times,
            {"vibration": vibration, "speed": [1480.0] * 12},
        )
    )
    score = _score(hub, "line-1-motor", "vib")
    assert (score["samples"], score["skipped"], score["value"]) == (11, 0, 0.9)
    assert score["sourceTime"] == "2026-05-04T06:00:11Z"
    assert score["score"] > 0.9  # the jump after a constant run


def test_settle_holds_a_detector_back_over_the_start_up_and_a_limit_refuses_it() -> None:
    spec = parse_monitoring(
        "monitors:\n  - {name: v, twins: [line-1-motor], stream: vibration, "
        "detector: robust_z, parameters: {warmup: 5}, settle: 60, alarm: {raise: 0.9}}\n",
        "m.yaml",
    )
    with Hub(clock=ManualClock(T0)) as hub:
        add_factory_models(hub)
        world.build(hub.twins, lines=1)
        hub.start_monitoring(spec)
        for second in range(0, 120, 5):  # a start-up ramp for a minute, then steady
            _send(hub, "line-1-motor", second, vibration=min(second, 60) / 100)
        score = _score(hub, "line-1-motor", "v")
        assert (score["samples"], score["skipped"]) == (12, 12)
        assert score["lastSkip"] == "settling: the first 60 s are not scored"
        assert hub.alarms.list() == []  # the ramp was never scored nor learnt
    refused = _problems(
        "monitors:\n  - {name: l, twins: [t], stream: v, limit: {above: 1}, settle: 60}\n"
    )
    assert "'settle' holds back a detector; a limit applies at once" in refused[0]
