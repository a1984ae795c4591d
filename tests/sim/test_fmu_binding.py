"""An FMU bound to twins like any other model: by DTDL model, fed through the graph's
relationships, run live onto the twins, and forked into what-if scenarios.

The tanks of the factory are the first-order lag FMU of ``fmus/lag.c`` (FMI 2.0
co-simulation, exact over each step): level' = (k·u − level)/τ, u fed by the pump's flow
through the ``feeds`` relationship (0.1 m per m³/h), so every value is known in closed form.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from sim import whatif_models
from sim.fmus.build import lag_fmu
from support import build_factory
from twinsight.core.clock import ManualClock
from twinsight.hub import Hub
from twinsight.sim.binding import Coupling, GraphValues, ModelBinding, SimulationBuilder
from twinsight.sim.fmu import FmuModel
from twinsight.sim.live import LiveSimulation, TwinWriter
from twinsight.sim.model import SimulationModel
from twinsight.sim.spec import SimulationSpec

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
TANK = "dtmi:twinsight:factory:Tank;1"
TAU = 600.0
FLOW = 0.02 * 1480.0  # m³/h: the toy pump at the world's speed set-point
GAIN = 0.1  # m of target level per m³/h


def lag_tank(name: str) -> SimulationModel:
    """The lag FMU as a tank (module level, as a catalogue factory must be)."""
    return FmuModel(lag_fmu(2), name=name, kind="co-simulation", parameters={"tau": TAU, "k": 1.0})


SPEC = SimulationSpec(
    catalog={**whatif_models.CATALOG, "tank": lag_tank},
    bindings=(
        *whatif_models.BINDINGS,
        ModelBinding("tank", dtdl_model=TANK, outputs={"y": "telemetry:level"}),
    ),
    couplings=(
        *whatif_models.COUPLINGS,
        Coupling("feeds", "pump", "tank", output="flow", input="u", gain=GAIN),
    ),
    step=10.0,
    record=("flow", "y"),
)


def _level(t: float, k: float = 1.0) -> float:
    return k * GAIN * FLOW * (1.0 - math.exp(-t / TAU))


@pytest.fixture
def hub() -> Iterator[Hub]:
    with Hub(clock=ManualClock(T0)) as hub:
        build_factory(hub)
        yield hub


def test_an_fmu_bound_by_dtdl_model_runs_live_onto_every_tank(hub: Hub) -> None:
    builder = SimulationBuilder(hub.twins, SPEC.catalog, GraphValues(hub.twins, hub.history))
    simulation = builder.build(SPEC.bindings, SPEC.couplings)
    tanks = sorted(t for t in simulation.models if t.endswith("-tank"))
    assert tanks == ["line-1-tank", "line-2-tank"]
    assert all(isinstance(simulation.members[t], FmuModel) for t in tanks)
    clock = hub.clock
    assert isinstance(clock, ManualClock)
    live = LiveSimulation(simulation, hub.twins, clock, step=10.0, writers=[TwinWriter(hub.twins)])
    clock.advance(TAU)
    assert live.catch_up() == 60
    hub.recorder.flush()
    for tank in tanks:
        levels = hub.history.range(f"{tank}/level", limit=100)
        assert len(levels) == 60
        assert levels[-1].time == T0 + timedelta(seconds=TAU)
        assert levels[-1].value == pytest.approx(_level(TAU), rel=1e-9)
    # An operator stops line 2's motor: its tank's FMU is fed nothing and drains.
    hub.twins.patch_twin("line-2-motor", [{"op": "replace", "path": "/speedSetpoint", "value": 0}])
    clock.advance(TAU)
    live.catch_up()
    hub.recorder.flush()
    drained = hub.history.range("line-2-tank/level", limit=200)[-1].value
    full = hub.history.range("line-1-tank/level", limit=200)[-1].value
    assert drained == pytest.approx(_level(TAU) * math.exp(-1.0), rel=1e-9)
    assert full == pytest.approx(_level(2 * TAU), rel=1e-9)
    simulation.close()


def test_a_scenario_forks_an_fmu_and_leaves_the_live_tank_alone(hub: Hub) -> None:
    hub.simulation = SPEC
    hub.twins.publish_telemetry("line-1-tank", {"level": 1.25}, message_id="m1", source_time=T0)
    fork = hub.scenarios.fork(["line-1-motor", "line-1-pump", "line-1-tank"], name="double")
    ran = hub.scenarios.run(
        fork.id, horizon=TAU, changes={"parameters": {"line-1-tank": {"k": 2.0}}}
    )
    assert ran.status == "done"
    level = {c.series: c for c in hub.scenarios.compare(fork.id)}["line-1-tank.y"]
    assert level.baseline_final == pytest.approx(_level(TAU), rel=1e-9)
    assert level.scenario_final == pytest.approx(_level(TAU, k=2.0), rel=1e-9)
    hub.recorder.flush()
    live = hub.history.range("line-1-tank/level", limit=10)
    assert [p.value for p in live] == [1.25]  # the scenario wrote nothing to the live twin
