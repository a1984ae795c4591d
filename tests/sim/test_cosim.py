"""The fixed-step co-simulation master: ordering, the two algorithms, wiring errors,
failures that name their member, and convergence to the monolithic solution."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping

import numpy as np
import pytest

from twinsight.core.errors import SimulationError
from twinsight.sim.cosim import Connection, CoSimulation, FleetConnection
from twinsight.sim.functions import FunctionModel
from twinsight.sim.model import ModelDescription, Variable
from twinsight.sim.ode import OdeFleet, OdeSystem


def _source(name: str = "source", value: float = 1.0) -> FunctionModel:
    """Outputs its time: y = t (a ramp), so a one-step lag is visible."""

    def step(t: float, dt: float, x: Mapping[str, float], u: object, p: object) -> dict[str, float]:
        return {"t": x["t"] + dt}

    return FunctionModel.from_function(
        name, lambda t, u, v: {"y": value * v["t"]}, states={"t": 0.0}, outputs=("y",), step=step
    )


def _lag(name: str, tau: float = 10.0, x0: float = 0.0) -> FunctionModel:
    """First-order lag dx/dt = (u - x)/tau, integrated exactly over a step."""

    def step(
        t: float, dt: float, x: Mapping[str, float], u: Mapping[str, float], p: Mapping[str, float]
    ) -> dict[str, float]:
        a = math.exp(-dt / p["tau"])
        return {"x": u["u"] + (x["x"] - u["u"]) * a}

    return FunctionModel.from_function(
        name,
        lambda t, u, v: {"y": v["x"]},
        parameters={"tau": tau},
        inputs={"u": 0.0},
        states={"x": x0},
        outputs=("y",),
        step=step,
    )


def _copy(name: str) -> FunctionModel:
    return FunctionModel.from_function(
        name, lambda t, u, v: {"y": u["u"]}, inputs={"u": 0.0}, outputs=("y",)
    )


def test_gauss_seidel_orders_sources_first_and_passes_values_without_delay() -> None:
    # Added in the wrong order on purpose: the master must reorder them.
    sim = CoSimulation(
        {"c": _copy("c"), "b": _copy("b"), "a": _source("a")},
        [Connection("a", "y", "b", "u"), Connection("b", "y", "c", "u")],
    )
    assert sim.order == ("a", "b", "c")
    results = sim.run(5.0, 1.0)
    # a advanced first, so b and c see a's value at the end of the same step.
    np.testing.assert_allclose(results["c.y"][1:], results["a.y"][1:])
    assert results.times.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


def test_jacobi_lags_each_connection_by_one_step() -> None:
    sim = CoSimulation(
        {"a": _source("a"), "b": _copy("b"), "c": _copy("c")},
        [Connection("a", "y", "b", "u"), Connection("b", "y", "c", "u")],
        algorithm="jacobi",
    )
    results = sim.run(5.0, 1.0)
    a, b, c = results["a.y"], results["b.y"], results["c.y"]
    np.testing.assert_allclose(b[1:], a[:-1])  # b(t+h) = a(t)
    np.testing.assert_allclose(c[2:], a[:-2])  # two connections, two steps


def test_gain_and_offset_convert_units_on_the_way() -> None:
    sim = CoSimulation(
        {"a": _source("a"), "b": _copy("b")},
        [Connection("a", "y", "b", "u", gain=2.0 * math.pi / 60.0, offset=1.0)],
    )
    results = sim.run(3.0, 1.0)
    np.testing.assert_allclose(results["b.y"][1:], results["a.y"][1:] * 2 * math.pi / 60 + 1)


def _coupled(h: float, algorithm: str) -> float:
    """Two lags in a feedback loop: x1' = (1 - x2 - x1)/tau1 driven by a constant, x2
    follows x1. Returns x2 at t = 20 s."""
    loop = _lag("one", tau=5.0)
    bias = FunctionModel.from_function(
        "bias", lambda t, u, v: {"y": 1.0 - u["u"]}, inputs={"u": 0.0}, outputs=("y",)
    )
    follower = _lag("two", tau=3.0)
    sim = CoSimulation(
        {"bias": bias, "one": loop, "two": follower},
        [
            Connection("two", "y", "bias", "u"),
            Connection("bias", "y", "one", "u"),
            Connection("one", "y", "two", "u"),
        ],
        algorithm=algorithm,  # type: ignore[arg-type]
    )
    return float(sim.run(20.0, h)["two.y"][-1])


def _monolithic() -> float:
    from scipy.integrate import solve_ivp

    def rhs(t: float, x: np.ndarray) -> list[float]:
        return [(1.0 - x[1] - x[0]) / 5.0, (x[0] - x[1]) / 3.0]

    return float(solve_ivp(rhs, (0, 20), [0.0, 0.0], rtol=1e-10, atol=1e-12).y[1, -1])


@pytest.mark.parametrize("algorithm", ["gauss-seidel", "jacobi"])
def test_a_feedback_loop_converges_to_the_monolithic_solution_as_the_step_shrinks(
    algorithm: str,
) -> None:
    exact = _monolithic()
    errors = [abs(_coupled(h, algorithm) - exact) for h in (1.0, 0.5, 0.25, 0.125)]
    # First order in h: halving the step roughly halves the error.
    for coarse, fine in itertools.pairwise(errors):
        assert fine < coarse * 0.65
    assert errors[-1] < 0.01


def test_wiring_mistakes_are_all_reported_at_once() -> None:
    with pytest.raises(SimulationError) as info:
        CoSimulation(
            {"a": _source("a"), "b": _copy("b")},
            [
                Connection("a", "nope", "b", "u"),
                Connection("ghost", "y", "b", "u"),
                Connection("a", "y", "b", "missing"),
            ],
        )
    text = str(info.value)
    assert "'a' has no output 'nope'" in text
    assert "no member 'ghost'" in text
    assert "'b' has no input 'missing'" in text
    assert "b.u is fed twice" in text
    assert len(info.value.details) == 4


def test_an_input_fed_twice_is_refused() -> None:
    with pytest.raises(SimulationError, match=r"b\.u is fed twice"):
        CoSimulation(
            {"a": _source("a"), "a2": _source("a2"), "b": _copy("b")},
            [Connection("a", "y", "b", "u"), Connection("a2", "y", "b", "u")],
        )


def test_a_failing_member_is_named_and_time_is_not_advanced() -> None:
    def explode(
        t: float, dt: float, x: object, u: Mapping[str, float], p: object
    ) -> dict[str, float]:
        if u["u"] > 2.0:
            raise ZeroDivisionError("the pump broke")
        return {}

    fragile = FunctionModel.from_function(
        "fragile", lambda t, u, v: {"y": 0.0}, inputs={"u": 0.0}, outputs=("y",), step=explode
    )
    sim = CoSimulation(
        {"a": _source("a"), "fragile": fragile}, [Connection("a", "y", "fragile", "u")]
    )
    with pytest.raises(
        SimulationError, match=r"member 'fragile' failed in the step from t=2 s"
    ) as info:
        sim.run(10.0, 1.0)
    assert "the pump broke" in str(info.value)
    assert info.value.model == "fragile"
    assert sim.time == 2.0


def test_snapshot_and_restore_replay_the_same_run() -> None:
    sim = CoSimulation({"a": _source("a"), "lag": _lag("lag")}, [Connection("a", "y", "lag", "u")])
    sim.run(5.0, 1.0)
    fork = sim.snapshot()
    first = sim.run(10.0, 0.5)
    sim.restore(fork)
    assert sim.time == 5.0
    second = sim.run(10.0, 0.5)
    np.testing.assert_array_equal(first["lag.y"], second["lag.y"])


def test_recording_an_unknown_series_says_what_exists() -> None:
    sim = CoSimulation({"a": _source("a")})
    with pytest.raises(SimulationError, match=r"'a' has no output 'z' \(its outputs: y\)"):
        sim.run(1.0, 1.0, record=["a.z"])
    with pytest.raises(SimulationError, match="no member of that name"):
        sim.run(1.0, 1.0, record=["b.y"])


@pytest.mark.parametrize(("duration", "h"), [(0.0, 1.0), (1.0, 0.0), (math.inf, 1.0), (1.0, -1.0)])
def test_bad_durations_and_steps_are_refused(duration: float, h: float) -> None:
    with pytest.raises(SimulationError, match="positive"):
        CoSimulation({"a": _source("a")}).run(duration, h)


def test_progress_is_reported_up_to_the_last_step() -> None:
    seen: list[tuple[int, int]] = []
    CoSimulation({"a": _source("a")}).run(300.0, 1.0, progress=lambda i, n: seen.append((i, n)))
    assert seen[-1] == (300, 300)
    assert len(seen) >= 100


# -- fleets ---------------------------------------------------------------------------------
def _held_fleet(values: list[float]) -> OdeFleet:
    """A fleet whose outputs are its state, which never changes, and its square root."""
    system = OdeSystem(
        ModelDescription(
            "held", states=(Variable("x", 0.0),), outputs=(Variable("value"), Variable("root"))
        ),
        rhs=lambda t, x, u, p: [0.0 * x[0]],
        outputs=lambda t, x, u, p: (x[0], np.sqrt(x[0])),
    )
    fleet = system.fleet(len(values), name="held", solver="rk4")
    fleet.set_state_array([values])
    return fleet


def _taking_fleet(members: int) -> OdeFleet:
    """A fleet with two bounded inputs it passes through as outputs."""
    system = OdeSystem(
        ModelDescription(
            "taker",
            inputs=(Variable("a", -1.0, min=-10.0, max=100.0), Variable("b", 5.0, min=0.0)),
            outputs=(Variable("a"), Variable("b")),
        ),
        rhs=lambda t, x, u, p: [],
        outputs=lambda t, x, u, p: (u[0], u[1]),
    )
    return system.fleet(members, name="taker", solver="rk4")


def test_fleet_connections_pair_members_as_listed_with_gain_and_offset() -> None:
    source, target = _held_fleet([1.0, 2.0, 3.0, 4.0]), _taking_fleet(4)
    sim = CoSimulation(
        {"source": source, "target": target},
        [
            # members paired out of order, member 2 of the target left alone
            FleetConnection("source", "value", "target", "a", (3, 0, 2), (0, 1, 3), 2.0, 1.0),
            # member k to member k, all of them
            FleetConnection("source", "value", "target", "b", (0, 1, 2, 3), (0, 1, 2, 3)),
        ],
    )
    sim.step(60.0)
    assert target.inputs_array().tolist() == [[9.0, 3.0, -1.0, 7.0], [1.0, 2.0, 3.0, 4.0]]
    assert target.output_arrays()["a"].tolist() == [9.0, 3.0, -1.0, 7.0]


@pytest.mark.parametrize(
    ("value", "problem"),
    [(3600.0, r"taker-1\.a = 121 is outside its bounds"), (-1.0, "input 'a' has NaN values")],
)
def test_a_fed_value_out_of_bounds_stops_the_step_naming_member_and_input(
    value: float, problem: str
) -> None:
    source, target = _held_fleet([1.0, 2.0]), _taking_fleet(2)
    sim = CoSimulation(
        {"source": source, "target": target},
        [FleetConnection("source", "root", "target", "a", (0, 1), (0, 1), 2.0, 1.0)],
    )
    sim.step(60.0)
    before = target.inputs_array()
    source.set_state_array([[1.0, value]])
    with pytest.raises(SimulationError, match=problem) as refused:
        sim.step(60.0)
    assert refused.value.model == "target"
    assert np.array_equal(target.inputs_array(), before)  # the refused write changed nothing
    assert sim.time == 60.0
