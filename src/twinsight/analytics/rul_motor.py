"""Remaining useful life of the factory's motors, learnt from simulated run-to-failure
histories of the motor physics itself.

The C-MAPSS model (:mod:`twinsight.analytics.rul`) knows turbofans; a motor's history
looks nothing like one. But a twin can make its own training data: this module runs many
motors of :func:`twinsight.sim.physics.motor.motor_system` — each with its own rated life,
ambient, speed set-point and a load that changes from one period of its life to the next —
until their bearings fail, records their sensors as the demo's devices see them, and
trains the same pipeline (per-condition standardisation, window means and slopes,
gradient-boosted trees) on them, with an interval.

**Failure** is the bearing's wear reaching 1: its rated life consumed (Miner's rule, see
the motor's docstring), where its vibration reaches ``vibration_worn`` (7.1 mm/s, the
ISO 10816 "unacceptable" limit for a small machine).

**Run to failure, quickly.** A motor lives 10⁴–10⁶ hours; its temperatures settle within
an hour or two. So each period of :data:`PERIOD_HOURS` at one load is simulated for real
(the physics on the fleet, RK4 at 60-s steps) for a few hours until its temperatures
settle, the wear rate of the last hour is measured, and the wear is carried forward at
that rate over the rest of the period (the rate is constant while the load is). The
failure time is where the wear crosses 1, interpolated within its period.

**What the model sees** is what the live twin records: the means over 10-minute cycles
(:data:`CYCLE_SECONDS`) of ``vibration``, ``windingTemperature`` and ``speed``, with the
devices' noise. Training rows are segments of :data:`SEGMENT_CYCLES` cycles (8 hours) taken
at random ages of each motor's life, simulated from that age's wear (a motor's history on
a twin starts long after it was new, so its age is not a feature). The target is the RUL
in hours, capped at :data:`RUL_CAP_HOURS` (beyond it the sensors cannot tell one life from
another, as with C-MAPSS's 125 cycles), learnt on a log scale because lives span two
orders of magnitude.

**The interval** comes from quantile gradient boosting at 10 % and 90 % (and the point
prediction is the median, 50 %): it says how far the same sensor readings can be from
failure, given how the load may change and how lives scatter. Quantile trees tend to be
over-confident, so the interval is then conformalised (conformalized quantile regression,
Romano et al. 2019): on simulated motors kept apart for it, both ends are moved out (or
in) by the margin, in log hours, that makes 80 % of those motors' true RUL fall inside.
Its coverage is measured on yet other held-out motors (:func:`evaluate`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from twinsight.analytics.rul import Array, Fleet, IntArray, Normaliser, features, rmse
from twinsight.sim.physics.motor import motor_system

HOUR = 3600.0
CYCLE_SECONDS = 600.0
"""One cycle of the model: the mean of 10 minutes of a sensor."""
SEGMENT_CYCLES = 48
"""Cycles of history a prediction looks at (8 hours)."""
WINDOWS = (6, 18, 48)
"""Cycles (1, 3 and 8 hours) over which window means and slopes are taken."""
RUL_CAP_HOURS = 500_000.0
PERIOD_HOURS = 10_000.0
"""Hours a simulated motor runs at one load before its load changes."""
HORIZON_HOURS = 1_000_000.0
COLD_START_SHARE = 0.25
"""Share of training histories that begin with the motor starting from cold."""
LOAD_SPREAD = 0.05
"""Standard deviation of a period's load around the motor's own level: a pump's duty
drifts a little from one year to the next. The wear rate goes with the cube of the load
and doubles per 10 K, so this spread alone moves a period's wear rate by about ±30 %."""
QUANTILES = (0.1, 0.5, 0.9)
SENSORS: tuple[tuple[str, str], ...] = (
    ("vibration", "mm/s"),
    ("windingTemperature", "degreeCelsius"),
    ("speed", "revolutionPerMinute"),
)
"""Telemetry the model reads, in the units it was trained in."""
NOISE = (0.05, 0.3, 2.0)
"""The demo devices' noise (one standard deviation) of each sensor."""
DEVICE_PERIOD = 5.0
STOPPED_RPM = 100.0
"""Cycles with a mean speed under this are a stopped motor and are left out."""
_OUTPUT = {"vibration": "vibration", "windingTemperature": "temperature", "speed": "speed"}

