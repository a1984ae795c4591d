"""The example of docs/estimation.md: a motor's winding temperature estimated from its
housing temperature, then the thermal model calibrated from the same kind of data.

Run from the repository root: ``.venv/bin/python docs/estimation_example.py``. It prints
what the document shows and writes docs/img/estimation.png and docs/img/calibration.png.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from twinsight.sim.calibration import CalibrationData, calibrate, plot
from twinsight.sim.estimation import (
    EstimatorConfig,
    StateEstimator,
    StateSpaceModel,
)
from twinsight.sim.model import ModelDescription, Variable

IMG = Path(__file__).parent / "img"


def thermal(r_housing: float = 0.1, c_housing: float = 4000.0) -> StateSpaceModel:
    """Winding (500 J/K) -> 0.05 K/W -> housing (C_h) -> R_h -> ambient air."""

    def matrices(p):  # type: ignore[no-untyped-def]
        cw, rw, ch, rh = p["c_winding"], p["r_winding"], p["c_housing"], p["r_housing"]
        a = [[-1 / (rw * cw), 1 / (rw * cw)], [1 / (rw * ch), -(1 / rw + 1 / rh) / ch]]
        return a, [[1 / cw, 0], [0, 1 / (rh * ch)]], np.eye(2), np.zeros((2, 2))

    return StateSpaceModel(
        ModelDescription(
            "motor-thermal",
            parameters=(
                Variable("c_winding", 500.0, "J/K", min=10, max=1e5),
                Variable("r_winding", 0.05, "K/W", min=1e-3, max=1),
                Variable("c_housing", c_housing, "J/K", min=10, max=1e6),
                Variable("r_housing", r_housing, "K/W", min=1e-3, max=1),
            ),
            states=(Variable("winding", 20.0, "degC"), Variable("housing", 20.0, "degC")),
            inputs=(Variable("loss", 0.0, "W", min=0), Variable("ambient", 20.0, "degC")),
            outputs=(Variable("windingTemperature", unit="degC"),
                     Variable("housingTemperature", unit="degC")),
        ),
        matrices,
    )  # fmt: skip


# --- synthetic "plant" data: a duty cycle, the true model, a noisy housing sensor
seconds = 1200
t = np.arange(seconds, dtype=float)
loss = np.select([t < 60, t < 400, t < 700], [0.0, 500.0, 200.0], 450.0)
plant = thermal()
truth = []
for k in range(seconds):
    truth.append(plant.outputs())
    plant.set_inputs({"loss": loss[k]})
    plant.advance(1.0)
winding = np.array([o["windingTemperature"] for o in truth])
housing = np.array([o["housingTemperature"] for o in truth])
rng = np.random.default_rng(1)
measured = housing + rng.normal(0.0, 0.5, seconds)
measured[[300, 650, 1000]] += [15.0, -20.0, 12.0]  # three bad readings

# --- estimation: only the housing is measured; the model's R_h is 50 % wrong
config = EstimatorConfig.from_dict(
    {
        "method": "ukf",
        "states": {
            "winding": {"q": 1e-3, "initial_std": 20, "publish_as": "windingTemperature"},
            "housing": {"q": 1e-3, "initial_std": 20},
            "r_housing": {"q": 1e-9, "initial_std": 0.05},
        },
        "measurements": {"housingTemperature": {"output": "housingTemperature", "r": 0.25}},
        "inputs": {"loss": "loss"},
    }
)
model = thermal(r_housing=0.15)
estimator = StateEstimator(model, config)
est, std = [], []
for k in range(seconds):
    if k:
        model.set_inputs({"loss": loss[k - 1]})
        estimator.predict(1.0)
    estimator.update({"housingTemperature": measured[k]})
    sensors = estimator.virtual_sensors()
    est.append(sensors["windingTemperature"])
    std.append(sensors["windingTemperatureStd"])
est_a, std_a = np.array(est), np.array(std)
late = slice(300, None)
print("winding RMSE after 5 min:", round(float(np.sqrt(np.mean((est_a - winding)[late] ** 2))), 3))
print("within 3 sigma:", round(float(np.mean(np.abs(est_a - winding)[late] <= 3 * std_a[late])), 3))
r_h = estimator.estimates()["r_housing"]
print(f"r_housing estimate: {r_h.value:.4f} ± {r_h.std:.4f} K/W (true 0.1, model said 0.15)")
print("rejected outliers:", estimator.rejected)
print("virtual sensors now:", {k: round(v, 3) for k, v in estimator.virtual_sensors().items()})

figure = Figure(figsize=(9, 4.2), layout="constrained")
ax = figure.subplots()
ax.plot(t / 60, measured, ".", color="#9ca3af", markersize=2, label="housing, measured")
ax.plot(t / 60, est_a, color="#2563eb", linewidth=2.2, label="winding, virtual sensor (UKF)")
ax.plot(t / 60, winding, "--", color="#111827", linewidth=1, label="winding, true (never measured)")
ax.fill_between(t / 60, est_a - 3 * std_a, est_a + 3 * std_a, color="#2563eb", alpha=0.2,
                linewidth=0, label="± 3 std")  # fmt: skip
ax.set_ylim(15, 90)
ax.set_xlabel("minutes")
ax.set_ylabel("°C")
ax.legend(loc="lower right", fontsize=8)
ax.grid(True, alpha=0.3)
figure.savefig(IMG / "estimation.png", dpi=100)

# --- calibration: both temperatures recorded on a test bench, three parameters wrong
noisy = rng.normal(0.0, 0.3, (2, seconds))
data = CalibrationData(
    t,
    inputs={"loss": loss},
    outputs={"windingTemperature": winding + noisy[0], "housingTemperature": housing + noisy[1]},
    initial_state={"winding": 20.0, "housing": 20.0},
)
candidate = thermal(r_housing=0.15, c_housing=2500.0)
report = calibrate(candidate, data, ["r_winding", "c_housing", "r_housing"])
print(report)
plot(report, IMG / "calibration.png")
