"""Monitors as registered models and their scores as derived telemetry: a detector
monitor is a version of ``monitor.<name>`` that survives a restart with the same file and
is bumped by a changed definition; its alarms name it; a published score names it at
``/twins/{id}/derived`` at a bounded rate; a multi-stream monitor scores fresh vectors;
names the models do not declare (or would shadow) are refused with line and field."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from support import add_factory_models
from twinsight.analytics.monitoring import MonitoringConfigError, parse_monitoring
from twinsight.api import create_app
from twinsight.cli import app
from twinsight.core.clock import ManualClock
from twinsight.core.events import TelemetryReceived
from twinsight.core.provenance import MODEL, MODEL_VERSION
from twinsight.hub import Hub
from twinsight.scenarios.factory import world

T0 = datetime(2026, 5, 4, 6, 0, tzinfo=UTC)
MOTOR = "dtmi:twinsight:factory:Motor;1"
VIB = """
monitors:
  - name: vib
    model: dtmi:twinsight:factory:Motor;1
    stream: vibration
    detector: robust_z
    parameters: {{warmup: 5}}
    publish: vibrationAnomalyScore
    publish_every: {every}
    alarm: {{severity: major, raise: {raise_at}, clear: 0.5, raise_after: 2}}
  - name: load
    twins: [line-1-motor]
    streams: [speed, current]
    fresh: 6
    detector: mahalanobis
    parameters: {{warmup: 20}}
    publish: loadAnomalyScore
    publish_every: 0
    alarm: {{severity: minor, raise: 0.9999, clear: 0.99, raise_after: 2}}
  - name: tank
    model: dtmi:twinsight:factory:Tank;1
    stream: level
    limit: {{above: 4.0}}
