"""Discrete-event models: the queue against queueing theory, the production line against
what a line must do (bottleneck, blocking, breakdowns, shifts, conservation), and the
snapshot design (a restored snapshot and a rebuilt environment replay exactly)."""

from __future__ import annotations

import pytest

from twinsight.core.errors import SimulationError
from twinsight.sim.des import ProductionLine, QueueModel

HOUR = 3600.0


def _steady(machines: int, **parameters: float) -> dict[str, float]:
    """Parameters of a line without chance: no breakdowns, scrap or variation, no night."""
    values = {"shift_hours": 24.0, "line_speed": 60.0, "lot_size": 5.0}
    for i in range(1, machines + 1):
        values |= {f"m{i}.mtbf": float("inf"), f"m{i}.scrap_rate": 0.0, f"m{i}.cv": 0.0}
    return values | parameters


def _conserved(line: ProductionLine) -> None:
    out = line.outputs()
    assert out["entered"] == out["produced"] + out["scrap"] + out["wip"], out


# -- the queue against theory --------------------------------------------------------------
def test_mm1_utilisation_and_mean_number_match_theory_and_littles_law_holds() -> None:
    arrival, service = 0.7, 1.0
    queue = QueueModel("mm1", servers=1, capacity=200)
    queue.set_parameters({"arrival_rate": arrival, "service_rate": service, "seed": 7})
    queue.advance(40_000.0)  # about 28,000 customers
    out = queue.outputs()
    rho = arrival / service
    assert out["utilisation"] == pytest.approx(rho, abs=0.03)
    assert out["mean_in_system"] == pytest.approx(rho / (1 - rho), rel=0.12)
    assert out["mean_sojourn"] == pytest.approx(1 / (service - arrival), rel=0.12)
    # Little's law on the measured averages: L = λW, up to the few customers still inside.
    assert out["mean_in_system"] == pytest.approx(
        out["arrival_rate_seen"] * out["mean_sojourn"], rel=0.01
    )
    assert out["lost"] == 0


def test_an_mmc_queue_spreads_the_load_over_its_servers() -> None:
    queue = QueueModel("mm3", servers=3, capacity=200)
    queue.set_parameters({"arrival_rate": 2.4, "service_rate": 1.0, "seed": 3})
    queue.advance(10_000.0)
    assert queue.outputs()["utilisation"] == pytest.approx(2.4 / 3.0, abs=0.03)


def test_a_full_queue_loses_arrivals() -> None:
    queue = QueueModel("small", servers=1, capacity=3)
    queue.set_parameters({"arrival_rate": 2.0, "service_rate": 1.0})
    queue.advance(2_000.0)
    out = queue.outputs()
    assert out["lost"] > 0
    assert out["arrived"] == out["departed"] + out["in_system"] + out["lost"]


def test_closing_the_queue_stops_arrivals_and_serves_those_inside() -> None:
    queue = QueueModel("shop", servers=1, capacity=50)
    queue.set_parameters({"arrival_rate": 0.9, "service_rate": 1.0})
    queue.advance(600.0)
    queue.set_inputs({"open": 0.0})
    arrived = queue.outputs()["arrived"]
    queue.advance(600.0)
    out = queue.outputs()
    assert out["arrived"] == arrived
    assert out["in_system"] == 0
    assert out["departed"] == arrived - out["lost"]
    queue.set_inputs({"open": 1.0})
    queue.advance(600.0)
    assert queue.outputs()["arrived"] > arrived


# -- the line ------------------------------------------------------------------------------
@pytest.mark.parametrize("slowest", [12.0, 18.0])
def test_throughput_is_that_of_the_bottleneck(slowest: float) -> None:
    rates = {"m1.rate": 30.0, "m2.rate": 25.0, "m3.rate": slowest, "m4.rate": 30.0}
    line = ProductionLine("l", machines=4, parameters=_steady(4, **rates))
    line.advance(HOUR)  # fill the line
    line.advance(2 * HOUR)
    expected = min(rates.values()) * 60.0  # parts/h; the conveyor (60/min) is faster
    assert line.outputs()["throughput"] == pytest.approx(expected, rel=0.02)
    assert line.outputs()["m3.utilisation"] == pytest.approx(1.0, abs=0.01)
    assert line.outputs()["m4.utilisation"] < 0.7


