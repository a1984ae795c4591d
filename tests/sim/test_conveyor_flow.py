"""The conveyor's flow model against its discrete-event line: the same parts on average.

The flow model (``twinsight.sim.des.flow``) stands in for the SimPy line (``ConveyorLine``)
in bulk runs, so what it must get right is what a plant-level answer adds up: parts
produced and throughput over days. These tests hold it to the discrete-event line over
several simulated days, several seeds and belt speeds (within 5 %), check the belt
stopped, the shift calendar and the fleet, and run the whole factory with flow conveyors
as Monte-Carlo replicas.
"""

from __future__ import annotations

import statistics
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from support import add_factory_models
from twinsight.core.clock import ManualClock
from twinsight.core.errors import SimulationError
from twinsight.hub import Hub
from twinsight.scenarios.factory import world
from twinsight.scenarios.factory.sim import simulation_spec
from twinsight.sim.binding import GraphValues, SimulationBuilder, TwinSimulation
from twinsight.sim.cosim import CoSimulation
from twinsight.sim.des.conveyor import ConveyorLine
from twinsight.sim.des.flow import conveyor_flow_system
from twinsight.sim.des.shifts import ShiftCalendar
from twinsight.sim.model import SimulationModel
from twinsight.sim.replicas import monte_carlo

HOUR, DAY = 3600.0, 86_400.0
TOLERANCE = 0.05
"""The flow model's mean parts produced and throughput against the line's, relative."""

FACTORY = {"shift_hours": 24.0, "lot_size": 5.0, "m1.rate": 16.0, "m2.rate": 14.0}
"""The demo factory's conveyors: never stop, lots of 5, the packer the slower station."""
TWO_SHIFTS = {"lot_size": 25.0}
"""The line's defaults: two 8-hour shifts from 06:00, lots of 25."""
CONSTRAINED = {"m2.rate": 10.0, "m1.mtbf": 3600.0, "b2.capacity": 20.0, "lot_size": 25.0}
"""A line whose packer is the bottleneck, fed by an unreliable filler through a buffer
smaller than a lot: buffers stand full and breakdowns upstream starve the packer."""


def _run(model: SimulationModel, params: dict[str, float], speed: float, days: float) -> Any:
    model.set_parameters(params)
    model.set_inputs({"belt_speed_setpoint": speed})
    throughput = []
    for _ in range(round(days * DAY / HOUR)):
        model.advance(HOUR)
        throughput.append(model.outputs()["throughput"])
    out = model.outputs()
    return out["produced"], statistics.fmean(throughput[24:]), out["wip"]


@pytest.mark.parametrize(
    ("params", "speed"),
    [
        (FACTORY, 0.4),
        (FACTORY, 0.8),
        (FACTORY, 1.2),
        (TWO_SHIFTS, 0.8),
        (CONSTRAINED, 0.5),
        (CONSTRAINED, 1.0),
    ],
    ids=["factory-0.4", "factory-0.8", "factory-1.2", "shifts-0.8", "bottleneck-0.5",
         "bottleneck-1.0"],
)  # fmt: skip
def test_the_flow_model_makes_what_the_discrete_event_line_makes(
    params: dict[str, float], speed: float
) -> None:
    days, seeds = 4.0, (1, 2, 3)
    lines = [
        _run(ConveyorLine("c", 2, parameters={"seed": float(s)}), params, speed, days)
        for s in seeds
    ]
    flow = _run(conveyor_flow_system("c").model(), params, speed, days)
    produced = statistics.fmean(line[0] for line in lines)
    throughput = statistics.fmean(line[1] for line in lines)
    assert produced > 1000  # a real comparison, not of two zeros
    assert flow[0] == pytest.approx(produced, rel=TOLERANCE)
    assert flow[1] == pytest.approx(throughput, rel=TOLERANCE)


def test_parts_on_the_line_follow_littles_law_roughly() -> None:
    """Mean parts on the line within 40 % of the line's (over seeds and days: a few long
    repairs make most of it): lots in process and the queues breakdowns build (a few
    dozen parts), or full buffers before a bottleneck (over a hundred)."""
    for params, speed in ((FACTORY, 0.8), (CONSTRAINED, 1.0)):
        models = [ConveyorLine("c", 2, parameters={"seed": float(s)}) for s in (1, 2, 3, 4)]
        mean_wip = []
        for model in [*models, conveyor_flow_system("c").model()]:
            model.set_parameters(params)
            model.set_inputs({"belt_speed_setpoint": speed})
            samples = []
            for _ in range(96):
                model.advance(HOUR)
                samples.append(model.outputs()["wip"])
            mean_wip.append(statistics.fmean(samples[6:]))
        line = statistics.fmean(mean_wip[:-1])
        assert mean_wip[-1] == pytest.approx(line, rel=0.4), (params, line, mean_wip[-1])


