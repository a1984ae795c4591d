"""Calibration: known parameters are recovered from synthetic noisy data within their
confidence intervals, data come from history resampled to a step, and bad input is
refused with a clear message."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from sim.thermal import TRUE, loss_profile, simulate, thermal_model
from twinsight.core.errors import SimulationError
from twinsight.core.ports import HistoryPoint
from twinsight.hub import Hub
from twinsight.sim.calibration import CalibrationData, calibrate, plot
from twinsight.sim.functions import FunctionModel

SECONDS = 1200
NOISE = 0.3
FITTED = ("r_winding", "c_housing", "r_housing")
WRONG = {"r_winding": 0.08, "c_housing": 2500.0, "r_housing": 0.15}


def _data(seed: int = 3) -> CalibrationData:
    losses = loss_profile(SECONDS)
    winding, housing = simulate(losses)
    noise = np.random.default_rng(seed).normal(0.0, NOISE, (2, SECONDS))
    return CalibrationData(
        np.arange(SECONDS, dtype=float),
        inputs={"loss": losses, "ambient": np.full(SECONDS, 20.0)},
        outputs={
            "windingTemperature": winding + noise[0],
            "housingTemperature": housing + noise[1],
        },
        initial_state={"winding": 20.0, "housing": 20.0},
    )


def test_known_parameters_are_recovered_within_their_confidence_intervals() -> None:
    model = thermal_model(WRONG)
    before = model.snapshot()
    report = calibrate(model, _data(), FITTED)
    assert report.converged, report.message
    for name in FITTED:
        fit = report.parameters[name]
        assert fit.initial == pytest.approx(WRONG[name])
        assert fit.ci_low <= TRUE[name] <= fit.ci_high, (name, fit)
        assert 0 < fit.std_error < 0.05 * TRUE[name]  # tight, not a vacuous interval
        assert fit.ci_high - fit.value == pytest.approx(fit.value - fit.ci_low)
    for output in ("windingTemperature", "housingTemperature"):
        assert report.rmse[output] == pytest.approx(NOISE, rel=0.15)  # down to the noise
        assert report.r2[output] > 0.99
    assert report.iterations >= 1
    assert report.evaluations > report.iterations
    assert report.samples == SECONDS
    assert model.snapshot() == before  # the model is left as it was
    model.set_parameters(report.values())
    assert model.parameters()["r_housing"] == pytest.approx(report.parameters["r_housing"].value)


def test_the_summary_is_plain_data_and_the_report_prints_and_plots() -> None:
    report = calibrate(thermal_model({"r_housing": 0.15}), _data(), ("r_housing",))
    summary = report.summary()
    assert set(summary["parameters"]["r_housing"]) == {"value", "initial", "stdError", "ci95"}
    assert summary["converged"] is True
    assert summary["rmse"]["housingTemperature"] == pytest.approx(report.rmse["housingTemperature"])
    text = str(report)
    assert "r_housing" in text and "RMSE" in text and "95% interval" in text
    png = plot(report)
    assert png.startswith(b"\x89PNG")


def test_data_from_history_are_resampled_to_the_step(hub: Hub) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    losses = loss_profile(SECONDS)
    winding, housing = simulate(losses)
    rng = np.random.default_rng(5)
    points = [  # the motor stood cold, at the ambient temperature, before the run
        HistoryPoint("m1", "loss", "property", start - timedelta(seconds=30), 0.0),
        HistoryPoint("m1", "ambient", "property", start - timedelta(seconds=30), 20.0),
    ]
    points += [  # the set-point changes only when it changes
        HistoryPoint("m1", "loss", "property", start + timedelta(seconds=k), float(losses[k]))
        for k in range(1, SECONDS)
        if losses[k] != losses[k - 1]
    ]
    points += [  # the housing sensor reports every 2 s, the winding one every 3 s
        HistoryPoint("m1", "housing", "telemetry", start + timedelta(seconds=k),
                     float(housing[k] + rng.normal(0, NOISE)))
        for k in range(0, SECONDS, 2)
    ]  # fmt: skip
    points += [
        HistoryPoint("m1", "winding", "telemetry", start + timedelta(seconds=k),
                     float(winding[k] + rng.normal(0, NOISE)))
        for k in range(0, SECONDS, 3)
    ]  # fmt: skip
    hub.history.append(points)
    data = CalibrationData.from_history(
        hub.history,
        "m1",
        start=start,
        end=start + timedelta(seconds=SECONDS),
        step=1.0,
        inputs={"loss": "loss"},
        outputs={"housingTemperature": "housing", "windingTemperature": "winding"},
        states={"housing": "ambient", "winding": "ambient"},
    )
    assert np.array_equal(data.times, np.arange(SECONDS, dtype=float))
    assert np.array_equal(data.inputs["loss"], losses)  # held, not interpolated
    measured = data.outputs["housingTemperature"]
    assert math.isnan(measured[1])  # no value invented between two samples
    assert np.isfinite(measured[::2]).all()
    assert np.isfinite(data.outputs["windingTemperature"]).sum() == SECONDS // 3
    assert data.initial_state == {"housing": 20.0, "winding": 20.0}  # held from before
    report = calibrate(thermal_model(WRONG), data, FITTED)
    for name in FITTED:
        assert report.parameters[name].ci_low <= TRUE[name] <= report.parameters[name].ci_high


def test_a_series_missing_from_history_is_a_clear_error(hub: Hub) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(SimulationError, match="m1/housing"):
        CalibrationData.from_history(
            hub.history, "m1", start=start, end=start + timedelta(hours=1), step=1.0,
            outputs={"housingTemperature": "housing"},
        )  # fmt: skip


def test_unknown_names_are_all_reported() -> None:
    data = CalibrationData(
        np.arange(10.0),
        inputs={"current": np.zeros(10)},
        outputs={"surface": np.zeros(10)},
        initial_state={"rotor": 1.0},
    )
    with pytest.raises(SimulationError) as info:
        calibrate(thermal_model(), data, ("r_housing", "mass"))
    for fragment in ("'mass'", "'current'", "'surface'", "'rotor'", "motor-thermal"):
        assert fragment in info.value.message
    assert len(info.value.details) == 4


def test_no_data_and_too_few_samples_are_refused() -> None:
    empty = CalibrationData(np.arange(5.0), outputs={"housingTemperature": np.full(5, np.nan)})
    with pytest.raises(SimulationError, match="no measured value"):
        calibrate(thermal_model(), empty, ("r_housing",))
    few = CalibrationData(
        np.arange(3.0), outputs={"housingTemperature": np.array([20.0, np.nan, 21.0])}
    )
    with pytest.raises(SimulationError, match="more values than parameters"):
        calibrate(thermal_model(), few, ("r_housing", "c_housing"))
    with pytest.raises(SimulationError, match="no parameter"):
        calibrate(thermal_model(), _data(), ())


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"times": [0.0, 2.0, 1.0]}, "strictly increasing"),
        ({"times": [0.0, 1.0], "outputs": {"y": [1.0]}}, "one value per time"),
        ({"times": [0.0, 1.0], "inputs": {"u": [1.0, math.nan]}}, "missing values"),
        ({"times": [[0.0, 1.0]]}, "one-dimensional"),
    ],
)
def test_malformed_data_are_refused(kwargs: dict, fragment: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(SimulationError, match=fragment):
        CalibrationData(**kwargs)


def test_a_diverging_model_stops_the_calibration_clearly() -> None:
    growth = FunctionModel.from_function(
        "growth",
        lambda t, u, v: {"y": v["x"]},
        parameters={"rate": 50.0},
        states={"x": 1.0},
        outputs=("y",),
        step=lambda t, dt, x, u, p: {"x": x["x"] * (1 + p["rate"] * dt)},
    )
    data = CalibrationData(np.arange(400.0), outputs={"y": np.ones(400)})
    with pytest.raises(SimulationError) as info:
        calibrate(growth, data, ("rate",))
    assert info.value.code == "CalibrationDiverged"
    assert "rate=50" in info.value.message and "'growth'" in info.value.message
    assert growth.state() == {"x": 1.0}  # put back as it was


def test_a_start_value_outside_the_bounds_is_refused() -> None:
    with pytest.raises(SimulationError, match="outside their bounds"):
        calibrate(thermal_model(), _data(), ("r_housing",), initial={"r_housing": 5.0})
