"""ODE models and fleets: accuracy against closed forms, the solvers against each other, a
fleet against its members run one by one, and failures that name the model and the time."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from twinsight.core.errors import SimulationError
from twinsight.sim.model import ModelDescription, SimulationModel, Variable
from twinsight.sim.ode import SOLVERS, FloatArray, OdeFleet, OdeModel, OdeSystem
from twinsight.sim.physics import motor_system, pump_system

TAU = 50.0


def first_order(tau: float = TAU) -> OdeSystem:
    """tau * dy/dt = gain * u - y: the textbook step response."""
    return OdeSystem(
        ModelDescription(
            "lag",
            parameters=(Variable("tau", tau, "s", min=1e-3), Variable("gain", 2.0)),
            states=(Variable("y", 0.0),),
            inputs=(Variable("u", 0.0, min=-10.0, max=10.0),),
            outputs=(Variable("y"), Variable("target")),
        ),
        rhs=lambda t, x, u, p: [(p[1] * u[0] - x[0]) / p[0]],
        outputs=lambda t, x, u, p: (x[0], p[1] * u[0]),
    )


def blowing_up() -> OdeSystem:
    """dy/dt = y², y(0) = 1: y = 1 / (1 - t) escapes to infinity at t = 1 s."""
    return OdeSystem(
        ModelDescription("rocket", states=(Variable("y", 1.0),), outputs=(Variable("y"),)),
        rhs=lambda t, x, u, p: x * x,
        outputs=lambda t, x, u, p: (x[0],),
    )


@pytest.mark.parametrize(
    ("solver", "max_step"), [("RK45", math.inf), ("LSODA", math.inf), ("rk4", 1.0)]
)
def test_a_first_order_step_reaches_63_percent_at_tau(solver: str, max_step: float) -> None:
    model = first_order().model(solver=solver, max_step=max_step)
    model.set_inputs({"u": 3.0})
    model.advance(TAU)
    final = 2.0 * 3.0
    assert model.outputs()["y"] == pytest.approx(final * (1 - math.exp(-1)), rel=1e-5)
    model.advance(9 * TAU)
    assert model.outputs()["y"] == pytest.approx(final * (1 - math.exp(-10)), rel=1e-5)
    assert model.time == pytest.approx(10 * TAU)


def test_rk4_takes_equal_steps_of_at_most_max_step() -> None:
    """Fourth order: halving the step cuts the error about sixteenfold, which shows the
    advance really was split into ceil(dt / max_step) steps."""
    exact = 2.0 * (1 - math.exp(-2.0))

    def error(max_step: float) -> float:
        model = first_order().model(solver="rk4", max_step=max_step)
        model.set_inputs({"u": 1.0})
        model.advance(2 * TAU)
        return abs(model.outputs()["y"] - exact)

    one_step, coarse, fine = error(math.inf), error(TAU / 8), error(TAU / 16)
    assert 15 < coarse / fine < 19
    assert one_step > 100 * coarse


def test_rk4_agrees_with_solve_ivp_on_the_motor() -> None:
    reference = motor_system().model(rtol=1e-9, atol=1e-9)
    fast = motor_system().model(solver="rk4", max_step=5.0)
    for load, minutes in ((1.0, 30), (0.3, 20), (1.2, 10), (0.0, 30)):
        for model in (reference, fast):
            model.set_inputs({"load": load})
            for _ in range(minutes):
                model.advance(60.0)
        expected, got = reference.outputs(), fast.outputs()
        for name, value in expected.items():
            assert got[name] == pytest.approx(value, rel=1e-6, abs=1e-9), name
    assert reference.outputs()["temperature"] > 40.0  # it did heat up


def _loads(n: int) -> FloatArray:
    return np.linspace(0.0, 1.2, n)


@pytest.mark.parametrize(
    ("solver", "tolerance"), [("rk4", 1e-12), ("RK45", 1e-6), ("BDF", 1e-5), ("LSODA", 1e-5)]
)
def test_a_fleet_gives_what_its_members_give_one_by_one(solver: str, tolerance: float) -> None:
    n = 6
    options: dict[str, Any] = {"solver": solver, "max_step": 10.0, "rtol": 1e-8, "atol": 1e-8}
    system = motor_system()
    fleet = system.fleet([f"motor-{i}" for i in range(n)], **options)
    singles = [system.model(f"motor-{i}", **options) for i in range(n)]
    capacities = np.linspace(3000.0, 9000.0, n)
    fleet.set_inputs_array("load", _loads(n))
    fleet.set_inputs_array("ambient_temperature", 30.0)
    fleet.set_parameters_array("winding_capacity", capacities)
    fleet.set_state({"motor-2.wear": 0.5})
    for i, single in enumerate(singles):
        single.set_inputs({"load": float(_loads(n)[i]), "ambient_temperature": 30.0})
        single.set_parameters({"winding_capacity": float(capacities[i])})
    singles[2].set_state({"wear": 0.5})
    for _ in range(5):
        fleet.advance(120.0)
        for single in singles:
            single.advance(120.0)
    arrays = fleet.output_arrays()
    outputs = fleet.outputs()
    for i, single in enumerate(singles):
        for name, value in single.outputs().items():
            assert arrays[name][i] == pytest.approx(value, rel=tolerance, abs=tolerance), name
            assert outputs[f"motor-{i}.{name}"] == arrays[name][i]
        assert fleet.state_array()[:, i] == pytest.approx(
            single.state_array(), rel=tolerance, abs=tolerance
        )
    assert len(set(arrays["temperature"].tolist())) == n  # the members really differ


def test_a_fleet_speaks_the_interface_with_namespaced_names() -> None:
    fleet = motor_system().fleet(["m1", "m2"])
    assert isinstance(fleet, SimulationModel)
    assert fleet.name == "motor-fleet"
    assert fleet.members == ("m1", "m2")
    assert set(fleet.inputs()) == {
        f"{m}.{n}"
        for m in ("m1", "m2")
        for n in ("load", "running", "ambient_temperature", "speed_setpoint", "bearing_fault")
    }
    fleet.set_inputs({"m2.load": 0.7})
    assert fleet.inputs()["m2.load"] == 0.7
    assert fleet.inputs_array()[0].tolist() == [0.0, 0.7]
    assert fleet.parameters()["m1.rated_power"] == 15.0
    assert set(fleet.state()) == {
        f"{m}.{n}"
        for m in ("m1", "m2")
        for n in ("winding_temperature", "housing_temperature", "wear", "drive_speed")
    }
    assert motor_system().fleet(3).members == ("motor-0", "motor-1", "motor-2")


def test_fleet_arrays_are_checked_against_the_bounds() -> None:
    fleet = motor_system().fleet(["m1", "m2", "m3"])
    with pytest.raises(SimulationError, match=r"m2\.load = 1\.5 is outside its bounds"):
        fleet.set_inputs_array("load", [0.5, 1.5, 0.5])
    with pytest.raises(SimulationError, match="NaN"):
        fleet.set_inputs_array("load", [0.5, math.nan, 0.5])
    with pytest.raises(SimulationError, match="3 values"):
        fleet.set_inputs_array("load", [0.5, 0.5])
    with pytest.raises(SimulationError, match="no input 'torque'"):
        fleet.set_inputs_array("torque", 1.0)
    with pytest.raises(SimulationError, match="outside its bounds"):
        fleet.set_parameters_array("efficiency", 1.5)
    with pytest.raises(SimulationError, match="shape"):
        fleet.set_state_array(np.zeros((2, 3)))
    assert fleet.inputs_array()[0].tolist() == [0.0, 0.0, 0.0]
    fleet.set_state_array(np.full((4, 3), 40.0))
    assert fleet.state()["m3.housing_temperature"] == 40.0


def test_several_fleet_inputs_are_written_and_checked_at_once() -> None:
    fleet = motor_system().fleet(["m1", "m2", "m3"])
    loads, ambient = np.array([0.5, 0.7, 0.9]), np.array([20.0, 25.0, 30.0])
    fleet.set_inputs_arrays({"load": loads, "ambient_temperature": ambient})
    rows = fleet.inputs_array()
    assert fleet.inputs()["m2.load"] == 0.7 and fleet.inputs()["m3.ambient_temperature"] == 30.0
    with pytest.raises(SimulationError, match=r"m3\.load = 1\.5 is outside its bounds"):
        fleet.set_inputs_arrays({"ambient_temperature": ambient, "load": np.array([0.5, 0.5, 1.5])})
    with pytest.raises(SimulationError, match="NaN"):
        fleet.set_inputs_arrays({"load": np.array([0.5, math.nan, 0.5])})
    with pytest.raises(SimulationError, match="no input 'torque'"):
        fleet.set_inputs_arrays({"torque": np.ones(3)})
    with pytest.raises(SimulationError, match="3 values"):
        fleet.set_inputs_arrays({"load": np.ones(2)})
    assert np.array_equal(fleet.inputs_array(), rows)  # a refused write changes nothing
    fleet.set_inputs_arrays({"ambient_temperature": 15.0, "load": loads[::-1]})  # one for all
    assert fleet.inputs()["m1.ambient_temperature"] == 15.0 and fleet.inputs()["m1.load"] == 0.9
    fleet.set_inputs_arrays({"ambient_temperature": 12.0})  # only values for all members
    assert fleet.inputs_array()[2].tolist() == [12.0, 12.0, 12.0]


def test_a_fleet_rhs_may_mix_scalars_and_arrays() -> None:
    """``[0.0, rate]`` is the natural way to write a constant derivative; in a fleet the
    scalar is broadcast over the members."""
    system = OdeSystem(
        ModelDescription(
            "ramp",
            parameters=(Variable("rate", 1.0),),
            states=(Variable("constant", 5.0), Variable("ramp", 0.0)),
            outputs=(Variable("ramp"),),
        ),
        rhs=lambda t, x, u, p: [0.0, p[0]],
        outputs=lambda t, x, u, p: (x[1],),
    )
    fleet = system.fleet(2, solver="rk4")
    fleet.set_parameters_array("rate", [1.0, 3.0])
    fleet.advance(2.0)
    assert fleet.output_arrays()["ramp"].tolist() == pytest.approx([2.0, 6.0])
    assert fleet.state_array()[0].tolist() == [5.0, 5.0]


@pytest.mark.parametrize(("solver", "max_step"), [("rk4", 0.1), ("RK45", math.inf)])
def test_divergence_is_a_clear_error_and_leaves_the_model_as_it_was(
    solver: str, max_step: float
) -> None:
    model = blowing_up().model(solver=solver, max_step=max_step)
    model.advance(0.5)
    before = (model.time, model.state())
    with pytest.raises(SimulationError) as info:
        model.advance(1.0)  # passes t = 1 s
    assert info.value.code == "SimulationDiverged"
    assert "'rocket'" in str(info.value)
    assert "t=0.5 s" in str(info.value)
    assert (model.time, model.state()) == before
    model.advance(0.25)  # the model is still usable
    assert model.outputs()["y"] == pytest.approx(1 / (1 - 0.75), rel=1e-3)


def test_a_diverging_fleet_keeps_every_member_as_it_was() -> None:
    fleet = blowing_up().fleet(["safe", "doomed"], solver="rk4", max_step=0.05)
    fleet.set_state({"safe.y": 0.1})
    before = fleet.state_array()
    with pytest.raises(SimulationError, match="diverged") as info:
        fleet.advance(1.5)
    assert info.value.code == "SimulationDiverged"
    assert "the state of 1 of 2 members (doomed) is not finite" in str(info.value)
    assert np.array_equal(fleet.state_array(), before)
    assert fleet.time == 0.0


def _raising(t: float, x: FloatArray, u: FloatArray, p: FloatArray) -> Any:
    if t > 1.0:
        raise RuntimeError("sensor table missing")
    return -x


@pytest.mark.parametrize("solver", ["rk4", "RK45"])
def test_an_exception_in_the_rhs_becomes_a_simulation_error(solver: str) -> None:
    system = OdeSystem(
        ModelDescription("fragile", states=(Variable("y", 1.0),), outputs=(Variable("y"),)),
        rhs=_raising,
        outputs=lambda t, x, u, p: (x[0],),
    )
    model = system.model(solver=solver, max_step=0.5)
    model.advance(1.0)
    before = model.state()
    with pytest.raises(SimulationError, match="RuntimeError: sensor table missing") as info:
        model.advance(1.0)
    assert "'fragile'" in str(info.value)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert model.state() == before
    assert model.time == 1.0


def test_a_wrongly_shaped_rhs_and_outputs_are_reported() -> None:
    description = ModelDescription(
        "sloppy", states=(Variable("a"), Variable("b")), outputs=(Variable("a"), Variable("b"))
    )
    short = OdeSystem(description, lambda t, x, u, p: [1.0], lambda t, x, u, p: (x[0], x[1]))
    with pytest.raises(SimulationError, match="expected"):
        short.model(solver="rk4").advance(1.0)
    few = OdeSystem(description, lambda t, x, u, p: -x, lambda t, x, u, p: (x[0],))
    with pytest.raises(SimulationError, match="1 values for 2 declared outputs"):
        few.model().outputs()

    def broken(t: float, x: FloatArray, u: FloatArray, p: FloatArray) -> Any:
        raise KeyError("nope")

    with pytest.raises(SimulationError, match="outputs function raised"):
        OdeSystem(description, lambda t, x, u, p: -x, broken).model().outputs()


def test_solver_options_are_checked_when_the_model_is_built() -> None:
    assert "rk4" in SOLVERS
    with pytest.raises(SimulationError, match="unknown solver 'euler'"):
        first_order().model(solver="euler")
    with pytest.raises(SimulationError, match="max_step"):
        first_order().model(solver="rk4", max_step=0.0)
    with pytest.raises(SimulationError, match="distinct"):
        first_order().fleet(["a", "a"])
    with pytest.raises(SimulationError, match="at least one"):
        first_order().fleet([])


def test_a_system_without_states_only_moves_time() -> None:
    gain = OdeSystem(
        ModelDescription("gain", inputs=(Variable("x", 2.0),), outputs=(Variable("y"),)),
        rhs=lambda t, x, u, p: x,
        outputs=lambda t, x, u, p: (3.0 * u[0],),
    )
    model = gain.model()
    model.advance(1.0)
    assert (model.time, model.outputs()) == (1.0, {"y": 6.0})


def test_parameters_and_inputs_reach_the_rhs() -> None:
    model = first_order().model(solver="rk4", max_step=1.0)
    model.set_parameters({"gain": 5.0, "tau": 1e-2 * TAU})
    model.set_inputs({"u": -1.0})
    model.advance(TAU)  # a hundred time constants: settled
    assert model.outputs() == pytest.approx({"y": -5.0, "target": -5.0})
    assert isinstance(model, OdeModel)
    assert isinstance(first_order().fleet(1), OdeFleet)


def test_a_restored_model_replays_across_solvers_and_fleets() -> None:
    fleet = motor_system().fleet(4, solver="rk4", max_step=30.0)
    fleet.set_inputs_array("load", [0.2, 0.4, 0.8, 1.0])
    fleet.advance(600.0)
    fork = fleet.snapshot()
    fleet.advance(600.0)
    first = fleet.state_array()
    fleet.restore(fork)
    assert fleet.inputs_array()[0].tolist() == [0.2, 0.4, 0.8, 1.0]
    fleet.advance(600.0)
    assert np.array_equal(fleet.state_array(), first)


def test_a_closed_form_step_is_taken_by_every_solver_and_matches_integration() -> None:
    exact = pump_system()
    assert exact.exact is not None
    integrated = replace(exact, exact=None)
    calls: list[float] = []

    def counted(t: float, dt: float, x: FloatArray, u: FloatArray, p: FloatArray) -> Any:
        calls.append(dt)
        assert exact.exact is not None
        return exact.exact(t, dt, x, u, p)

    one = replace(exact, exact=counted).model("closed", solver="rk4", max_step=1.0)
    reference = integrated.model("reference", solver="RK45", rtol=1e-10, atol=1e-12)
    for model in (one, reference):
        model.set_inputs({"speed": 1200.0})
        model.advance(60.0)
        model.set_inputs({"speed": 1450.0, "cavitation": 0.3})
        model.advance(7.0)
    assert calls == [60.0, 7.0]  # one closed-form step per advance, whatever max_step says
    assert one.outputs()["flow"] == pytest.approx(reference.outputs()["flow"], rel=1e-7)
    # a fleet takes it too, member by member
    fleet = exact.fleet(["a", "b"], solver="rk4", max_step=60.0)
    fleet.set_inputs({"a.speed": 1200.0, "b.speed": 900.0})
    fleet.advance(60.0)
    single = exact.model("b", solver="rk4")
    single.set_inputs({"speed": 900.0})
    single.advance(60.0)
    assert fleet.outputs()["b.flow"] == pytest.approx(single.outputs()["flow"], rel=1e-12)


def test_a_fleet_whose_finite_state_sums_past_the_largest_float_has_not_diverged() -> None:
    """The finite check sums the state first; an overflowing sum of finite values must
    still pass (only a NaN or an infinity is a divergence)."""
    system = OdeSystem(
        ModelDescription("huge", states=(Variable("x", 1e308),), outputs=(Variable("x"),)),
        rhs=lambda t, x, u, p: [0.0 * x[0]],
        outputs=lambda t, x, u, p: (x[0],),
    )
    fleet = system.fleet(3, solver="rk4")
    fleet.advance(1.0)
    assert fleet.output_arrays()["x"].tolist() == [1e308, 1e308, 1e308]


def test_output_arrays_read_before_a_step_keep_their_values() -> None:
    """Outputs that are rows of the state are handed out without a copy: the fleet must
    replace its state on a step, never write into it."""
    fleet = motor_system().fleet(["m1", "m2"], solver="rk4", max_step=60.0)
    fleet.set_inputs_array("load", [0.5, 1.0])
    before = fleet.output_arrays()
    values = {name: array.copy() for name, array in before.items()}
    fleet.advance(600.0)
    fleet.set_state({"m1.winding_temperature": 80.0})
    after = fleet.output_arrays()
    assert after["temperature"][0] == 80.0 and after["temperature"][1] > 25.0
    for name, array in before.items():
        assert np.array_equal(array, values[name]), name
