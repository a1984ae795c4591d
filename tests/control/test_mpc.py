"""Model-predictive control: statuses, refusals, surrogates checked against the full
models, and the two worked cases beating their baselines on a short run."""

from __future__ import annotations

import numpy as np
import pytest

from twinsight.control import mpc_line, mpc_zone
from twinsight.control.mpc import (
    Band,
    Limit,
    LinearModel,
    discretise,
    solve_linear,
    solve_nonlinear,
)
from twinsight.sim.physics.zone import zone_system


def _room() -> LinearModel:
    return LinearModel(
        A=np.array([[0.9]]), B=np.array([[1.0]]), E=np.zeros((1, 0)), c=np.array([1.0]),
        states=("t",), controls=("heat",), disturbances=(), dt=3600.0,
    )  # fmt: skip


def test_an_lp_keeps_the_band_at_least_cost() -> None:
    result = solve_linear(
        _room(), {"t": 10.0}, horizon=4, cost=[1.0, 5.0, 5.0, 5.0], lower=[0.0], upper=[5.0],
        bands=[Band("t", lower=12.0)],
    )  # fmt: skip
    assert result.status == "optimal" and result.acts
    assert result.moves is not None
    assert np.all(result.predicted["t"] >= 12.0 - 1e-6)
    # Heat is five times dearer after the first hour and decays by only 10 % an hour:
    # the LP pre-heats, buying everything in the cheap hour, so that the room just
    # reaches 12 at the end: u0 = (12 - 10 + 10 * (1 / 0.9**3 - 1)) ... i.e. 0.9^3 t1 + 2.71 = 12.
    assert result.moves[1:, 0] == pytest.approx([0.0, 0.0, 0.0], abs=1e-9)
    assert result.predicted["t"][-1] == pytest.approx(12.0)
    assert result.first_move() == pytest.approx({"heat": result.moves[0, 0]})


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"horizon": 0}, "horizon must be at least 1"),
        ({"lower": [5.0], "upper": [1.0]}, "min 5 > max 1"),
        ({"lower": [0.0, 1.0]}, "one min and one max per control"),
        ({"bands": [Band("humidity", lower=1.0)]}, "names no state"),
    ],
)
def test_a_bad_linear_problem_is_invalid_and_yields_no_action(
    kwargs: dict[str, object], reason: str
) -> None:
    arguments: dict[str, object] = {
        "horizon": 3, "cost": [1.0, 1.0, 1.0], "lower": [0.0], "upper": [5.0],
    }  # fmt: skip
    arguments.update(kwargs)
    if arguments["horizon"] == 0:
        arguments["cost"] = []
    result = solve_linear(_room(), {"t": 10.0}, **arguments)  # type: ignore[arg-type]
    assert result.status == "invalid"
    assert reason in result.message and reason in result.constraint
    assert result.first_move() is None and not result.acts


def test_an_infeasible_band_names_the_constraint_and_yields_no_action() -> None:
    result = solve_linear(
        _room(), {"t": 10.0}, horizon=3, cost=[1.0] * 3, lower=[0.0], upper=[1.0],
        bands=[Band("t", lower=[11.0, 30.0, 11.0], label="room temperature")],
    )  # fmt: skip
    assert result.status == "infeasible"
    assert result.first_move() is None and result.moves is None
    assert "room temperature >= 30 at step 2" in result.constraint
    assert "infeasible" in result.message.lower()


def test_a_soft_band_is_solved_and_its_shortfall_priced() -> None:
    result = solve_linear(
        _room(), {"t": 10.0}, horizon=2, cost=[1.0, 1.0], lower=[0.0], upper=[1.0],
        bands=[Band("t", lower=30.0, penalty=10.0)],
    )  # fmt: skip
    assert result.status == "optimal"
    assert result.first_move() == {"heat": 1.0}
    assert result.objective is not None and result.objective > 10.0 * 19


def test_the_zone_surrogate_matches_the_full_model() -> None:
    """The exact discretisation of the zone equals SciPy's integration of the full model
    under the same piecewise-constant inputs, to within solver tolerance."""
    case = mpc_zone.ZoneCase()
    model = mpc_zone.surrogate(case)
    full = zone_system().model()
    full.set_state({"temperature": 18.0, "mass_temperature": 15.0})
    rng = np.random.default_rng(1)
    x = np.array([18.0, 15.0])
    worst = 0.0
    for _ in range(96):
        heat, outdoor, gain = rng.uniform(0, 6), rng.uniform(-10, 10), rng.uniform(0, 1)
        full.set_inputs({"hvac_heat": heat, "outdoor_temperature": outdoor, "internal_gain": gain})
        full.advance(case.control_interval)
        d = np.zeros(len(model.disturbances))
        d[model.disturbances.index("outdoor_temperature")] = outdoor
        d[model.disturbances.index("internal_gain")] = gain
        x = model.A @ x + model.B @ [heat] + model.E @ d + model.c
        state = full.state()
        worst = max(worst, abs(x[0] - state["temperature"]), abs(x[1] - state["mass_temperature"]))
    assert worst < 1e-3


