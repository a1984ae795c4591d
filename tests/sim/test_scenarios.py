"""What-if scenarios over the factory graph: forked now or in the past, run against a
baseline from the same fork, compared, plotted, kept or discarded — and never touching the
live twins or live history."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sim import whatif_models
from support import build_factory
from twinsight.core.clock import ManualClock
from twinsight.core.errors import BadRequest, Conflict, NotFound, SimulationError
from twinsight.core.ports import HistoryPoint
from twinsight.hub import Hub
from twinsight.sim.forks import Changes
from twinsight.sim.scenarios import ScenarioService

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
LINE1 = ["line-1-motor", "line-1-pump"]


@pytest.fixture
def hub() -> Iterator[Hub]:
    clock = ManualClock(T0)
    with Hub(clock=clock) as hub:
        build_factory(hub)
        hub.history.append(
            [
                HistoryPoint("line-1-motor", "windingTemperature", "telemetry", T0, 40.0),
                HistoryPoint(
                    "line-1-motor",
                    "windingTemperature",
                    "telemetry",
                    T0 + timedelta(hours=1),
                    60.0,
                ),
            ]
        )
        clock.advance(2 * 3600)
        hub.simulation = whatif_models.spec()
        yield hub


@pytest.fixture
def scenarios(hub: Hub) -> ScenarioService:
    return hub.scenarios


def _euler(start: float, target: float, dt: float, steps: int) -> float:
    """The motor model's temperature after ``steps`` explicit Euler steps (tau = 100 s)."""
    return target + (start - target) * (1.0 - dt / 100.0) ** steps


def test_a_fork_now_and_a_fork_in_the_past_start_from_different_states(
    scenarios: ScenarioService,
) -> None:
    now = scenarios.fork(LINE1, name="now")
    past = scenarios.fork(LINE1, at=T0 + timedelta(minutes=30), name="past")
    assert now.forked_at == T0 + timedelta(hours=2)
    assert past.forked_at == T0 + timedelta(minutes=30)
    assert now.twins == past.twins == ("line-1-motor", "line-1-pump")
    kelvin = {
        s.name: scenarios.fork_of(s.id).snapshots["line-1-motor"].state["temperature"]
        for s in (now, past)
    }
    assert kelvin["now"] == pytest.approx(60.0 + 273.15)  # latest recorded value
    assert kelvin["past"] == pytest.approx(40.0 + 273.15)  # the value recorded by then
    for scenario in (now, past):
        scenarios.run(scenario.id, horizon=60.0)
    start = {
        s.name: scenarios.results(s.id).baseline["line-1-motor.temperature"][0] for s in (now, past)
    }
    assert start["now"] - start["past"] == pytest.approx(20.0)


def test_changes_alter_the_scenario_against_its_baseline_and_the_comparison_shows_it(
    scenarios: ScenarioService,
) -> None:
    fork = scenarios.fork([*LINE1, "line-2-motor"], name="uprated")
    changes = Changes(parameters={"line-1-motor": {"ratedPower": 30.0}})
    done = scenarios.run(fork.id, horizon=600.0, step=2.0, changes=changes)
    assert done.status == "done"
    assert done.changes == changes
    assert (done.horizon, done.step) == (600.0, 2.0)
    runs = scenarios.results(fork.id)
    assert len(runs.times) == 301 and runs.times[-1] == 600.0
    # Baseline follows the rated 15 kW, the scenario the uprated 30 kW, from the same state.
    start = 60.0 + 273.15
    base_end = _euler(start, 293.15 + 2 * 15.0, 2.0, 300)
    scen_end = _euler(start, 293.15 + 2 * 30.0, 2.0, 300)
    by_series = {c.series: c for c in scenarios.compare(fork.id)}
    motor = by_series["line-1-motor.temperature"]
    assert motor.unit == "kelvin"
    assert motor.baseline_final == pytest.approx(base_end)
    assert motor.scenario_final == pytest.approx(scen_end)
    assert motor.max_abs_difference == pytest.approx(scen_end - base_end)
    assert motor.time_of_max_difference == 600.0
    assert motor.at == fork.forked_at + timedelta(seconds=600)
    assert motor.scenario_mean > motor.baseline_mean
    # What was not changed is identical in both runs.
    assert by_series["line-2-motor.temperature"].max_abs_difference == 0.0
    assert by_series["line-1-pump.flow"].max_abs_difference == 0.0


