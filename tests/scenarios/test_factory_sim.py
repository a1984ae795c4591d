"""The factory's simulation: physics models bound to its twins, coupled through the graph,
the same whether each twin has its own model or each DTDL model is one vectorised fleet;
the twins' set-points drive it (a motor's speed, a conveyor's belt), and injected faults
show in what the twins report."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from support import add_factory_models
from twinsight.core.clock import ManualClock
from twinsight.core.errors import SimulationError
from twinsight.core.ports import HistoryPoint
from twinsight.hub import Hub
from twinsight.scenarios.factory import world
from twinsight.scenarios.factory.faults import FAULTS
from twinsight.scenarios.factory.sim import RATED_POWER, simulation_spec
from twinsight.sim.binding import GraphValues, SimulationBuilder, TwinSimulation
from twinsight.sim.faults import FaultInjector
from twinsight.sim.live import LiveSimulation, OutputWriter, TwinWriter

T0 = datetime(2026, 5, 4, 6, 0, tzinfo=UTC)


@pytest.fixture
def hub() -> Iterator[Hub]:
    with Hub(clock=ManualClock(T0)) as hub:
        add_factory_models(hub)
        world.build(hub.twins, lines=3)
        yield hub


def _build(hub: Hub, *, fleet: bool, conveyors: bool = False) -> TwinSimulation:
    spec = simulation_spec(fleet=fleet, conveyors=conveyors)
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
    clock = hub.clock
    assert isinstance(clock, ManualClock)
    sim = _build(hub, fleet=True)
    live = LiveSimulation(sim, hub.twins, clock, step=5.0)  # as the demo steps
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


def _live(
    hub: Hub, sim: TwinSimulation, step: float = 5.0, writers: Sequence[OutputWriter] = ()
) -> tuple[LiveSimulation, ManualClock]:
    """Live on the hub's manual clock, writing onto the twins (and to ``writers``)."""
    clock = hub.clock
    assert isinstance(clock, ManualClock)
    writers = [TwinWriter(hub.twins), *writers]
    return LiveSimulation(sim, hub.twins, clock, step=step, writers=writers), clock


def _run(live: LiveSimulation, clock: ManualClock, seconds: float) -> None:
    clock.advance(seconds)
    live.catch_up()
    assert live.error is None


def _set(hub: Hub, twin: str, path: str, value: object) -> None:
    hub.twins.patch_twin(twin, [{"op": "replace", "path": path, "value": value}])


def test_a_speed_setpoint_ramps_the_motor_and_the_pump_and_tank_follow(hub: Hub) -> None:
    sim = _build(hub, fleet=True)
    live, clock = _live(hub, sim)
    _run(live, clock, 2 * 3600.0)  # settle at the twins' 1480 rpm
    motor, pump = _outputs(sim, "line-1-motor"), _outputs(sim, "line-1-pump")
    level = _outputs(sim, "line-1-tank")["level"]
    model, prefix = sim.locate("line-1-motor")
    load = model.inputs()[prefix + "load"]
    slip = 1.0 - 1460.0 / 1500.0  # the motor's rated and synchronous speeds
    assert motor["speed"] == pytest.approx(1480.0 * (1.0 - slip * load), rel=1e-3)
    _set(hub, "line-1-motor", "/speedSetpoint", 900.0)
    _run(live, clock, 10.0)
    # A ramp, not a jump: 10 s at most 30 rpm/s.
    ramping = _outputs(sim, "line-1-motor")["speed"]
    assert motor["speed"] - 30.0 * 10.0 - 1.0 < ramping < motor["speed"] - 100.0
    _run(live, clock, 3600.0)
    slower, pump_slower = _outputs(sim, "line-1-motor"), _outputs(sim, "line-1-pump")
    assert slower["speed"] == pytest.approx(
        900.0 * (1.0 - slip * model.inputs()[prefix + "load"]), rel=1e-3
    )
    # Through the drivenBy coupling the pump turns slower: less flow, pressure and power.
    assert pump_slower["flow"] < 0.85 * pump["flow"]
    assert pump_slower["pressure"] < 0.75 * pump["pressure"]
    assert model.inputs()[prefix + "load"] < 0.7 * load
    assert _outputs(sim, "line-1-tank")["level"] < level - 0.3  # ... and the tank sinks
    other = _outputs(sim, "line-2-motor")["speed"]
    assert other == pytest.approx(motor["speed"], rel=1e-3)  # line 2 untouched
    # The new speed reaches the twin's telemetry.
    hub.recorder.flush()
    assert hub.history.latest(["line-1-motor/speed"])[0].value == pytest.approx(slower["speed"])