def test_a_stopped_belt_makes_nothing_and_a_restarted_one_picks_up() -> None:
    model = conveyor_flow_system("c").model()
    model.set_parameters(FACTORY)
    model.set_inputs({"belt_speed_setpoint": 0.0})
    for _ in range(48):
        model.advance(HOUR)
    out = model.outputs()
    assert (out["produced"], out["throughput"], out["wip"], out["status"]) == (0.0, 0.0, 0.0, 4.0)
    model.set_inputs({"belt_speed_setpoint": 0.8})
    model.advance(HOUR)
    making = model.outputs()
    assert making["status"] == 1.0 and 600 < making["produced"] < 720  # 720 an hour at most
    model.set_inputs({"running": 0.0})  # switched off: the belt ramps down and holds
    model.advance(60.0)
    held = model.outputs()
    for _ in range(10):
        model.advance(HOUR)
    assert model.outputs()["produced"] == pytest.approx(held["produced"], abs=1.0)
    assert model.outputs()["status"] == 4.0 and model.outputs()["speed"] == 0.0


def test_nothing_is_made_off_shift_and_the_calendar_is_the_lines() -> None:
    params = {"start_hour": 6.0, "shift_start_hour": 6.0, "shift_hours": 16.0}
    model = conveyor_flow_system("c").model()
    model.set_parameters(params)
    model.set_inputs({"belt_speed_setpoint": 0.8})
    calendar = ShiftCalendar(6.0, 6.0, 16.0)
    produced = []
    for hour in range(48):
        model.advance(HOUR)
        out = model.outputs()
        assert out["on_shift"] == float(calendar.at(model.time)[0]), hour
        produced.append(out["produced"])
    night = [produced[h] - produced[h - 1] for h in range(16, 24)]  # 22:00 to 06:00
    assert night == [0.0] * len(night)
    assert produced[10] - produced[9] > 600  # 16:00 to 17:00 at 0.8 m/s


def test_a_fleet_is_its_members_side_by_side() -> None:
    system = conveyor_flow_system("conveyor")
    fleet = system.fleet(["a", "b", "c"], solver="rk4")
    fleet.set_inputs_array("belt_speed_setpoint", [0.3, 0.8, 1.1])
    fleet.set_parameters_array("m2.mtbf", [3600.0, 28_800.0, 7200.0])
    fleet.set_parameters_array("shift_hours", [24.0, 16.0, 8.0])
    singles = []
    for name, speed, mtbf, hours in zip("abc", (0.3, 0.8, 1.1), (3600.0, 28_800.0, 7200.0),
                                        (24.0, 16.0, 8.0), strict=True):  # fmt: skip
        single = system.model(name)
        single.set_inputs({"belt_speed_setpoint": speed})
        single.set_parameters({"m2.mtbf": mtbf, "shift_hours": hours})
        singles.append(single)
    for _ in range(30):
        fleet.advance(1800.0)
        for single in singles:
            single.advance(1800.0)
    arrays = fleet.output_arrays()
    for i, single in enumerate(singles):
        for name, value in single.outputs().items():
            assert arrays[name][i] == pytest.approx(value, rel=1e-12, abs=1e-9), name
    assert len(set(arrays["produced"].tolist())) == 3


def test_the_same_binding_serves_both_models() -> None:
    """Parameters, inputs and outputs are the line's, names, units and bounds."""
    line = ConveyorLine("c", 2).description
    flow = conveyor_flow_system("c", 2).description
    assert flow.parameters == line.parameters
    assert flow.inputs == line.inputs
    assert flow.outputs == line.outputs


# -- the factory with flow conveyors ----------------------------------------------------
def _factory(conveyors: Any = "flow", lines: int = 3) -> TwinSimulation:
    with Hub(clock=ManualClock(datetime(2026, 1, 1, tzinfo=UTC))) as hub:
        add_factory_models(hub)
        world.build(hub.twins, lines=lines)
        spec = simulation_spec(conveyors=conveyors)
        builder = SimulationBuilder(
            hub.twins, spec.catalog, GraphValues(hub.twins, hub.history), fleets=spec.fleets
        )
        return builder.build(spec.bindings, spec.couplings)