Progress = Callable[[str, int, int], None]
"""``(stage, done, total)``: how far training is (for a progress bar)."""


@dataclass(frozen=True)
class MotorRuns:
    """Simulated histories: segments of cycles as one :class:`Fleet` (each segment a unit)
    and each row's true RUL in hours (capped), with the motor each segment came from."""

    fleet: Fleet
    target: Array
    motor: IntArray  # per unit (segment), the simulated motor's index
    failure_hours: Array  # per motor; inf when it outlived the horizon


def _fleet_model(n: int, rng: np.random.Generator) -> Any:
    # 120-s steps: stable for the winding (150 s) and the housing; the drive's 25-s speed
    # loop is at rest (the drive starts at its set-point, which never changes).
    model = motor_system().fleet(n, name="training-motors", solver="rk4", max_step=120.0)
    model.set_parameters_array("rated_life", 40_000.0 * np.exp(rng.normal(0.0, 0.25, n)))
    model.set_inputs_array("ambient_temperature", rng.uniform(10.0, 35.0, n))
    setpoint = rng.uniform(1300.0, 1700.0, n)
    model.set_inputs_array("speed_setpoint", setpoint)
    state = model.state_array()
    state[3] = setpoint  # the drive already at speed
    model.set_state_array(state)
    return model


def _loads(base: Array, rng: np.random.Generator) -> Array:
    clipped: Array = np.clip(base + rng.normal(0.0, LOAD_SPREAD, len(base)), 0.2, 1.1)
    return clipped


