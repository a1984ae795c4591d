"""A what-if forked from the factory starts its motors' drives where the twins put them.

No sensor reports a drive's field speed, so its state is not read from a twin; the motor
model's ``steady_start`` settles it for the inputs the twins report. Without it every
fork began each drive at 1500 rpm and the first minute showed a ramp reality never had.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pytest

from support import add_factory_models
from twinsight.core.clock import ManualClock
from twinsight.core.ports import HistoryPoint
from twinsight.hub import Hub
from twinsight.live_sim import start_simulation
from twinsight.scenarios.factory import world
from twinsight.scenarios.factory.sim import simulation_spec
from twinsight.sim.binding import GraphValues, SimulationBuilder

T0 = datetime(2026, 5, 4, 6, 0, tzinfo=UTC)
SLIP = 1.0 - 1460.0 / 1500.0  # the motor's rated slip at full load


@pytest.fixture
def hub() -> Iterator[Hub]:
    with Hub(clock=ManualClock(T0)) as hub:
        add_factory_models(hub)
        world.build(hub.twins, lines=3)
        hub.simulation = simulation_spec()
        hub.twins.patch_twin(
            "line-1-motor", [{"op": "replace", "path": "/state", "value": "stopped"}]
        )
        hub.twins.patch_twin(
            "line-2-motor", [{"op": "replace", "path": "/speedSetpoint", "value": 1200.0}]
        )
        hub.history.append(
            [HistoryPoint("line-2-motor", "windingTemperature", "telemetry", T0, 61.5)]
        )
        yield hub


def test_a_fork_starts_a_stopped_and_a_slower_motor_without_a_speed_transient(
    hub: Hub,
) -> None:
    scenarios = hub.scenarios
    scenario = scenarios.fork()
    scenarios.run(scenario.id, horizon=600.0, step=10.0)
    runs = scenarios.results(scenario.id)
    for run in (runs.baseline, runs.scenario):
        stopped = run["line-1-motor.speed"]
        assert np.all(stopped == 0.0), stopped[:8]
        slower = run["line-2-motor.speed"]
        # the shaft turns at the 1200 rpm field less a slip of at most the rated one
        assert np.all(slower <= 1200.0) and np.all(slower >= 1200.0 * (1.0 - SLIP)), slower[:8]
        # the first sample reads no load (the pump feeds it from the first step on); after
        # that only the load's small drift moves the shaft, no ramp of the drive
        assert np.ptp(slower[2:]) < 2.0, slower[:8]
        # a bound state still comes from the twin: the winding starts at its telemetry
        assert run["line-2-motor.temperature"][0] == pytest.approx(61.5)


def test_the_live_plant_starts_a_stopped_motors_drive_at_rest(hub: Hub) -> None:
    """The build alone keeps the declared start (reproducible runs); the call the live
    plant and a fork make settles only the unmeasured drive speed, per fleet member."""
    spec = simulation_spec()
    builder = SimulationBuilder(
        hub.twins, spec.catalog, GraphValues(hub.twins, hub.history), fleets=spec.fleets
    )
    sim = builder.build(spec.bindings, spec.couplings)
    motors, _ = sim.locate("line-1-motor")
    before = motors.state()
    assert before["line-1-motor.drive_speed"] == 1500.0  # the declared start
    started = sim.start_unmeasured_states()
    after = motors.state()
    assert after["line-1-motor.drive_speed"] == 0.0
    assert after["line-2-motor.drive_speed"] == 1200.0
    assert after["line-3-motor.drive_speed"] == 1480.0  # the world's set-point
    assert after["line-2-motor.winding_temperature"] == pytest.approx(61.5)
    assert {k: v for k, v in after.items() if "drive_speed" not in k} == {
        k: v for k, v in before.items() if "drive_speed" not in k
    }
    assert started == {
        "fleet:motor": (
            "line-1-motor.drive_speed",
            "line-2-motor.drive_speed",
            "line-3-motor.drive_speed",
        )
    }


def test_start_simulation_starts_the_live_plant_from_the_twins_inputs(hub: Hub) -> None:
    live = start_simulation(hub, simulation_spec(), None)
    motors, _ = live.simulation.locate("line-1-motor")
    state = motors.state()
    assert state["line-1-motor.drive_speed"] == 0.0  # stopped: no ramp down from 1500
    assert state["line-2-motor.drive_speed"] == 1200.0