def test_the_factory_runs_its_conveyors_as_one_flow_fleet() -> None:
    sim = _factory()
    assert set(sim.members) == {
        "fleet:conveyor-flow",
        "fleet:motor",
        "fleet:pump",
        "fleet:tank",
    }
    sim.cosim.run(6 * HOUR, 60.0, record=[])
    model, prefix = sim.locate("line-2-conveyor")
    out = {k[len(prefix) :]: v for k, v in model.outputs().items() if k.startswith(prefix)}
    # the twin's belt at 0.8 m/s brings 720 parts an hour; breakdowns and scrap take some
    assert 0.9 * 720 * 6 < out["produced"] < 720 * 6
    assert out["throughput"] == pytest.approx(697, rel=0.02)


def test_an_unknown_conveyor_choice_is_refused() -> None:
    with pytest.raises(SimulationError, match="conveyors must be"):
        simulation_spec(conveyors="fluid")  # type: ignore[arg-type]


def _flow_factory() -> CoSimulation:
    return _factory().cosim


def _packer_rates(rng: np.random.Generator, runs: int) -> dict[tuple[str, str], Any]:
    return {("fleet:conveyor-flow", "m2.rate"): rng.uniform(6.0, 14.0, (runs, 3))}


def test_monte_carlo_replicas_carry_the_flow_conveyors() -> None:
    """Each run draws its own packer rates: a slow packer (under the belt's 12 parts a
    minute) is the bottleneck and the day's output follows its rate."""
    results = monte_carlo(
        _flow_factory,
        _packer_rates,
        runs=8,
        duration=DAY,
        step=60.0,
        observe=[("fleet:conveyor-flow", "produced"), ("fleet:tank", "level")],
        chunks=1,
    )
    assert results.failures == ()
    produced = results.final[("fleet:conveyor-flow", "produced")]
    rates = results.samples[("fleet:conveyor-flow", "m2.rate")]
    assert produced.shape == rates.shape == (8, 3)
    availability = 28_800.0 / (28_800.0 + 900.0)
    packer = rates * 60.0 * 24.0 * availability * 0.995  # its day, in good parts
    belt = 720 * 24 * 0.995**2
    assert produced == pytest.approx(np.minimum(packer, belt), rel=0.04)
    assert np.corrcoef(rates.ravel(), produced.ravel())[0, 1] > 0.9


def test_flow_conveyors_fork_into_a_what_if() -> None:
    """A scenario of the plant with flow conveyors: half the belt speed of one line makes
    about half its parts an hour; its neighbour and the live twins are untouched."""
    with Hub(clock=ManualClock(datetime(2026, 5, 4, 6, 0, tzinfo=UTC))) as hub:
        add_factory_models(hub)
        world.build(hub.twins, lines=2)
        hub.simulation = simulation_spec(conveyors="flow")
        before = hub.twins.get_twin("line-1-conveyor")
        fork = hub.scenarios.fork(name="slow belt")
        slow = {"inputs": {"line-1-conveyor": {"belt_speed_setpoint": 0.4}}}
        assert hub.scenarios.run(fork.id, horizon=4 * HOUR, changes=slow).status == "done"
        by_series = {c.series: c for c in hub.scenarios.compare(fork.id)}
        rate = by_series["line-1-conveyor.throughput"]
        assert rate.scenario_final / rate.baseline_final == pytest.approx(0.5, rel=0.02)
        assert by_series["line-2-conveyor.throughput"].max_abs_difference == 0.0
        assert hub.twins.get_twin("line-1-conveyor") == before


class _Collected:
    """A publisher that keeps what it is given (the MQTT path is tested elsewhere)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []

    def publish(self, topic: str, payload: bytes, *, qos: int = 0) -> None:
        self.messages.append((topic, payload))


def test_flow_conveyors_publish_as_the_discrete_event_ones_do() -> None:
    """Same topic, same fields: a plant run with flow conveyors feeds the same mapping."""
    import json

    from twinsight.scenarios.factory.sim import DEVICES
    from twinsight.sim.devices import VirtualDevices

    sim = _factory(lines=2)
    sim.cosim.run(HOUR, 60.0, record=[])
    collected = _Collected()
    devices = VirtualDevices(sim, DEVICES, collected)
    assert "line-1-conveyor → factory/line-1/conveyor/telemetry" in devices.devices
    devices.write(datetime(2026, 1, 1, 1, tzinfo=UTC))
    conveyor = [json.loads(p) for t, p in collected.messages if t.endswith("conveyor/telemetry")]
    assert len(conveyor) == 2
    assert {"speed", "parts", "produced", "throughput", "status"} <= set(conveyor[0])
    assert 600 < conveyor[0]["produced"] < 720 and conveyor[0]["status"] == 1
