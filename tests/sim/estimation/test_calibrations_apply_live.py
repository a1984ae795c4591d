"""A parameter version saved while the platform runs reaches the running simulation (at
its next step, in its own thread) and the running estimators, for that twin only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from support import build_factory
from twinsight.core.clock import ManualClock
from twinsight.hub import Hub
from twinsight.live_estimation import start_estimators
from twinsight.live_parameters import ParameterUpdates
from twinsight.scenarios.factory.sim import simulation_spec
from twinsight.sim.binding import GraphValues, SimulationBuilder
from twinsight.sim.live import LiveSimulation

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def hub() -> Iterator[Hub]:
    with Hub(clock=ManualClock(T0)) as hub:
        build_factory(hub)
        hub.simulation = simulation_spec()
        yield hub


def test_the_live_simulation_takes_a_new_version_at_its_next_step(hub: Hub) -> None:
    spec = simulation_spec()
    hub.parameters.save("line-1-motor", "motor", {"housing_resistance": 0.04})
    builder = SimulationBuilder(
        hub.twins,
        spec.catalog,
        GraphValues(hub.twins),
        fleets=spec.fleets,
        calibrated=hub.parameters,
    )
    simulation = builder.build(spec.bindings, spec.couplings)
    updates = ParameterUpdates(simulation, hub.parameters)
    live = LiveSimulation(simulation, hub.twins, hub.clock, step=5.0, writers=[updates])
    motors, prefix = simulation.locate("line-1-motor")
    assert motors.parameters()[f"{prefix}housing_resistance"] == 0.04  # built with it

    hub.parameters.save("line-1-motor", "motor", {"housing_resistance": 0.07})
    hub.parameters.save("line-1-pump", "motor", {"housing_resistance": 0.5})  # not its model
    assert motors.parameters()[f"{prefix}housing_resistance"] == 0.04  # not between steps
    assert isinstance(hub.clock, ManualClock)
    hub.clock.advance(5.0)
    assert live.catch_up() == 1 and live.error is None
    after = motors.parameters()
    assert after[f"{prefix}housing_resistance"] == 0.07
    assert after["line-2-motor.housing_resistance"] == pytest.approx(0.035)
    assert updates.applied == 1
    updates.unsubscribe()
    simulation.close()


def test_running_estimators_take_their_twin_s_new_version(hub: Hub) -> None:
    assert hub.simulation is not None
    live = {e.twin_id: e for e in start_estimators(hub, hub.simulation)}
    hub.parameters.save("line-1-motor", "motor", {"housing_resistance": 0.06, "efficiency": 0.9})
    assert live["line-1-motor"].estimator.model.parameters()["housing_resistance"] == 0.06
    assert live["line-1-motor"].estimator.model.parameters()["efficiency"] == 0.9
    assert live["line-2-motor"].estimator.model.parameters()["housing_resistance"] == 0.035