def test_a_setpoint_the_model_cannot_take_is_refused_alone_and_the_plant_runs_on(
    hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    sim = _build(hub, fleet=True)
    live, clock = _live(hub, sim)
    _run(live, clock, 600.0)
    _set(hub, "line-1-motor", "/speedSetpoint", 90_000.0)  # beyond any drive
    _set(hub, "line-2-motor", "/speedSetpoint", 900.0)  # a good change in the same step
    with caplog.at_level(logging.WARNING, logger="twinsight.sim.live"):
        _run(live, clock, 1800.0)
    model, prefix = sim.locate("line-1-motor")
    assert model.inputs()[prefix + "speed_setpoint"] == 1480.0  # the last accepted value
    assert _outputs(sim, "line-1-motor")["speed"] > 1400.0
    assert _outputs(sim, "line-2-motor")["speed"] < 950.0  # the fleet took line 2's value
    assert "line-1-motor" in live.refused_inputs[("line-1-motor", "speedSetpoint")]
    warnings = [r.getMessage() for r in caplog.records if "speedSetpoint" in r.getMessage()]
    assert len(warnings) == 1  # said once, not at every step
    assert "90000" in warnings[0] or "90,000" in warnings[0]
    _set(hub, "line-1-motor", "/speedSetpoint", 1200.0)
    _run(live, clock, 1800.0)
    assert live.refused_inputs == {}
    assert _outputs(sim, "line-1-motor")["speed"] < 1250.0


def test_conveyor_output_follows_the_belt_speed(hub: Hub) -> None:
    _set(hub, "line-1-conveyor", "/beltSpeed", 0.4)
    _set(hub, "line-3-conveyor", "/state", "stopped")
    sim = _build(hub, fleet=True, conveyors=True)
    live, clock = _live(hub, sim, step=60.0)
    _run(live, clock, 6 * 3600.0)
    slow, fast, stopped = (_outputs(sim, f"line-{n}-conveyor") for n in (1, 2, 3))
    assert (slow["speed"], fast["speed"], stopped["speed"]) == (0.4, 0.8, 0.0)
    # Parts 4 m apart: 0.8 m/s brings 720 an hour; breakdowns and scrap take a little.
    assert 0.8 * 720 * 6 < fast["produced"] <= 720 * 6
    assert slow["produced"] == pytest.approx(fast["produced"] / 2, rel=0.15)
    assert slow["throughput"] == pytest.approx(fast["throughput"] / 2, rel=0.25)
    assert (stopped["produced"], stopped["throughput"], stopped["status"]) == (0.0, 0.0, 4.0)
    # A stopped belt restarted by its operator starts producing.
    _set(hub, "line-3-conveyor", "/state", "running")
    _run(live, clock, 3600.0)
    assert _outputs(sim, "line-3-conveyor")["produced"] > 0.5 * 720
    hub.recorder.flush()
    produced = hub.history.range("line-2-conveyor/partsProduced", limit=1000)
    assert [p.value for p in produced] == sorted(p.value for p in produced)  # a counter


def _plant(hub: Hub) -> tuple[TwinSimulation, LiveSimulation, ManualClock, FaultInjector]:
    sim = _build(hub, fleet=True)
    injector = FaultInjector(sim, FAULTS, seed=1, mean_interval=1e9, first_after=1e9)
    live, clock = _live(hub, sim, writers=[injector])
    _run(live, clock, 2 * 3600.0)  # warm and settled, no fault yet
    assert injector.history == []
    return sim, live, clock, injector


def _latest(hub: Hub, series: str) -> float:
    hub.recorder.flush()
    return float(hub.history.latest([series])[0].value)


def test_an_injected_bearing_fault_shows_in_the_motors_telemetry(
    hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    _, live, clock, injector = _plant(hub)
    vibration = _latest(hub, "line-2-motor/vibration")  # cm/s, as the twin declares it
    temperature = _latest(hub, "line-2-motor/windingTemperature")
    healthy = _latest(hub, "line-1-motor/windingTemperature")
    with caplog.at_level(logging.WARNING, logger="twinsight.sim.faults"):
        fault = injector.inject(
            "line-2-motor", "bearing wear", live.time, value=0.6, duration=3600.0
        )
        _run(live, clock, 10 * 60.0)
        halfway = _latest(hub, "line-2-motor/vibration")
        _run(live, clock, 40 * 60.0)
    assert "fault injected: line-2-motor bearing wear (bearing_fault 0 → 0.60" in caplog.text
    # The fault develops over its onset, then shakes the motor 8 mm/s × 0.6 harder.
    assert vibration < halfway < _latest(hub, "line-2-motor/vibration")
    assert _latest(hub, "line-2-motor/vibration") == pytest.approx(vibration + 0.48, abs=0.03)
    assert _latest(hub, "line-2-motor/windingTemperature") > temperature + 8.0
    assert _latest(hub, "line-1-motor/windingTemperature") < healthy + 1.5  # others not
    with caplog.at_level(logging.WARNING, logger="twinsight.sim.faults"):
        _run(live, clock, 15 * 60.0)  # past its end: repaired
    assert "fault cleared: line-2-motor bearing wear" in caplog.text
    assert injector.active == {} and injector.history == [fault]
    assert _latest(hub, "line-2-motor/vibration") == pytest.approx(vibration, abs=0.01)


def test_cavitation_and_a_stuck_valve_show_in_flow_pressure_and_level(hub: Hub) -> None:
    _, live, clock, injector = _plant(hub)
    flow, pressure = _latest(hub, "line-1-pump/flow"), _latest(hub, "line-1-pump/dischargePressure")
    level = _latest(hub, "line-3-tank/level")
    injector.inject("line-1-pump", "cavitation", live.time, value=0.7, duration=1800.0)
    injector.inject("line-3-tank", "stuck valve", live.time, value=0.45, duration=3600.0)
    _run(live, clock, 20 * 60.0)
    # At cavitation 0.7 the head curve keeps 1 - 0.35 × 0.7 of itself.
    assert _latest(hub, "line-1-pump/flow") < 0.9 * flow
    assert _latest(hub, "line-1-pump/dischargePressure") < 0.85 * pressure
    assert _latest(hub, "line-3-tank/level") > level + 0.6  # climbing towards the rim
    _run(live, clock, 40 * 60.0)
    assert _latest(hub, "line-3-tank/level") > 3.5  # past the high alarm (alarmLimits)
    assert _latest(hub, "line-1-pump/flow") == pytest.approx(flow, rel=0.01)  # cleared


def test_faults_come_at_seeded_random_moments(hub: Hub) -> None:
    def history(seed: int) -> list[tuple[str, str, float]]:
        sim = _build(hub, fleet=True)
        injector = FaultInjector(sim, FAULTS, seed=seed, mean_interval=1800.0, first_after=600.0)
        for minute in range(24 * 60):
            injector.write(T0 + timedelta(minutes=minute))
        return [(f.twin, f.kind.name, (f.start - T0).total_seconds()) for f in injector.history]

    first = history(7)
    assert first == history(7)  # the same seed, the same faults
    assert first != history(8)
    assert 24 < len(first) < 72  # about one every 30 min over the day
    kinds = {kind for _, kind, _ in first}
    assert kinds == {"bearing wear", "cavitation", "stuck valve"}
    assert {twin.rsplit("-", 1)[1] for twin, _, _ in first} == {"motor", "pump", "tank"}


def test_a_fault_of_a_kind_a_twin_cannot_have_is_refused(hub: Hub) -> None:
    injector = FaultInjector(_build(hub, fleet=True), FAULTS)
    with pytest.raises(SimulationError, match="cannot have a cavitation fault"):
        injector.inject("line-1-motor", "cavitation", T0)
    with pytest.raises(SimulationError, match="no fault kind 'fire'"):
        injector.inject("line-1-motor", "fire", T0)


def test_a_pump_starts_from_the_flow_it_last_reported(hub: Hub) -> None:
    """A fork of the plant (a what-if) starts each pump where its flow was, so a comparison
    plot does not begin at zero flow; a pump that never reported starts still, noted."""
    hub.history.append([HistoryPoint("line-1-pump", "flow", "telemetry", T0, 97.0)])
    for fleet in (True, False):
        sim = _build(hub, fleet=fleet)
        assert _outputs(sim, "line-1-pump")["flow"] == pytest.approx(97.0)
        assert _outputs(sim, "line-2-pump")["flow"] == 0.0
        notes = [n for n in sim.notes if n.startswith("line-2-pump: no value for state")]
        assert len(notes) == 1 and "flow" in notes[0], sim.notes
