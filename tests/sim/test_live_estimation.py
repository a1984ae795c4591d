"""The live estimator on a real hub: measured telemetry and property changes of one twin
drive the filter at their source times, and the virtual winding temperature comes back
as telemetry of the twin (recorded in history like any sensor's)."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from sim.thermal import loss_profile, simulate, thermal_model
from twinsight.core.clock import ManualClock
from twinsight.core.errors import NotFound, SimulationError
from twinsight.core.events import TelemetryReceived
from twinsight.hub import Hub
from twinsight.models.diagnostics import Document
from twinsight.sim.estimation import EstimatedState, EstimatorConfig, Measurement, StateEstimator
from twinsight.sim.estimation.live import LiveEstimator

MODEL = "dtmi:test:estimation:Motor;1"
INTERFACE = {
    "@context": "dtmi:dtdl:context;3",
    "@id": MODEL,
    "@type": "Interface",
    "contents": [
        {"@type": "Property", "name": "loss", "schema": "double", "writable": True},
        {"@type": "Telemetry", "name": "housingTemperature", "schema": "double"},
        {"@type": "Telemetry", "name": "windingTemperature", "schema": "double"},
        {"@type": "Telemetry", "name": "windingTemperatureStd", "schema": "double"},
    ],
}
NOISE = 0.5
SECONDS = 600


def _estimator() -> StateEstimator:
    config = EstimatorConfig(
        (
            EstimatedState("winding", q=1e-3, initial_std=20.0, publish_as="windingTemperature"),
            EstimatedState("housing", q=1e-3, initial_std=20.0),
        ),
        (Measurement("housingTemperature", "housingTemperature", r=NOISE**2),),
        method="ukf",
        inputs={"loss": "loss"},
    )
    return StateEstimator(thermal_model(), config)


@pytest.fixture
def motor(hub: Hub) -> Hub:
    hub.models.add([Document("test", INTERFACE)])
    hub.twins.upsert_twin("m1", {"$metadata": {"$model": MODEL}, "loss": 0.0})
    hub.twins.upsert_twin("m2", {"$metadata": {"$model": MODEL}, "loss": 0.0})
    return hub


def test_live_samples_keep_the_model_in_step_and_publish_the_virtual_sensor(
    motor: Hub, clock: ManualClock
) -> None:
    hub = motor
    losses = loss_profile(SECONDS)
    winding, housing = simulate(losses)
    noise = np.random.default_rng(11).normal(0.0, NOISE, SECONDS)
    published: list[TelemetryReceived] = []
    hub.bus.subscribe(
        lambda e: published.append(e) if "windingTemperature" in e.payload else None,
        TelemetryReceived,
    )
    live = LiveEstimator(hub.twins, hub.bus, "m1", _estimator())
    start = clock.now()
    for k in range(SECONDS):
        # the sensor's message carries its own time; the hub's clock runs a little later
        hub.twins.publish_telemetry(
            "m1",
            {"housingTemperature": float(housing[k] + noise[k])},
            message_id=f"s{k}",
            source_time=start + timedelta(seconds=k),
        )
        hub.twins.publish_telemetry(  # another twin's data must not reach this filter
            "m2", {"housingTemperature": 500.0}, message_id=f"o{k}", source_time=clock.now()
        )
        if k == 0 or losses[k] != losses[k - 1]:
            hub.twins.patch_twin(
                "m1", [{"op": "replace", "path": "/loss", "value": float(losses[k])}]
            )
        clock.advance(1.0)
    live.close()
    assert live.samples == SECONDS + np.count_nonzero(np.diff(losses))  # input-only samples too
    assert live.late == 0 and live.failures == 0
    model = live.estimator.model
    assert model.time == pytest.approx(SECONDS - 1, abs=1.0)
    assert len(published) == SECONDS
    assert all(e.twin_id == "m1" for e in published)
    assert published[-1].source_time == start + timedelta(seconds=SECONDS - 1)
    estimated = np.array([e.payload["windingTemperature"] for e in published])
    std = np.array([e.payload["windingTemperatureStd"] for e in published])
    late = slice(200, None)
    assert np.mean(np.abs(estimated[late] - winding[late]) <= 3 * std[late]) >= 0.95
    assert np.max(np.abs(estimated[late] - winding[late])) < 2.0
    # what was published is in history, as telemetry of the twin
    hub.recorder.flush()
    recorded = hub.history.range("m1/windingTemperature", limit=10_000)
    assert len(recorded) == SECONDS
    assert recorded[-1].value == pytest.approx(estimated[-1])
    # closed: further samples change nothing
    hub.twins.publish_telemetry(
        "m1", {"housingTemperature": 90.0}, message_id="after", source_time=clock.now()
    )
    assert len(published) == SECONDS


def test_a_sample_older_than_the_last_is_skipped_and_counted(
    motor: Hub, clock: ManualClock
) -> None:
    live = LiveEstimator(motor.twins, motor.bus, "m1", _estimator())
    t0: datetime = clock.now()
    for seconds in (0, 10, 5, 20):
        motor.twins.publish_telemetry(
            "m1",
            {"housingTemperature": 20.0},
            message_id=str(seconds),
            source_time=t0 + timedelta(seconds=seconds),
        )
    assert (live.samples, live.late) == (3, 1)
    assert live.estimator.time == pytest.approx(20.0)
    assert live.last_time == t0 + timedelta(seconds=20)
    live.close()


def test_an_unknown_twin_or_a_name_clash_is_refused(motor: Hub) -> None:
    with pytest.raises(NotFound):
        LiveEstimator(motor.twins, motor.bus, "nobody", _estimator())
    clashing = EstimatorConfig(
        (EstimatedState("housing", q=1.0, publish_as="housingTemperature"),
         EstimatedState("winding", q=1.0)),
        (Measurement("housingTemperature", "housingTemperature", r=1.0),),
    )  # fmt: skip
    with pytest.raises(SimulationError, match="read back what it publishes"):
        LiveEstimator(motor.twins, motor.bus, "m1", StateEstimator(thermal_model(), clashing))


def test_a_failing_sample_is_counted_and_the_estimator_carries_on(motor: Hub) -> None:
    live = LiveEstimator(motor.twins, motor.bus, "m1", _estimator())
    motor.twins.publish_telemetry("m1", {"housingTemperature": 20.0}, message_id="a")
    # a loss below the input's bound (0 W) is refused by the model
    motor.twins.patch_twin("m1", [{"op": "replace", "path": "/loss", "value": -5.0}])
    assert live.failures == 1
    motor.twins.publish_telemetry("m1", {"housingTemperature": 20.5}, message_id="b")
    assert live.samples == 2
    live.close()