def test_the_speed_factor_scales_the_line_from_the_next_step_on() -> None:
    line = ProductionLine("l", machines=3, parameters=_steady(3, line_speed=10.0))
    line.advance(HOUR)
    line.advance(HOUR)
    full = line.outputs()["throughput"]
    assert full == pytest.approx(600.0, rel=0.02)  # the conveyor is the bottleneck
    line.set_inputs({"speed_factor": 0.5})
    line.advance(HOUR)
    line.advance(HOUR)
    assert line.outputs()["throughput"] == pytest.approx(full / 2, rel=0.02)
    line.set_inputs({"speed_factor": 0.0})
    line.advance(HOUR)
    line.advance(HOUR)
    assert line.outputs()["throughput"] == 0.0
    _conserved(line)


def test_a_machine_switched_off_fills_the_buffers_upstream_and_blocks_them() -> None:
    params = _steady(3, **{"b2.capacity": 20.0, "b3.capacity": 15.0})
    line = ProductionLine("l", machines=3, parameters=params)
    line.advance(HOUR)
    line.set_inputs({"m3.running": 0.0})
    line.advance(HOUR)
    entered = line.outputs()["entered"]
    line.advance(HOUR)
    out = line.outputs()
    assert out["b3.level"] == 15.0  # whole lots of 5
    assert out["b2.level"] == 20.0
    assert out["m2.state"] == 2.0  # blocked
    assert out["m3.state"] == 4.0  # off
    assert out["entered"] == entered  # nothing more comes in
    assert out["throughput"] == 0.0
    _conserved(line)


def test_a_lot_larger_than_the_buffer_is_handed_over_directly() -> None:
    line = ProductionLine("l", machines=2, parameters=_steady(2, **{"b2.capacity": 0.0}))
    line.advance(HOUR)
    line.advance(HOUR)
    assert line.outputs()["throughput"] == pytest.approx(15.0 * 60.0, rel=0.05)


def test_a_breakdown_stops_the_output_once_the_buffers_downstream_drain() -> None:
    params = _steady(3, **{"m2.mtbf": 600.0, "m2.mttr": 1e7, "b3.capacity": 30.0})
    line = ProductionLine("l", machines=3, parameters=params)
    while line.outputs()["m2.up"] == 1.0:
        line.advance(60.0)
        assert line.time < 10 * HOUR, "machine 2 never broke down"
    at_failure = line.outputs()["produced"]
    line.advance(HOUR)
    drained = line.outputs()["produced"]
    # What was downstream of machine 2 (buffer 3 and machine 3) still comes out, then no more.
    assert drained - at_failure <= 30.0 + 5.0
    line.advance(HOUR)
    out = line.outputs()
    assert out["produced"] == drained
    assert out["throughput"] == 0.0
    assert out["m3.state"] == 0.0  # starved
    assert out["m2.state"] == 3.0  # down
    _conserved(line)


def test_no_output_while_the_night_shift_is_off() -> None:
    params = _steady(3, shift_hours=16.0, shift_start_hour=6.0, start_hour=0.0)
    line = ProductionLine("l", machines=3, parameters=params)
    by_hour = []
    for _ in range(48):
        line.advance(HOUR)
        by_hour.append((line.outputs()["throughput"], line.outputs()["on_shift"]))
    for hour, (throughput, _) in enumerate(by_hour):
        clock = hour % 24  # the step covers [clock, clock + 1)
        if clock < 6 or clock >= 22:
            assert throughput == 0.0, f"output at {clock}:00"
        elif clock >= 7:
            assert throughput > 0.0, f"no output at {clock}:00"
    assert [on for _, on in by_hour[20:24]] == [1.0, 0.0, 0.0, 0.0]  # read at 21, 22, 23, 24