"""


def _spec(every: float = 10, raise_at: float = 0.7) -> Any:
    return parse_monitoring(VIB.format(every=every, raise_at=raise_at), "m.yaml")


def _open(data_dir: Path, spec: Any) -> Hub:
    hub = Hub(data_dir, clock=ManualClock(T0))
    if not hub.models.model_set or MOTOR not in hub.models.model_set:
        add_factory_models(hub)
        world.build(hub.twins, lines=2)
    hub.start_monitoring(spec)
    return hub


def _send(hub: Hub, twin: str, second: float, **payload: Any) -> None:
    hub.twins.publish_telemetry(
        twin, payload, message_id=f"m{second}", source_time=T0 + timedelta(seconds=second)
    )


def test_versions_are_kept_across_a_restart_and_bumped_by_a_changed_definition(
    tmp_path: Path,
) -> None:
    with _open(tmp_path, _spec()) as hub:
        assert hub.monitoring is not None
        assert hub.monitoring.versions == {"vib": 1, "load": 1}  # a limit is no model
        first = hub.registry.get("monitor.vib")
        assert first.kind == "detector" and '"detector":"robust_z"' in first.training["definition"]
        attached = hub.registry.attachments("monitor.vib")
        assert [(a.target_kind, a.target, a.version) for a in attached] == [("model", MOTOR, 1)]
        assert [a.target for a in hub.registry.attachments("monitor.load")] == ["line-1-motor"]
    with _open(tmp_path, _spec(every=60)) as hub:  # same definition: where it is published
        assert hub.monitoring is not None and hub.monitoring.versions["vib"] == 1
        assert [v.version for v in hub.registry.versions("monitor.vib")] == [1]
    with _open(tmp_path, _spec(raise_at=0.8)) as hub:  # a new alarm rule: a new version
        assert hub.monitoring is not None and hub.monitoring.versions == {"vib": 2, "load": 1}
        assert hub.registry.active_version("monitor.vib") == 2
        assert hub.registry.attachments("monitor.vib")[0].version == 2
    with _open(tmp_path, _spec()) as hub:  # back to the first file: its version again
        assert hub.monitoring is not None and hub.monitoring.versions["vib"] == 1
        assert hub.registry.active_version("monitor.vib") == 1
        assert len(hub.registry.versions("monitor.vib")) == 2


@pytest.fixture
def hub() -> Iterator[Hub]:
    with Hub(clock=ManualClock(T0)) as hub:
        add_factory_models(hub)
        world.build(hub.twins, lines=2)
        hub.start_monitoring(_spec())
        yield hub


def test_alarm_source_and_derived_route_name_the_detector_version(hub: Hub) -> None:
    published: list[TelemetryReceived] = []
    hub.bus.subscribe(
        lambda e: published.append(e) if "vibrationAnomalyScore" in e.payload else None,
        TelemetryReceived,
    )
    for second in range(0, 200, 2):
        _send(hub, "line-1-motor", second, vibration=0.1 + 0.001 * (second % 3))
    # 100 samples over 200 s, published at most every 10 s of source time: 20 messages
    assert len(published) == 20
    assert {e.properties[MODEL] for e in published} == {"monitor.vib"}
    assert {e.properties[MODEL_VERSION] for e in published} == {"1"}
    assert published[1].source_time == T0 + timedelta(seconds=10)
    _send(hub, "line-1-motor", 200, vibration=0.9)
    _send(hub, "line-1-motor", 202, vibration=0.9)
    alarm = hub.alarms.active("line-1-motor", "anomaly:vibration")
    assert alarm is not None
    assert alarm.source.startswith("detector robust_z (monitor vib; model monitor.vib v1; ")
    with TestClient(create_app(hub)) as client:
        derived = client.get("/twins/line-1-motor/derived").json()["value"]
        assert [(d["name"], d["model"], d["version"]) for d in derived] == [
            ("vibrationAnomalyScore", "monitor.vib", 1)
        ]
        scores = client.get("/twins/line-1-motor/anomalies").json()
        text = str(scores)
        assert "'model': 'monitor.vib'" in text and "'version': 1" in text
    # The Motor model does not declare the score: it is recorded as any telemetry is.
    hub.recorder.flush()
    points = hub.history.range("line-1-motor/vibrationAnomalyScore", limit=100)
    assert len(points) == 21 and all(
        isinstance(p.value, float) and 0.0 <= p.value <= 1.0 for p in points
    )


def test_a_multi_stream_monitor_scores_fresh_vectors_and_catches_an_odd_combination(
    hub: Hub,
) -> None:
    assert hub.monitoring is not None
    # Speed and current arrive in separate messages at the same sample times.
    for i in range(300):
        speed = 1450.0 + 40.0 * ((i % 50) / 50.0) + (i % 7) * 0.3
        _send(hub, "line-1-motor", 5 * i, speed=speed)
        _send(hub, "line-1-motor", 5 * i, current=0.01 * speed + (i % 5) * 0.01)
    load = {s.monitor: s for s in hub.monitoring.scores("line-1-motor")}["load"]
    assert load.samples == 300 and load.skipped == 0  # one vector per sample time
    assert hub.alarms.active("line-1-motor", "anomaly:speed+current") is None
    # A stale stream: speed arrives alone, 20 s after current's last value (judged when
    # the next sample time begins).
    _send(hub, "line-1-motor", 5 * 299 + 20, speed=1450.0)
    # Current up with speed flat: each ordinary, together not (one pack each time).
    for j in range(1, 4):
        t = 5 * 299 + 20 + 5 * j
        _send(hub, "line-1-motor", t, speed=1460.0, current=14.6 + 0.35)
    load = {s.monitor: s for s in hub.monitoring.scores("line-1-motor")}["load"]
    assert (load.samples, load.skipped) == (303, 1)
    assert "no value of current within 6 s" in (load.last_skip or "")
    alarm = hub.alarms.active("line-1-motor", "anomaly:speed+current")
    assert alarm is not None and "model monitor.load v1" in alarm.source
    assert hub.alarms.active("line-2-motor", "anomaly:speed+current") is None
    derived = {d.name: d for d in hub.derived.of("line-1-motor")}
    assert derived["loadAnomalyScore"].model == "monitor.load"
    assert derived["loadAnomalyScore"].value > 0.9999


def _refused(hub: Hub, text: str) -> list[str]:
    with pytest.raises(MonitoringConfigError) as info:
        hub.start_monitoring(parse_monitoring(text, "m.yaml"))
    return info.value.problems


def test_bad_multi_stream_and_publish_names_are_refused_with_line_and_field(hub: Hub) -> None:
    with pytest.raises(MonitoringConfigError) as info:
        parse_monitoring(
            "monitors:\n  - name: a\n    model: dtmi:twinsight:factory:Motor;1\n"
            "    streams: [speed]\n    detector: mahalanobis\n    alarm: {raise: 0.9}\n",
            "m.yaml",
        )
    assert "m.yaml: line 2: monitors[0]: 'streams' names two or more" in info.value.problems[0]
    unknown = _refused(
        hub,
        "monitors:\n  - name: a\n    model: dtmi:twinsight:factory:Motor;1\n"
        "    streams: [speed, torque]\n    detector: mahalanobis\n    alarm: {raise: 0.9}\n",
    )
    assert unknown[0].startswith(
        "m.yaml: line 4: monitors[0].streams[1]: dtmi:twinsight:factory:Motor;1 declares no "
        "telemetry 'torque' (it has: "
    )
    clash = _refused(
        hub,
        "monitors:\n  - name: a\n    model: dtmi:twinsight:factory:Motor;1\n"
        "    stream: vibration\n    detector: robust_z\n    publish: current\n"
        "    alarm: {raise: 0.9}\n",
    )
    assert clash == [
        "m.yaml: line 6: monitors[0].publish: 'current' is a telemetry "
        "dtmi:twinsight:factory:Motor;1 declares; a published score takes a name of its own "
        "(say, vibrationAnomalyScore)"
    ]
    assert hub.monitoring is not None and hub.monitoring.spec.monitors[0].name == "vib"  # kept


def test_the_demo_refuses_a_monitoring_file_that_does_not_fit_its_models(tmp_path: Path) -> None:
    bad = tmp_path / "monitoring.yaml"
    bad.write_text(
        "monitors:\n  - name: a\n    model: dtmi:twinsight:factory:Motor;1\n"
        "    streams: [speed, torque]\n    detector: mahalanobis\n    alarm: {raise: 0.9}\n"
    )
    result = CliRunner().invoke(
        app, ["demo", "--port", "0", "--data-dir", str(tmp_path / "d"), "--monitoring", str(bad)]
    )
    assert result.exit_code == 1, result.output
    assert "line 4: monitors[0].streams[1]: dtmi:twinsight:factory:Motor;1 declares no " in str(
        result.exception
    )