def test_discretise_refuses_an_unknown_control() -> None:
    with pytest.raises(ValueError, match="no input"):
        discretise(zone_system(), {}, ["boiler"], 900.0)


def test_the_zone_band_narrower_than_the_hvac_can_hold_is_infeasible() -> None:
    case = mpc_zone.ZoneCase(heat_max=1.0)
    model = mpc_zone.surrogate(case)
    outdoor = np.zeros((8, len(model.disturbances)))
    outdoor[:, model.disturbances.index("outdoor_temperature")] = -10.0
    result = solve_linear(
        model, {"temperature": 18.0, "mass_temperature": 15.0}, horizon=8,
        cost=[0.1] * 8, lower=[0.0], upper=[case.heat_max],
        bands=[Band("temperature", lower=21.0, upper=21.5, label="comfort")],
        disturbances=outdoor,
    )  # fmt: skip
    assert result.status == "infeasible"
    assert result.constraint.startswith("comfort >= 21 at step 1")
    assert result.first_move() is None


def test_nonlinear_statuses() -> None:
    def predict(moves: np.ndarray) -> dict[str, np.ndarray]:
        return {"y": moves[:, 0] ** 2}

    def objective(moves: np.ndarray, prediction: object) -> float:
        return -float(np.sum(moves))

    kwargs: dict[str, object] = {"controls": ["u"], "horizon": 3, "lower": [0.0], "upper": [5.0]}
    best = solve_nonlinear(predict, objective, limits=[Limit("y", 4.0)], **kwargs)  # type: ignore[arg-type]
    assert best.status == "optimal"
    assert best.moves is not None and best.moves[:, 0] == pytest.approx([2.0] * 3, abs=1e-3)
    impossible = solve_nonlinear(
        predict,
        objective,
        limits=[Limit("y", -1.0, "square")],
        **kwargs,  # type: ignore[arg-type]
    )
    assert impossible.status == "infeasible" and impossible.first_move() is None
    assert impossible.constraint.startswith("square <= -1")
    typo = solve_nonlinear(predict, objective, limits=[Limit("z", 1.0)], **kwargs)  # type: ignore[arg-type]
    assert typo.status == "invalid" and "'z'" in typo.message
    for bad, reason in (({"horizon": 0}, "horizon"), ({"lower": [6.0]}, "min 6 > max 5")):
        result = solve_nonlinear(predict, objective, **{**kwargs, **bad})  # type: ignore[arg-type]
        assert result.status == "invalid" and reason in result.message
        assert result.first_move() is None


def test_the_motor_surrogate_tracks_the_full_model() -> None:
    """Hourly speeds on the 300-s RK4 surrogate against the plant's adaptive RK45 at
    60-s steps with the same ambient: the winding within 0.5 K at every hour's end, the
    wear of the six hours within 5 % (an hour after a slow-down within 25 %: the surrogate
    takes the drive's ramp as instant, and little wear is made then)."""
    case = mpc_line.LineCase()
    speeds = np.array([1500.0, 1700.0, 1200.0, 1800.0, 1400.0, 1600.0])
    ambient = np.array([25.0, 28.0, 31.0, 33.0, 30.0, 27.0])
    state = {"winding_temperature": 80.0, "housing_temperature": 60.0, "wear": 0.0,
             "drive_speed": 1500.0}  # fmt: skip
    _, ends, wear = mpc_line._surrogate_run(
        case, state, speeds, ambient, mpc_line._motor("rk4", 300.0)
    )
    full = mpc_line._motor()
    full.set_state(state)
    for k, (speed, hall) in enumerate(zip(speeds, ambient, strict=True)):
        before = full.state()["wear"]
        for _ in range(60):
            drive = full.state()["drive_speed"]
            full.set_inputs({"load": float(mpc_line.load_at(case, drive)),
                             "ambient_temperature": hall, "speed_setpoint": speed})  # fmt: skip
            full.advance(60.0)
        assert abs(full.state()["winding_temperature"] - ends[k]) < 0.5
        assert full.state()["wear"] - before == pytest.approx(wear[k], rel=0.25)
    assert full.state()["wear"] == pytest.approx(wear.sum(), rel=0.05)


def test_a_temperature_limit_below_ambient_is_infeasible() -> None:
    case = mpc_line.LineCase(temperature_limit=25.0, back_off=0.0)
    state = {"winding_temperature": 90.0, "housing_temperature": 70.0, "wear": 0.0,
             "drive_speed": 1500.0}  # fmt: skip
    result = mpc_line.plan(case, state, np.full(case.horizon, 30.0))
    assert result.status == "infeasible"
    assert result.constraint.startswith("winding temperature <= 25")
    assert result.first_move() is None


def test_the_page_examples_run() -> None:
    import doctest

    from support import REPO

    result = doctest.testfile(
        str(REPO / "docs" / "control-mpc.md"), module_relative=False, encoding="utf-8"
    )
    assert result.attempted >= 6 and result.failed == 0
