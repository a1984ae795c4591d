"""The factory's simulation: physics models bound to its twins, coupled through the graph,
the same whether each twin has its own model or each DTDL model is one vectorised fleet."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pytest

from support import add_factory_models
from twinsight.core.clock import ManualClock
from twinsight.hub import Hub
from twinsight.scenarios.factory import world
from twinsight.scenarios.factory.sim import RATED_POWER, simulation_spec
from twinsight.sim.binding import GraphValues, SimulationBuilder, TwinSimulation

T0 = datetime(2026, 5, 4, 6, 0, tzinfo=UTC)


@pytest.fixture
def hub() -> Iterator[Hub]:
    with Hub(clock=ManualClock(T0)) as hub:
        add_factory_models(hub)
        world.build(hub.twins, lines=3)
        yield hub


def _build(hub: Hub, *, fleet: bool) -> TwinSimulation:
    spec = simulation_spec(fleet=fleet)
    builder = SimulationBuilder(
        hub.twins, spec.catalog, GraphValues(hub.twins, hub.history), fleets=spec.fleets
    )
    return builder.build(spec.bindings, spec.couplings)


def _outputs(sim: TwinSimulation, twin: str) -> dict[str, float]:
    model, prefix = sim.locate(twin)
    return {k[len(prefix) :]: v for k, v in model.outputs().items() if k.startswith(prefix)}


def test_fleets_and_one_model_per_twin_give_the_same_plant(hub: Hub) -> None:
    fleets, singles = _build(hub, fleet=True), _build(hub, fleet=False)
    assert set(fleets.members) == {"fleet:motor", "fleet:pump", "fleet:tank"}
    assert len(singles.members) == 9
    for sim in (fleets, singles):
        sim.cosim.run(6 * 3600.0, 60.0, record=[])
    for twin in ("line-1-motor", "line-2-pump", "line-3-tank"):
        a, b = _outputs(fleets, twin), _outputs(singles, twin)
        assert a == pytest.approx(b, rel=1e-9)


def test_the_coupled_physics_settles_where_the_equations_say(hub: Hub) -> None:
    sim = _build(hub, fleet=True)
    sim.cosim.run(12 * 3600.0, 60.0, record=[])
    motor, pump, tank = (
        _outputs(sim, "line-1-motor"),
        _outputs(sim, "line-1-pump"),
        _outputs(sim, "line-1-tank"),
    )
    # The pump turns at its motor's speed; the motor carries the pump's shaft power.
    assert motor["speed"] > 1400.0
    model, prefix = sim.locate("line-1-motor")
    load = model.inputs()[prefix + "load"]
    assert load == pytest.approx(pump["shaft_power"] / RATED_POWER, rel=1e-3)
    # The tank settles where the valve lets out what the pump brings in.
    assert tank["outflow"] == pytest.approx(pump["flow"], rel=1e-3)
    assert tank["level"] == pytest.approx((pump["flow"] / 60.0) ** 2, rel=1e-3)
    # A loaded motor runs warm but within its insulation class.
    assert 40.0 < motor["temperature"] < 130.0


def test_a_stopped_motor_stops_its_pump_and_its_tank_drains(hub: Hub) -> None:
    hub.twins.patch_twin("line-2-motor", [{"op": "replace", "path": "/state", "value": "stopped"}])
    sim = _build(hub, fleet=True)
    results = sim.cosim.run(4 * 3600.0, 60.0, record=["fleet:tank.line-2-tank.level"])
    assert _outputs(sim, "line-2-pump")["flow"] == pytest.approx(0.0, abs=1e-6)
    level = results["fleet:tank.line-2-tank.level"]
    assert np.all(np.diff(level) <= 1e-12)  # draining, never filling
    assert level[-1] < level[0]
    assert _outputs(sim, "line-1-pump")["flow"] > 50.0  # the other lines carry on


def test_live_an_operator_who_stops_a_motor_stops_its_pump(hub: Hub) -> None:
    from twinsight.sim.live import LiveSimulation

    clock = hub.clock
    assert isinstance(clock, ManualClock)
    sim = _build(hub, fleet=True)
    live = LiveSimulation(sim, hub.twins, clock, step=60.0)
    clock.advance(600.0)
    live.catch_up()
    assert _outputs(sim, "line-1-pump")["flow"] > 50.0
    # The twin's operating state is a word; the model's input is 0/1.
    hub.twins.patch_twin("line-1-motor", [{"op": "replace", "path": "/state", "value": "stopped"}])
    clock.advance(600.0)
    live.catch_up()
    assert live.error is None
    assert _outputs(sim, "line-1-motor")["speed"] == 0.0
    assert _outputs(sim, "line-1-pump")["flow"] < 1.0
    assert _outputs(sim, "line-2-pump")["flow"] > 50.0
