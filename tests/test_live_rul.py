"""Remaining useful life served live on a simulated clock: a motor whose wear grows gets a
falling RUL with low <= value <= high, published with the model version that produced it
(``GET /twins/{id}/derived`` names it), and a newly activated version is used from the
next prediction on. The model is a small one trained here on simulated motors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient

from support import MOTOR, build_factory
from twinsight.analytics.rul_motor import MotorRulModel, train
from twinsight.api import create_app
from twinsight.core.clock import ManualClock
from twinsight.core.events import TelemetryReceived
from twinsight.core.ports import HistoryPoint
from twinsight.hub import Hub
from twinsight.live_rul import MODEL_NAME, TELEMETRY, LiveRul

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
TWIN = "line-1-motor"


@pytest.fixture(scope="module")
def trained() -> MotorRulModel:
    return train(40, held_out=10, segments_per_motor=6, max_iter=60).model


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def hub(clock: ManualClock) -> Iterator[Hub]:
    with Hub(clock=clock) as hub:
        build_factory(hub)
        yield hub


def record_hours(hub: Hub, clock: ManualClock, wear: float, hours: float) -> None:
    """``hours`` of a running motor's sensors at bearing wear ``wear`` into history, as
    the ingest path stores them (vibration in the model's cm/s), ending at the clock."""
    rng = np.random.default_rng(int(wear * 1000))
    start = clock.now()
    points = []
    for k in range(int(hours * 3600 / 30)):
        t = start + timedelta(seconds=30 * k)
        vibration_mm_s = 0.987 * (0.8 + 6.3 * wear**2) + rng.normal(0, 0.05)
        for name, value in (
            ("vibration", vibration_mm_s / 10.0),
            ("windingTemperature", 79.0 + rng.normal(0, 0.3)),
            ("speed", 1460.0 + rng.normal(0, 2.0)),
        ):
            points.append(HistoryPoint(TWIN, name, "telemetry", t, value))
    hub.history.append(points)
    clock.advance(hours * 3600)


def test_rising_wear_gives_falling_rul_named_by_its_version(
    hub: Hub, clock: ManualClock, trained: MotorRulModel
) -> None:
    hub.registry.register(MODEL_NAME, "rul", trained, metrics={"rmse_hours": 1.0})
    hub.registry.attach(MODEL_NAME, "model", MOTOR)
    published: list[TelemetryReceived] = []
    hub.bus.subscribe(
        lambda e: published.append(e) if e.twin_id == TWIN and "rul" in e.message_id else None,
        TelemetryReceived,
    )
    live = LiveRul(hub)
    try:
        assert TWIN in live.twins() and "line-1-pump" not in live.twins()
        assert live.tick() == 0  # no history yet: nothing to say
        ruls = []
        for wear in (0.1, 0.5, 0.8, 0.95):
            record_hours(hub, clock, wear, 8)
            assert live.tick() >= 1
            values = published[-1].payload
            low, mid, high = (values[name] for name in (TELEMETRY[1], TELEMETRY[0], TELEMETRY[2]))
            assert 0 <= low <= mid <= high
            ruls.append(mid)
        assert ruls == sorted(ruls, reverse=True) and ruls[0] > ruls[-1], ruls
        assert published[-1].properties == {
            "twinsight-model": MODEL_NAME,
            "twinsight-model-version": "1",
        }
        with TestClient(create_app(hub)) as client:
            derived = client.get(f"/twins/{TWIN}/derived").json()["value"]
        assert {(d["name"], d["model"], d["version"]) for d in derived} == {
            (name, MODEL_NAME, 1) for name in TELEMETRY
        }
        # A new version, activated: the next prediction uses it.
        hub.registry.register(MODEL_NAME, "rul", trained)
        clock.advance(600)
        assert live.tick() >= 1
        assert published[-1].properties["twinsight-model-version"] == "2"
        # Rolled back: the one after uses version 1 again.
        hub.registry.activate(MODEL_NAME, 1)
        clock.advance(600)
        live.tick()
        assert published[-1].properties["twinsight-model-version"] == "1"
        assert hub.derived.of(TWIN)[0].version == 1
    finally:
        live.stop()


def test_new_telemetry_brings_a_prediction_forward_but_rate_limited(
    hub: Hub, clock: ManualClock, trained: MotorRulModel
) -> None:
    hub.registry.register(MODEL_NAME, "rul", trained)
    hub.registry.attach(MODEL_NAME, "twin", TWIN)
    live = LiveRul(hub, period=3600, min_gap=60)
    try:
        record_hours(hub, clock, 0.3, 2)
        assert live.tick() == 1 and live.twins() == {TWIN: 1}
        clock.advance(30)
        hub.twins.publish_telemetry(TWIN, {"vibration": 0.12}, message_id="sensor")
        assert live.tick() == 0  # within the minimum gap
        clock.advance(60)
        assert live.tick() == 0  # nothing new arrived since the last round
        hub.twins.publish_telemetry(TWIN, {"vibration": 0.12}, message_id="sensor")
        assert live.tick() == 1
    finally:
        live.stop()


def test_a_model_that_is_not_a_motor_rul_model_is_refused_not_used(
    hub: Hub, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    hub.registry.register(MODEL_NAME, "rul", {"not": "a model"})
    hub.registry.attach(MODEL_NAME, "twin", TWIN)
    record_hours(hub, clock, 0.3, 1)
    live = LiveRul(hub)
    try:
        assert live.tick() == 0
        assert "not a motor RUL model" in caplog.text
    finally:
        live.stop()