def test_an_input_schedule_changes_the_input_from_its_offset_on(
    scenarios: ScenarioService,
) -> None:
    fork = scenarios.fork(LINE1)
    schedule = {"line-1-motor": {"setpoint": ((0.0, 1000.0), (100.0, 0.0))}}
    scenarios.run(fork.id, horizon=200.0, changes=Changes(schedules=schedule))
    runs = scenarios.results(fork.id)
    flow = runs.scenario["line-1-pump.flow"]
    # Gauss-Seidel: the pump sees the motor's speed of the same step.
    assert flow[1] == pytest.approx(0.02 * 1000.0)
    assert flow[100] == pytest.approx(0.02 * 1000.0)
    assert flow[101] == 0.0 and flow[-1] == 0.0
    assert np.all(runs.baseline["line-1-pump.flow"][1:] == pytest.approx(0.02 * 1480.0))
    pumped = runs.scenario["line-1-pump.pumped"][-1]
    assert pumped == pytest.approx(100 * 0.02 * 1000.0 / 3600.0)


def _live_state(hub: Hub) -> tuple[list[dict[str, Any]], int, list[str]]:
    hub.recorder.flush()
    twins = [hub.twins.get_twin(t) for t in sorted(hub.twins.index.twin_ids())]
    series = [str(s.key) for s in hub.history.series()]
    return twins, hub.history.store.count(), series


def test_scenarios_never_change_live_twins_or_live_history(hub: Hub) -> None:
    before = _live_state(hub)
    now = hub.clock.now()
    fork = hub.scenarios.fork(name="everything")
    hub.scenarios.run(
        fork.id,
        horizon=300.0,
        changes={"parameters": {"line-2-motor": {"ratedPower": 90.0}}},
    )
    assert hub.scenarios.get(fork.id).status == "done"
    assert _live_state(hub) == before
    assert hub.clock.now() == now


def test_impossible_parameters_fail_that_scenario_before_it_runs_and_others_still_run(
    scenarios: ScenarioService,
) -> None:
    bad = scenarios.fork(LINE1, name="impossible")
    good = scenarios.fork(LINE1, name="fine")
    changes = {
        "parameters": {
            "line-1-motor": {"ratedPower": -5.0, "torque": 3.0},
            "nobody": {"x": 1.0},
        },
        "inputs": {"line-1-pump": {"speed": 10.0}},
    }
    with pytest.raises(SimulationError) as info:
        scenarios.run(bad.id, horizon=60.0, changes=changes)
    message = info.value.message
    assert "'impossible'" in message
    assert "ratedPower' = -5 is outside its bounds" in message
    assert "has no parameter 'torque'" in message
    assert "'nobody', which is not in this fork" in message
    assert "line-1-pump.speed is fed by line-1-motor.speed" in message
    assert len(info.value.details) == 4
    failed = scenarios.get(bad.id)
    assert failed.status == "failed"
    assert failed.error is not None and "outside its bounds" in failed.error
    with pytest.raises(Conflict, match="no results"):
        scenarios.results(bad.id)
    assert scenarios.run(good.id, horizon=60.0).status == "done"


def test_a_model_that_raises_mid_run_fails_its_scenario_only(
    scenarios: ScenarioService,
) -> None:
    seizing = scenarios.fork(LINE1, name="seizing")
    other = scenarios.fork(LINE1, name="other")
    changes = Changes(parameters={"line-1-pump": {"seizeAfter": 30.0}})
    with pytest.raises(SimulationError, match="bearing seized") as info:
        scenarios.run(seizing.id, horizon=120.0, changes=changes)
    assert "line-1-pump" in info.value.message
    failed = scenarios.get(seizing.id)
    assert failed.status == "failed"
    assert failed.error is not None and "t=30 s" in failed.error
    assert scenarios.run(other.id, horizon=120.0).status == "done"
    # The failed one can be run again with other changes.
    assert scenarios.run(seizing.id, horizon=20.0, changes=changes).status == "done"


