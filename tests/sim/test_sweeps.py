"""Sweeps and Monte-Carlo runs: seeded draws (random and Latin hypercube), runs spread over
processes giving the same summary as serially, failing samples reported while the rest
complete, and distributions summarised and plotted."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import numpy as np
import pytest

from sim import whatif_models
from support import build_factory
from twinsight.core.clock import ManualClock
from twinsight.core.errors import BadRequest, SimulationError
from twinsight.hub import Hub
from twinsight.sim.forks import Fork
from twinsight.sim.sweeps import (
    Choice,
    LogNormal,
    Normal,
    SerialExecutor,
    Sweep,
    SweepParameter,
    Triangular,
    Uniform,
    parse_distribution,
    process_pool,
    run_sweep,
    sample,
)

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def fork() -> Iterator[Fork]:
    with Hub(clock=ManualClock(T0)) as hub:
        build_factory(hub)
        hub.simulation = whatif_models.spec()
        scenario = hub.scenarios.fork(name="sweep base")
        yield hub.scenarios.fork_of(scenario.id)


def _final_temperature(rated_power: float, steps: int, dt: float = 1.0) -> float:
    """The motor model after ``steps`` Euler steps from 300 K, running (tau = 100 s)."""
    target = 293.15 + 2.0 * rated_power
    return target + (300.0 - target) * (1.0 - dt / 100.0) ** steps


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("uniform(10, 20)", Uniform(10.0, 20.0)),
        ("normal(15, 1.5)", Normal(15.0, 1.5)),
        ("lognormal(0, 0.5)", LogNormal(0.0, 0.5)),
        ("triangular(10, 12, 20)", Triangular(10.0, 12.0, 20.0)),
        ("choice(1, 2, 4)", Choice((1.0, 2.0, 4.0))),
    ],
)
def test_distributions_parse_from_text_and_round_trip_through_json(
    text: str, expected: object
) -> None:
    parsed = parse_distribution(text)
    assert parsed == expected
    assert parse_distribution(parsed.to_dict()) == parsed


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("uniform(20, 10)", "needs finite low < high"),
        ("normal(1)", "normal takes mean, std"),
        ("gamma(1, 2)", "unknown distribution 'gamma'"),
        ("normal(a, b)", "must be numbers"),
        ({"kind": "triangular", "low": 1, "high": 2}, "takes exactly low, mode, high"),
        ({"kind": "choice", "values": [1, 2], "weights": [0, 0]}, "not all zero"),
    ],
)
def test_bad_distributions_are_refused_with_the_reason(spec: object, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        parse_distribution(spec)  # type: ignore[arg-type]


def test_latin_hypercube_puts_one_draw_in_every_stratum_and_seeds_reproduce() -> None:
    params = [
        SweepParameter("a", Uniform(0.0, 10.0), twin="x"),
        SweepParameter("b", Uniform(-1.0, 1.0), twin="x"),
    ]
    drawn = sample(params, 50, seed=7, sampling="lhs")
    assert drawn.shape == (50, 2)
    for j, (low, high) in enumerate([(0.0, 10.0), (-1.0, 1.0)]):
        strata = np.floor((drawn[:, j] - low) / (high - low) * 50).astype(int)
        assert sorted(strata) == list(range(50))
    assert np.array_equal(drawn, sample(params, 50, seed=7, sampling="lhs"))
    assert not np.array_equal(drawn, sample(params, 50, seed=8, sampling="lhs"))
    randomly = sample(params, 50, seed=7, sampling="random")
    assert np.array_equal(randomly, sample(params, 50, seed=7, sampling="random"))
    assert not np.array_equal(randomly, drawn)


def test_draws_follow_their_distributions() -> None:
    def one(dist: object) -> np.ndarray:
        return sample([SweepParameter("p", dist, twin="x")], 20_000, 1, "lhs")[:, 0]  # type: ignore[arg-type]

    normal = one(Normal(15.0, 2.0))
    assert normal.mean() == pytest.approx(15.0, abs=0.01)
    assert normal.std() == pytest.approx(2.0, rel=0.01)
    lognormal = one(LogNormal(1.0, 0.5))
    assert np.median(lognormal) == pytest.approx(np.e, rel=0.01)
    assert lognormal.min() > 0
    triangular = one(Triangular(0.0, 3.0, 4.0))
    assert triangular.mean() == pytest.approx(7.0 / 3.0, rel=0.01)
    choice = one(Choice((1.0, 2.0), (3.0, 1.0)))
    assert set(choice) == {1.0, 2.0}
    assert np.mean(choice == 1.0) == pytest.approx(0.75, abs=0.01)


def _rated_power_sweep(**overrides: object) -> Sweep:
    values: dict[str, object] = {
        "parameters": (
            SweepParameter.parse("line-1-motor.ratedPower", "uniform(5, 40)"),
            SweepParameter.parse("line-1-pump.gain", "triangular(0.01, 0.02, 0.03)"),
        ),
        "runs": 20,
        "horizon": 120.0,
        "step": 1.0,
        "record": ("line-1-motor.temperature", "line-1-pump.pumped"),
        "seed": 42,
        "sampling": "lhs",
    }
    values.update(overrides)
    return Sweep(**values)  # type: ignore[arg-type]


def test_each_run_gets_its_own_draw_and_the_summary_describes_the_runs(fork: Fork) -> None:
    result = run_sweep(fork, _rated_power_sweep(), executor=SerialExecutor())
    assert len(result.samples) == 20 and not result.failures
    for s in result.samples:
        power = s.parameters["line-1-motor.ratedPower"]
        assert 5.0 <= power <= 40.0
        assert s.values["line-1-motor.temperature"] == pytest.approx(_final_temperature(power, 120))
        gain = s.parameters["line-1-pump.gain"]
        assert s.values["line-1-pump.pumped"] == pytest.approx(120 * gain * 1480.0 / 3600.0)
    temps = result.values("line-1-motor.temperature")
    summary = result.summary["line-1-motor.temperature"]
    assert summary.count == 20
    assert summary.mean == pytest.approx(temps.mean())
    assert summary.std == pytest.approx(temps.std(ddof=1))
    assert summary.min < summary.p5 < summary.p50 < summary.p95 < summary.max
    assert list(result.summary) == ["line-1-motor.temperature", "line-1-pump.pumped"]


@pytest.mark.slow
def test_twenty_runs_on_two_processes_give_the_same_summary_as_serially(fork: Fork) -> None:
    sweep = _rated_power_sweep(sampling="random")
    serial = run_sweep(fork, sweep, executor=SerialExecutor())
    with process_pool(2) as pool:
        parallel = run_sweep(fork, sweep, executor=pool)
    assert parallel.summary == serial.summary
    assert parallel.samples == serial.samples
    # And any object with map() will do (a thread pool here; Dask and Ray in docs).
    with ThreadPoolExecutor(2) as threads:
        assert run_sweep(fork, sweep, executor=threads).summary == serial.summary


@pytest.mark.slow
def test_the_default_executor_is_a_process_pool_and_reports_progress(fork: Fork) -> None:
    seen: list[tuple[int, int]] = []
    sweep = _rated_power_sweep(runs=4)
    result = run_sweep(fork, sweep, progress=lambda done, total: seen.append((done, total)))
    assert result.summary == run_sweep(fork, sweep, executor=SerialExecutor()).summary
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_a_failing_sample_is_reported_with_its_draw_and_the_rest_complete(fork: Fork) -> None:
    sweep = Sweep(
        parameters=(
            SweepParameter("seizeAfter", Choice((30.0, 1e9)), twin="line-1-pump"),
            # Some draws fall below the motor's lower bound of 0.1 kW.
            SweepParameter("ratedPower", Uniform(-10.0, 40.0), model="motor"),
        ),
        runs=24,
        horizon=60.0,
        step=1.0,
        seed=3,
    )
    result = run_sweep(fork, sweep, executor=SerialExecutor())
    seized = [s for s in result.samples if s.parameters["line-1-pump.seizeAfter"] == 30.0]
    negative = [s for s in result.samples if s.parameters["model:motor.ratedPower"] < 0.1]
    assert seized and negative
    for s in negative:  # refused before running
        assert s.error is not None and "outside its bounds" in s.error and not s.values
    for s in (s for s in seized if s not in negative):  # failed mid-run
        assert s.error is not None and "bearing seized at t=31 s" in s.error and not s.values
    fine = [s for s in result.samples if s.error is None]
    assert len(fine) == 24 - len({s.index for s in seized + negative}) > 0
    for s in fine:
        # A model-wide parameter reaches every twin of that model.
        power = s.parameters["model:motor.ratedPower"]
        for motor in ("line-1-motor", "line-2-motor"):
            assert s.values[f"{motor}.temperature"] == pytest.approx(_final_temperature(power, 60))
    assert result.summary["line-1-motor.temperature"].count == len(fine)
    body = result.to_dict()
    assert body["failed"] == len(result.failures) and body["completed"] == len(fine)
    assert {f["run"] for f in body["failures"]} == {s.index for s in result.failures}


def test_a_sweep_that_cannot_run_is_refused_before_any_run(fork: Fork) -> None:
    bad = _rated_power_sweep(
        parameters=(
            SweepParameter.parse("ghost.ratedPower", "uniform(1, 2)"),
            SweepParameter.parse("line-1-motor.torque", "uniform(1, 2)"),
            SweepParameter.parse("model:turbine.speed", "uniform(1, 2)"),
        )
    )
    with pytest.raises(SimulationError) as info:
        run_sweep(fork, bad, executor=SerialExecutor())
    for part in ("no twin 'ghost'", "has no parameter 'torque'", "model 'turbine'"):
        assert part in info.value.message
    with pytest.raises(SimulationError, match=r"records no line-1-motor\.torque"):
        run_sweep(fork, _rated_power_sweep(record=("line-1-motor.torque",)))
    with pytest.raises(SimulationError, match="at least one run"):
        run_sweep(fork, _rated_power_sweep(runs=0))


def test_the_histogram_is_a_png(fork: Fork) -> None:
    result = run_sweep(fork, _rated_power_sweep(), executor=SerialExecutor())
    png = result.histogram_png()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) > 10_000
