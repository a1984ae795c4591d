"""State estimation: the three Kalman filters keep a thermal model in step with a noisy
housing temperature, recover the unmeasured winding temperature, survive wrong
parameters, refuse outliers, and refuse configurations that do not fit the model."""

from __future__ import annotations

import numpy as np
import pytest

from sim.thermal import TRUE, loss_profile, simulate, thermal_model
from twinsight.core.errors import SimulationError
from twinsight.sim.estimation import (
    EstimatedState,
    EstimatorConfig,
    Measurement,
    StateEstimator,
)
from twinsight.sim.functions import FunctionModel

NOISE = 0.5  # housing sensor noise, standard deviation in K
SECONDS = 900
BURN_IN = 150


def _config(method: str, *extra: EstimatedState, gate: float | None = 0.999) -> EstimatorConfig:
    return EstimatorConfig(
        (
            EstimatedState("winding", q=1e-3, initial_std=30.0, publish_as="windingTemperature"),
            EstimatedState("housing", q=1e-3, initial_std=30.0),
            *extra,
        ),
        (Measurement("housingTemperature", "housingTemperature", r=NOISE**2),),
        method=method,  # type: ignore[arg-type]
        gate=gate,
    )


def _run(
    estimator: StateEstimator,
    losses: np.ndarray,
    measured: np.ndarray,
    *,
    keep: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Filter the samples one by one (the loss of sample k-1 held up to sample k)."""
    out: dict[str, list[float]] = {"winding": [], "housing": [], "winding_std": []}
    for k, z in enumerate(measured):
        if k:
            estimator.model.set_inputs({"loss": float(losses[k - 1])})
            estimator.predict(1.0)
        value = None if keep is not None and not keep[k] else float(z)
        estimator.update({"housingTemperature": value})
        estimates = estimator.estimates()
        out["winding"].append(estimates["winding"].value)
        out["housing"].append(estimates["housing"].value)
        out["winding_std"].append(estimates["winding"].std)
    return {k: np.array(v) for k, v in out.items()}


@pytest.fixture
def truth() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    losses = loss_profile(SECONDS)
    winding, housing = simulate(losses)
    measured = housing + np.random.default_rng(7).normal(0.0, NOISE, SECONDS)
    return losses, winding, housing, measured


@pytest.mark.parametrize("method", ["kf", "ekf", "ukf"])
def test_the_estimate_is_far_better_than_the_sensor(truth, method: str) -> None:  # type: ignore[no-untyped-def]
    losses, _winding, housing, measured = truth
    model = thermal_model(winding=60.0, housing=45.0)  # a wrong start, far off
    result = _run(StateEstimator(model, _config(method)), losses, measured)
    sensor_rmse = np.sqrt(np.mean((measured[BURN_IN:] - housing[BURN_IN:]) ** 2))
    rmse = np.sqrt(np.mean((result["housing"][BURN_IN:] - housing[BURN_IN:]) ** 2))
    assert sensor_rmse == pytest.approx(NOISE, rel=0.15)
    assert rmse < sensor_rmse / 3


@pytest.mark.parametrize("method", ["kf", "ekf", "ukf"])
def test_the_unmeasured_winding_is_recovered_within_its_reported_uncertainty(
    truth, method: str
) -> None:  # type: ignore[no-untyped-def]
    losses, winding, _, measured = truth
    model = thermal_model(winding=60.0, housing=45.0)
    estimator = StateEstimator(model, _config(method))
    result = _run(estimator, losses, measured)
    error = np.abs(result["winding"] - winding)[BURN_IN:]
    within = np.mean(error <= 3 * result["winding_std"][BURN_IN:])
    assert within >= 0.95
    assert result["winding_std"][-1] < result["winding_std"][0] / 10  # it learned
    assert np.max(error) < 2.0  # and 3 sigma is not a loose excuse: it is close
    # the virtual sensor is what gets published, and the model runs on from the estimate
    sensors = estimator.virtual_sensors()
    assert sensors["windingTemperature"] == pytest.approx(result["winding"][-1])
    assert sensors["windingTemperatureStd"] == pytest.approx(result["winding_std"][-1])
    assert model.state()["winding"] == pytest.approx(result["winding"][-1])
    assert model.time == pytest.approx(SECONDS - 1)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["ekf", "ukf"])
def test_a_wrong_parameter_is_estimated_alongside_the_states(truth, method: str) -> None:  # type: ignore[no-untyped-def]
    losses, winding, housing, measured = truth
    wrong = TRUE["r_housing"] * 1.6
    model = thermal_model({"r_housing": wrong})
    config = _config(method, EstimatedState("r_housing", q=1e-9, initial_std=0.05))
    estimator = StateEstimator(model, config)
    result = _run(estimator, losses, measured)
    estimate = estimator.estimates()["r_housing"]
    assert abs(estimate.value - TRUE["r_housing"]) < abs(wrong - TRUE["r_housing"]) / 5
    assert abs(estimate.value - TRUE["r_housing"]) <= 3 * estimate.std
    assert model.parameters()["r_housing"] == pytest.approx(estimate.value)
    late = slice(SECONDS // 2, None)
    assert np.max(np.abs(result["winding"][late] - winding[late])) < 2.0
    assert np.sqrt(np.mean((result["housing"][late] - housing[late]) ** 2)) < NOISE / 2


def test_without_a_filter_the_wrong_model_drifts_away(truth) -> None:  # type: ignore[no-untyped-def]
    """The control experiment for the test above: the same wrong model run open loop."""
    losses, _, housing, _ = truth
    _, open_loop = simulate(losses, parameters={"r_housing": TRUE["r_housing"] * 1.6})
    assert np.max(np.abs(open_loop - housing)) > 5.0


@pytest.mark.parametrize("method", ["kf", "ekf", "ukf"])
def test_outliers_are_refused_and_counted(truth, method: str) -> None:  # type: ignore[no-untyped-def]
    losses, _, housing, measured = truth
    spikes = np.arange(200, SECONDS, 97)
    corrupted = measured.copy()
    corrupted[spikes] += np.where(np.arange(spikes.size) % 2, 25.0, -40.0)
    estimator = StateEstimator(thermal_model(), _config(method))
    result = _run(estimator, losses, corrupted)
    assert estimator.rejected["housingTemperature"] >= spikes.size
    assert estimator.rejected["housingTemperature"] <= spikes.size + 3  # few false alarms
    assert (
        estimator.accepted["housingTemperature"]
        == SECONDS - estimator.rejected["housingTemperature"]
    )
    assert np.max(np.abs(result["housing"][BURN_IN:] - housing[BURN_IN:])) < 1.0
    # with the gate off, the same spikes pull the estimate away
    ungated = _run(StateEstimator(thermal_model(), _config(method, gate=None)), losses, corrupted)
    assert np.max(np.abs(ungated["housing"][BURN_IN:] - housing[BURN_IN:])) > 2.0


def test_missing_samples_predict_only_and_widen_the_uncertainty(truth) -> None:  # type: ignore[no-untyped-def]
    losses, _winding, housing, measured = truth
    keep = np.ones(SECONDS, dtype=bool)
    keep[500:560] = False  # the sensor drops out for a minute
    estimator = StateEstimator(thermal_model(), _config("ukf"))
    result = _run(estimator, losses, measured, keep=keep)
    std = result["winding_std"]
    assert std[559] > std[499] * 1.5  # less and less sure while blind
    assert std[600] < std[559]  # and sure again once data returns
    assert np.max(np.abs(result["housing"][500:560] - housing[500:560])) < 1.5
    assert estimator.update({}).missing == ("housingTemperature",)
    assert estimator.update({"housingTemperature": float("nan")}).accepted == ()


def test_the_linear_filter_needs_a_linear_model() -> None:
    black_box = FunctionModel.from_function(
        "black-box",
        lambda t, u, v: {"y": v["x"]},
        states={"x": 0.0},
        outputs=("y",),
        step=lambda t, dt, x, u, p: {"x": x["x"]},
    )
    config = EstimatorConfig(
        (EstimatedState("x", q=1.0),), (Measurement("y", "y", r=1.0),), method="kf"
    )
    with pytest.raises(SimulationError, match="state_space"):
        StateEstimator(black_box, config)
    partial = EstimatorConfig(
        (EstimatedState("winding", q=1.0),),
        (Measurement("h", "housingTemperature", r=1.0),),
        method="kf",
    )
    with pytest.raises(SimulationError, match="exactly the model's states"):
        StateEstimator(thermal_model(), partial)


def test_names_the_model_does_not_have_are_all_reported() -> None:
    config = EstimatorConfig.from_dict(
        {
            "states": {"rotor": {"q": 1.0}, "winding": {"q": 1.0}},
            "measurements": {"t": {"output": "surfaceTemperature", "r": 1.0}},
            "inputs": {"current": "amps"},
        }
    )
    with pytest.raises(SimulationError) as info:
        StateEstimator(thermal_model(), config)
    message = info.value.message
    for name in ("'rotor'", "'surfaceTemperature'", "'amps'", "motor-thermal"):
        assert name in message
    assert len(info.value.details) == 3


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"states": {}, "measurements": {"a": {"output": "b", "r": 1}}}, "no state"),
        ({"states": {"a": {"q": 1}}, "measurements": {}}, "no measurement"),
        ({"states": {"a": {"q": -1}}, "measurements": {"m": {"output": "o", "r": 1}}}, "q"),
        ({"states": {"a": {"q": 1}}, "measurements": {"m": {"output": "o", "r": 0}}}, "r must"),
        (
            {
                "states": {"a": {"q": 1}},
                "measurements": {"m": {"output": "o", "r": 1}},
                "method": "particle",
            },
            "method",
        ),
        (
            {"states": {"a": {"q": 1}}, "measurements": {"m": {"output": "o", "r": 1}}, "gate": 3},
            "gate",
        ),
        ({"states": {"a": {"q": 1, "colour": 2}}, "measurements": {}}, "colour"),
        ({"states": {"a": {"q": 1}}, "measurements": {}, "filter": "x"}, "filter"),
    ],
)
def test_a_bad_configuration_is_refused_clearly(data: dict, fragment: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(SimulationError, match=fragment):
        EstimatorConfig.from_dict(data)


def test_unknown_measurement_names_and_backwards_steps_are_refused() -> None:
    estimator = StateEstimator(thermal_model(), _config("ekf"))
    with pytest.raises(SimulationError, match="unknown measurement 'housingTemp'"):
        estimator.update({"housingTemp": 20.0})
    with pytest.raises(SimulationError, match="positive"):
        estimator.predict(-1.0)
    estimator.predict(0.0)  # two samples at one time: nothing to predict
    assert estimator.time == 0.0