@pytest.mark.parametrize(
    ("horizon", "step", "message"),
    [(0.0, 1.0, "horizon must be a positive"), (10.0, 20.0, "longer than the horizon"),
     (1e9, 0.001, "the limit is")],
)  # fmt: skip
def test_an_impossible_horizon_or_step_is_refused(
    scenarios: ScenarioService, horizon: float, step: float, message: str
) -> None:
    fork = scenarios.fork(LINE1)
    with pytest.raises(SimulationError, match=message):
        scenarios.run(fork.id, horizon=horizon, step=step)
    assert scenarios.get(fork.id).status == "failed"


def test_the_plot_is_a_png(scenarios: ScenarioService) -> None:
    fork = scenarios.fork(LINE1)
    scenarios.run(
        fork.id, horizon=300.0, changes=Changes(inputs={"line-1-motor": {"setpoint": 900.0}})
    )
    png = scenarios.plot(fork.id, ["line-1-motor.temperature", "line-1-pump.flow"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) > 10_000
    with pytest.raises(BadRequest, match=r"recorded no series line-1-motor\.torque"):
        scenarios.plot(fork.id, ["line-1-motor.torque"])


def test_keep_freezes_a_scenario_and_discard_removes_it(hub: Hub) -> None:
    scenarios = hub.scenarios
    fork = scenarios.fork(LINE1)
    with pytest.raises(Conflict, match="only a scenario that ran"):
        scenarios.keep(fork.id)
    scenarios.run(fork.id, horizon=30.0)
    assert scenarios.keep(fork.id).status == "kept"
    with pytest.raises(Conflict, match="was kept"):
        scenarios.run(fork.id, horizon=30.0)
    other = scenarios.fork(LINE1)
    assert [s.id for s in scenarios.list()] == [fork.id, other.id]
    scenarios.discard(fork.id)
    assert [s.id for s in scenarios.list()] == [other.id]
    with pytest.raises(NotFound, match="no scenario"):
        scenarios.get(fork.id)
    with pytest.raises(NotFound):
        scenarios.discard(fork.id)
    rows = hub.db.read(lambda c: c.execute("SELECT count(*) FROM scenario_results").fetchone())
    assert rows[0] == 0


def test_scenarios_and_their_results_survive_a_restart(tmp_path: Path) -> None:
    with Hub(tmp_path, clock=ManualClock(T0)) as hub:
        build_factory(hub)
        hub.simulation = whatif_models.spec()
        fork = hub.scenarios.fork(LINE1, name="durable")
        hub.scenarios.run(
            fork.id,
            horizon=60.0,
            changes=Changes(parameters={"line-1-motor": {"ratedPower": 40.0}}),
        )
        compared = hub.scenarios.compare(fork.id)
    with Hub(tmp_path, clock=ManualClock(T0)) as hub:
        hub.simulation = whatif_models.spec()
        again = hub.scenarios.get(fork.id)
        assert again.name == "durable" and again.status == "done"
        assert again.changes.parameters == {"line-1-motor": {"ratedPower": 40.0}}
        assert hub.scenarios.compare(fork.id) == compared


def test_forks_refuse_the_future_unknown_twins_and_a_hub_without_a_world(hub: Hub) -> None:
    with pytest.raises(BadRequest, match="is in the future"):
        hub.scenarios.fork(at=hub.clock.now() + timedelta(seconds=1))
    with pytest.raises(SimulationError, match="no such twin: ghost"):
        hub.scenarios.fork(["ghost"])
    hub.simulation = None
    with pytest.raises(Conflict, match="no world is simulated"):
        hub.scenarios.fork()


def test_twins_simulated_as_one_fleet_are_changed_one_by_one() -> None:
    from twinsight.scenarios.factory.sim import simulation_spec

    with Hub(clock=ManualClock(T0)) as hub:
        build_factory(hub)
        hub.simulation = simulation_spec()  # motors, pumps and tanks as three fleets
        fork = hub.scenarios.fork(name="line 2 stopped")
        assert set(hub.scenarios.fork_of(fork.id).members) == {
            "fleet:motor",
            "fleet:pump",
            "fleet:tank",
        }
        stop = {"inputs": {"line-2-motor": {"running": 0.0}}}
        hub.scenarios.run(fork.id, horizon=3600.0, changes=stop)
        by_series = {c.series: c for c in hub.scenarios.compare(fork.id)}
        assert by_series["line-2-pump.flow"].baseline_final > 10.0
        assert by_series["line-2-pump.flow"].scenario_final == pytest.approx(0.0, abs=1e-6)
        assert by_series["line-1-pump.flow"].max_abs_difference == 0.0
        fed = {"inputs": {"line-1-pump": {"speed": 100.0}}}
        with pytest.raises(SimulationError, match=r"line-1-pump\.speed is fed by fleet:motor"):
            hub.scenarios.run(fork.id, horizon=60.0, changes=fed)


def test_a_discrete_event_conveyor_forks_and_runs_its_what_if() -> None:
    """The SimPy conveyor line as a scenario member: half the belt speed, about half the
    parts an hour, from the same forked state (same seed, so the baseline replays)."""
    from twinsight.scenarios.factory.sim import simulation_spec

    with Hub(clock=ManualClock(T0)) as hub:
        build_factory(hub)
        hub.simulation = simulation_spec(conveyors=True)
        fork = hub.scenarios.fork(["line-1-conveyor"], name="slow belt")
        slow = {"inputs": {"line-1-conveyor": {"belt_speed_setpoint": 0.4}}}
        assert hub.scenarios.run(fork.id, horizon=3600.0, changes=slow).status == "done"
        by_series = {c.series: c for c in hub.scenarios.compare(fork.id)}
        speed, rate = by_series["line-1-conveyor.speed"], by_series["line-1-conveyor.throughput"]
        assert (speed.baseline_final, speed.scenario_final) == pytest.approx((0.8, 0.4))
        assert 0.4 < rate.scenario_final / rate.baseline_final < 0.6
        again = hub.scenarios.fork(["line-1-conveyor"], name="replay")
        hub.scenarios.run(again.id, horizon=3600.0)
        replay = {c.series: c for c in hub.scenarios.compare(again.id)}
        assert replay["line-1-conveyor.throughput"].baseline_final == rate.baseline_final


def test_a_physics_model_that_diverges_fails_its_scenario_naming_the_twin() -> None:
    """A winding of 1 J/K is within the motor's bounds, but its time constant (25 ms) is
    far below the factory's 60 s RK4 step: the fleet diverges. The error names the scenario
    and the one twin of the fleet; another scenario and the live twins are untouched."""
    from twinsight.scenarios.factory.sim import simulation_spec

    with Hub(clock=ManualClock(T0)) as hub:
        build_factory(hub)
        hub.simulation = simulation_spec()
        before = _live_state(hub)
        tiny = hub.scenarios.fork(name="tiny winding")
        other = hub.scenarios.fork(name="as built")
        changes = {"parameters": {"line-2-motor": {"winding_capacity": 1.0}}}
        with pytest.raises(SimulationError) as info:
            hub.scenarios.run(tiny.id, horizon=3600.0, changes=changes)
        assert info.value.code == "SimulationDiverged"
        message = info.value.message
        assert "scenario 'tiny winding' failed" in message
        assert "members (line-2-motor) is not finite" in message
        failed = hub.scenarios.get(tiny.id)
        assert failed.status == "failed" and failed.error is not None
        assert "line-2-motor" in failed.error
        assert hub.scenarios.run(other.id, horizon=3600.0).status == "done"
        assert _live_state(hub) == before


def test_a_scenario_discarded_while_it_runs_leaves_nothing_behind(hub: Hub) -> None:
    scenarios = hub.scenarios
    fork = scenarios.fork(LINE1)
    discarded: list[int] = []

    def discard_midway(done: int, total: int) -> None:
        if not discarded and done >= total // 2:
            scenarios.discard(fork.id)
            discarded.append(done)

    scenarios.run(fork.id, horizon=100.0, progress=discard_midway)
    assert discarded
    with pytest.raises(NotFound):
        scenarios.get(fork.id)
    rows = hub.db.read(lambda c: c.execute("SELECT count(*) FROM scenario_results").fetchone())
    assert rows[0] == 0