def run_to_failure(
    n: int, rng: np.random.Generator, progress: Progress | None = None
) -> tuple[Any, Array, Array, Array]:
    """Simulate ``n`` new motors until their bearings fail (or the horizon).

    Returns the fleet (its parameters and inputs are each motor's), each motor's failure
    time in hours (``inf`` past the horizon), and per period its start and load, so a
    segment can be re-simulated at any age: ``(model, failure, wear_at_period_start, loads)``.
    """
    model = _fleet_model(n, rng)
    base = rng.uniform(0.35, 1.0, n)
    periods = int(HORIZON_HOURS // PERIOD_HOURS)
    wear_start = np.zeros((periods + 1, n))
    loads = np.zeros((periods, n))
    failure = np.full(n, math.inf)
    for k in range(periods):
        loads[k] = _loads(base, rng)
        model.set_inputs_array("load", loads[k])
        model.advance(HOUR)  # temperatures settle after the load change
        before = model.state_array()[2].copy()
        model.advance(HOUR / 2)
        state = model.state_array()
        rate = 2.0 * (state[2] - before)  # per hour, at this period's load
        start = wear_start[k]
        end = start + rate * PERIOD_HOURS
        crossing = (end >= 1.0) & ~np.isfinite(failure)
        with np.errstate(divide="ignore", invalid="ignore"):
            failure[crossing] = k * PERIOD_HOURS + (1.0 - start[crossing]) / rate[crossing]
        wear_start[k + 1] = end
        state[2] = np.minimum(end, 5.0)  # the state's bound; past 1 the motor has failed
        model.set_state_array(state)
        if progress is not None:
            progress("run to failure", k + 1, periods)
        if np.isfinite(failure).all():
            break
    return model, failure, wear_start, loads


def simulate(
    motors: int,
    *,
    seed: int = 0,
    segments_per_motor: int = 12,
    progress: Progress | None = None,
) -> MotorRuns:
    """Run ``motors`` simulated motors to failure and record ``segments_per_motor`` 8-hour
    sensor histories of each, at random ages before it failed."""
    rng = np.random.default_rng(seed)
    lives, failure, wear_start, loads = run_to_failure(motors, rng, progress)
    parameters = lives.parameters_array()
    inputs = lives.inputs_array()
    lives.close()
    # Ages (hours) at which segments start: before failure, and early enough that the
    # capped target is known (a motor not failed by the horizon has >= cap left there).
    last = np.minimum(failure, HORIZON_HOURS - RUL_CAP_HOURS)
    ages = rng.uniform(0.0, 1.0, (motors, segments_per_motor)) * last[:, None]
    motor_of = np.repeat(np.arange(motors), segments_per_motor)
    age = ages.reshape(-1)
    period = np.minimum((age // PERIOD_HOURS).astype(np.int64), len(loads) - 1)
    in_period = age - period * PERIOD_HOURS
    next_wear = wear_start[period + 1, motor_of]
    this_wear = wear_start[period, motor_of]
    wear = this_wear + (next_wear - this_wear) * in_period / PERIOD_HOURS
    load = loads[period, motor_of]
    n = len(age)
    system = motor_system()
    segment = system.fleet(n, name="training-segments", solver="rk4", max_step=60.0)
    for row, variable in enumerate(system.description.parameters):
        segment.set_parameters_array(variable.name, parameters[row, motor_of])
    for row, variable in enumerate(system.description.inputs):
        segment.set_inputs_array(variable.name, inputs[row, motor_of])
    segment.set_inputs_array("load", load)
    state = segment.state_array()
    state[0] = state[1] = inputs[2, motor_of] + 40.0  # warm, then settled below
    state[2] = np.clip(wear, 0.0, 5.0)
    state[3] = inputs[3, motor_of]
    segment.set_state_array(state)
    segment.advance(2 * HOUR)
    # Some histories begin as the motor starts from cold (a restart, a twin's first hours):
    # its temperatures then climb for an hour, which must not read as a light duty.
    cold = rng.uniform(0.0, 1.0, n) < COLD_START_SHARE
    state = segment.state_array()
    state[0, cold] = state[1, cold] = inputs[2, motor_of][cold]
    segment.set_state_array(state)
    samples = CYCLE_SECONDS / DEVICE_PERIOD
    sensors = np.zeros((SEGMENT_CYCLES, n, len(SENSORS)))
    steps = int(CYCLE_SECONDS // 60.0)
    for c in range(SEGMENT_CYCLES):
        acc = np.zeros((n, len(SENSORS)))
        for _ in range(steps):
            segment.advance(60.0)
            out = segment.output_arrays()
            for j, (name, _) in enumerate(SENSORS):
                acc[:, j] += out[_OUTPUT[name]]
        mean = acc / steps
        noise = rng.normal(0.0, 1.0, mean.shape) * np.asarray(NOISE) / math.sqrt(samples)
        sensors[c] = np.maximum(mean + noise, 0.0)
        if progress is not None:
            progress("sensor histories", c + 1, SEGMENT_CYCLES)
    segment.close()
    # Rows ordered unit (segment) by unit, cycle by cycle, as Fleet wants them.
    unit = np.repeat(np.arange(n, dtype=np.int64), SEGMENT_CYCLES)
    cycle = np.tile(np.arange(1, SEGMENT_CYCLES + 1, dtype=np.int64), n)
    values = sensors.transpose(1, 0, 2).reshape(-1, len(SENSORS))
    hours = age[unit] + 2.0 + cycle * CYCLE_SECONDS / HOUR
    target = np.minimum(failure[motor_of][unit] - hours, RUL_CAP_HOURS)
    fleet = Fleet(unit=unit, cycle=cycle, settings=np.zeros((len(unit), 1)), sensors=values)
    return MotorRuns(fleet, np.maximum(target, 0.0), motor_of, failure)


@dataclass
class MotorRulModel:
    """Normaliser plus one quantile gradient-boosting model per quantile (10/50/90 %), on
    log hours; trained from :class:`MotorRuns`."""

    max_iter: int = 200
    learning_rate: float = 0.08
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 40
    threads: int = 1
    sensors: tuple[tuple[str, str], ...] = SENSORS
    cycle_seconds: float = CYCLE_SECONDS
    cap_hours: float = RUL_CAP_HOURS
    normaliser: Normaliser = field(default_factory=Normaliser)
    models: list[HistGradientBoostingRegressor] = field(default_factory=list)
    margin: float = 0.0
    """Log-hours the 10/90 % ends are moved out by (conformal calibration)."""

    def features(self, fleet: Fleet) -> Array:
        return features(fleet, self.normaliser, age=False, windows=WINDOWS)

    def fit(self, runs: MotorRuns, progress: Progress | None = None) -> MotorRulModel:
        self.normaliser = Normaliser().fit(runs.fleet)
        x = self.features(runs.fleet)
        y = np.log1p(runs.target)
        self.models = []
        with threadpool_limits(limits=self.threads):
            for i, q in enumerate(QUANTILES):
                model = HistGradientBoostingRegressor(
                    loss="quantile",
                    quantile=q,
                    max_iter=self.max_iter,
                    learning_rate=self.learning_rate,
                    max_leaf_nodes=self.max_leaf_nodes,
                    min_samples_leaf=self.min_samples_leaf,
                    random_state=i,
                )
                self.models.append(model.fit(x, y))
                if progress is not None:
                    progress("training", i + 1, len(QUANTILES))
        return self

    def _log_quantiles(self, fleet: Fleet) -> Array:
        if not self.models:
            raise RuntimeError("MotorRulModel.predict before fit")
        x = self.features(fleet)
        with threadpool_limits(limits=self.threads):
            each = np.sort(np.array([m.predict(x) for m in self.models], dtype=np.float64), 0)
        return each

    def calibrate(self, runs: MotorRuns, coverage: float = 0.8) -> MotorRulModel:
        """Set :attr:`margin` so that ``coverage`` of ``runs``' true RULs (motors not
        trained on) fall inside the interval (split-conformal quantile regression)."""
        q = self._log_quantiles(runs.fleet)
        y = np.log1p(runs.target)
        scores = np.maximum(q[0] - y, y - q[-1])
        level = min(1.0, coverage * (1.0 + 1.0 / len(scores)))
        self.margin = float(np.quantile(scores, level))
        return self

    def predict_all(self, fleet: Fleet) -> tuple[Array, Array, Array]:
        """``(low, median, high)`` RUL in hours at every row, ordered low <= median <= high."""
        q = self._log_quantiles(fleet)
        low = np.minimum(q[0] - self.margin, q[1])
        high = np.maximum(q[-1] + self.margin, q[1])
        hours = np.clip(np.expm1(np.array([low, q[1], high])), 0.0, self.cap_hours)
        return hours[0], hours[1], hours[2]

    def predict_history(self, sensors: Array) -> tuple[float, float, float]:
        """``(low, median, high)`` hours from one motor's recent cycles (rows oldest first,
        columns :attr:`sensors` in their units)."""
        rows = len(sensors)
        if rows == 0:
            raise ValueError("no cycles of history to predict from")
        fleet = Fleet(
            unit=np.zeros(rows, dtype=np.int64),
            cycle=np.arange(1, rows + 1, dtype=np.int64),
            settings=np.zeros((rows, 1)),
            sensors=np.asarray(sensors, dtype=np.float64),
        )
        low, mid, high = self.predict_all(fleet)
        return float(low[-1]), float(mid[-1]), float(high[-1])


@dataclass(frozen=True)
class Evaluation:
    """How the model does on held-out simulated motors, at each segment's last cycle."""

    rmse_hours: float
    median_abs_error_hours: float
    coverage: float  # share of true RULs within [low, high]
    mean_width_hours: float
    segments: int
    near_rmse_hours: float  # where the true RUL is at most NEAR_FAILURE_HOURS
    near_coverage: float
    near_segments: int

    def metrics(self) -> dict[str, float]:
        """The figures as the registry stores them (the near-failure ones only when some
        held-out history was near failure)."""
        out = {
            "rmse_hours": round(self.rmse_hours, 1),
            "median_abs_error_hours": round(self.median_abs_error_hours, 1),
            "interval_coverage": round(self.coverage, 4),
            "interval_mean_width_hours": round(self.mean_width_hours, 1),
            "held_out_segments": float(self.segments),
            "near_failure_segments": float(self.near_segments),
        }
        if self.near_segments:
            out["near_failure_rmse_hours"] = round(self.near_rmse_hours, 1)
            out["near_failure_interval_coverage"] = round(self.near_coverage, 4)
        return out


NEAR_FAILURE_HOURS = 50_000.0
"""True RUL up to which a held-out history counts as near failure (about six years of
running: when maintenance planning starts to care)."""


def evaluate(model: MotorRulModel, runs: MotorRuns) -> Evaluation:
    """Point error and 10–90 % interval coverage on ``runs`` (motors not trained on)."""
    low, mid, high = model.predict_all(runs.fleet)
    last = runs.fleet.last_rows()
    true = runs.target[last]
    inside = (low[last] <= true + 1e-6) & (true <= high[last] + 1e-6)
    near = true <= NEAR_FAILURE_HOURS
    return Evaluation(
        rmse_hours=rmse(mid[last], true),
        median_abs_error_hours=float(np.median(np.abs(mid[last] - true))),
        coverage=float(np.mean(inside)),
        mean_width_hours=float(np.mean(high[last] - low[last])),
        segments=len(last),
        near_rmse_hours=rmse(mid[last][near], true[near]) if near.any() else math.nan,
        near_coverage=float(np.mean(inside[near])) if near.any() else math.nan,
        near_segments=int(near.sum()),
    )


@dataclass(frozen=True)
class Trained:
    """A trained motor model, its held-out figures and what it was trained on."""

    model: MotorRulModel
    evaluation: Evaluation
    training: dict[str, Any]


def train(
    motors: int = 400,
    *,
    held_out: int = 100,
    seed: int = 0,
    segments_per_motor: int = 12,
    max_iter: int = 200,
    progress: Progress | None = None,
) -> Trained:
    """Simulate ``motors`` motors to train on and ``held_out`` others (another seed) to
    measure on, train, and evaluate."""
    if motors < 10 or held_out < 5:
        raise ValueError(f"train on at least 10 motors and hold out 5 (got {motors}, {held_out})")
    runs = simulate(motors, seed=seed, segments_per_motor=segments_per_motor, progress=progress)
    calibration = simulate(
        max(5, motors // 4), seed=seed + 500_009, segments_per_motor=4, progress=progress
    )
    test = simulate(held_out, seed=seed + 1_000_003, segments_per_motor=4, progress=progress)
    model = MotorRulModel(max_iter=max_iter).fit(runs, progress)
    model.calibrate(calibration)
    evaluation = evaluate(model, test)
    failed = runs.failure_hours[np.isfinite(runs.failure_hours)]
    training = {
        "data": "simulated motors run to failure (twinsight.sim.physics.motor)",
        "motors": motors,
        "held_out_motors": held_out,
        "seed": seed,
        "segments_per_motor": segments_per_motor,
        "rows": len(runs.target),
        "failure": "bearing wear reaches 1 (rated life consumed; vibration 7.1 mm/s)",
        "median_life_hours": round(float(np.median(failed)), 0) if len(failed) else None,
        "cycle_seconds": CYCLE_SECONDS,
        "segment_cycles": SEGMENT_CYCLES,
        "sensors": [f"{name} [{unit}]" for name, unit in SENSORS],
        "rul_cap_hours": RUL_CAP_HOURS,
        "quantiles": list(QUANTILES),
        "calibration_motors": max(5, motors // 4),
        "interval_margin_log_hours": round(model.margin, 4),
    }
    return Trained(model, evaluation, training)


def sensor_names(model: MotorRulModel) -> Sequence[str]:
    return [name for name, _ in model.sensors]