def test_parts_are_conserved_with_breakdowns_scrap_and_variation() -> None:
    params = {"m2.mtbf": 1800.0, "m3.scrap_rate": 0.05, "m1.cv": 0.8, "b2.capacity": 10.0}
    line = ProductionLine("l", machines=4, parameters=params)
    for step in range(96):
        line.advance(900.0)
        _conserved(line)
        if step == 40:
            line.set_inputs({"speed_factor": 1.4, "m4.running": 0.0})
        if step == 60:
            line.set_inputs({"m4.running": 1.0})
    out = line.outputs()
    assert out["scrap"] > 0 and out["m2.failures"] > 0 and out["produced"] > 0


# -- snapshots and seeds -------------------------------------------------------------------
def _chancy_line(seed: int = 1) -> ProductionLine:
    return ProductionLine(
        "l",
        machines=4,
        parameters={"seed": seed, "m2.mtbf": 1200.0, "m2.cv": 0.6, "m3.scrap_rate": 0.05},
    )


def test_restoring_a_snapshot_replays_the_same_future_exactly() -> None:
    line = _chancy_line()
    line.advance(5 * HOUR)
    fork = line.snapshot()
    futures = []
    for _ in range(2):
        line.restore(fork)
        line.advance(HOUR)
        line.set_inputs({"speed_factor": 1.3, "m1.running": 0.0})
        line.advance(HOUR)
        line.set_inputs({"speed_factor": 0.7, "m1.running": 1.0})
        line.advance(7 * HOUR)
        futures.append((line.state(), line.outputs()))
        line.set_inputs({"speed_factor": 1.0})
    assert futures[0] == futures[1]  # exactly, not approximately


@pytest.mark.parametrize("model", ["line", "queue"])
def test_rebuilding_the_environment_changes_nothing(model: str) -> None:
    """The rebuild from numbers is lossless: rebuilding at every step gives the same run as
    one long step in one environment."""

    def build() -> ProductionLine | QueueModel:
        return _chancy_line() if model == "line" else QueueModel("q", servers=2, capacity=8)

    whole, stepped = build(), build()
    whole.advance(30 * HOUR)
    for _ in range(30 * 12):
        stepped.advance(300.0)
        stepped.restore(stepped.snapshot())  # drops the environment
    skip = {k for k in whole.state() if k.endswith(("utilisation", "busy_seen", "throughput"))}
    assert {k: v for k, v in whole.state().items() if k not in skip} == {
        k: v for k, v in stepped.state().items() if k not in skip
    }


def test_the_same_seed_gives_the_same_run_and_another_seed_another() -> None:
    runs = {}
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        line = _chancy_line(seed)
        line.advance(24 * HOUR)
        runs[name] = line.state()
    assert runs["a"] == runs["b"]
    assert runs["a"] != runs["c"]
    q1, q2 = QueueModel("q"), QueueModel("q", parameters={"seed": 2})
    q1.advance(HOUR)
    q2.advance(HOUR)
    assert q1.state() != q2.state()


# -- bad parameters ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"m1.mtbf": -5.0}, "'m1.mtbf' = -5 is outside its bounds"),
        ({"b2.capacity": -1.0}, "'b2.capacity' = -1 is outside its bounds"),
        ({"m3.rate": 0.0}, "'m3.rate' = 0 is outside its bounds"),
        ({"lot_size": 2.5}, "'lot_size' must be a whole number"),
        ({"seed": 1.5}, "'seed' must be a whole number"),
    ],
)
def test_bad_line_parameters_are_refused_clearly(values: dict[str, float], match: str) -> None:
    line = ProductionLine("l", machines=3)
    before = line.parameters()
    with pytest.raises(SimulationError, match=match) as info:
        line.set_parameters(values)
    assert "model 'l'" in str(info.value)
    assert line.parameters() == before
    with pytest.raises(SimulationError, match=match):
        ProductionLine("l", machines=3, parameters=values)


@pytest.mark.parametrize("machines", [0, -2, 2.5])
def test_a_line_needs_a_whole_number_of_machines(machines: int) -> None:
    with pytest.raises(SimulationError, match="at least one machine"):
        ProductionLine("l", machines=machines)


@pytest.mark.parametrize(("servers", "capacity"), [(0, 5), (3, 2)])
def test_a_queue_needs_servers_and_room_for_them(servers: int, capacity: int) -> None:
    with pytest.raises(SimulationError, match="whole number of at least"):
        QueueModel("q", servers=servers, capacity=capacity)
