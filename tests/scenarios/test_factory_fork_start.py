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
from twinsight.core.errors import SimulationError
from twinsight.core.ports import HistoryPoint
from twinsight.hub import Hub
from twinsight.live_sim import start_simulation
from twinsight.scenarios.factory import world
from twinsight.scenarios.factory.sim import simulation_spec
from twinsight.sim.binding import GraphValues, SimulationBuilder
from twinsight.sim.cosim import CoSimulation

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


def test_the_motor_pump_loop_starts_settled(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    """A motor's load is its pump's shaft power and the pump's speed the motor's: settled
    at the start (CoSimulation.settle_inputs), the loop begins where the live plant runs
    instead of at a pump turned at the motor's no-load speed, whose first step swung the
    load (past the model's 1.2 for a motor driven hard, which failed the what-if)."""
    hub.twins.patch_twin(
        "line-3-motor", [{"op": "replace", "path": "/speedSetpoint", "value": 1690.0}]
    )
    spec = simulation_spec()
    builder = SimulationBuilder(
        hub.twins, spec.catalog, GraphValues(hub.twins, hub.history), fleets=spec.fleets
    )
    sim = builder.build(spec.bindings, spec.couplings)
    sim.start_unmeasured_states()
    motors, _ = sim.locate("line-3-motor")
    pumps, _ = sim.locate("line-3-pump")
    motor_in, motor_out = motors.inputs(), motors.outputs()
    pump_in, pump_out = pumps.inputs(), pumps.outputs()
    for line in ("line-2", "line-3"):
        rated = 15.0  # kW, the factory motors' rating (the coupling's gain is 1/15)
        assert motor_in[f"{line}-motor.load"] == pytest.approx(
            pump_out[f"{line}-pump.shaft_power"] / rated, rel=1e-3
        )
        assert pump_in[f"{line}-pump.speed"] == pytest.approx(
            motor_out[f"{line}-motor.speed"], rel=1e-3
        )

    def run_hard_driven() -> int:
        scenario = hub.scenarios.fork()
        hub.scenarios.run(scenario.id, horizon=300.0, step=60.0)
        return len(hub.scenarios.results(scenario.id).baseline["line-3-motor.speed"])

    assert run_hard_driven() == 6  # the start and five steps of a minute
    monkeypatch.setattr(CoSimulation, "settle_inputs", lambda self, rounds=5: None)
    with pytest.raises(SimulationError, match=r"line-3-motor\.load = 1\.2\d* is outside"):
        run_hard_driven()  # the guessed first step overloads the motor past the model
