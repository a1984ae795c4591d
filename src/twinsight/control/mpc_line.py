"""Worked case: run a production line as fast as its drive motor allows, hour by hour.

A belt conveyor's throughput follows its belt speed, and the belt is driven by a motor
on a variable-speed drive (:mod:`twinsight.sim.physics.motor`): faster means more parts,
but also more load (a conveyor's torque is roughly constant, so the load grows with the
speed), more heat in the winding and faster wear. The usual practice is a fixed speed
set-point chosen so that the motor is safe in the hottest hour of the year; the rest of
the time it runs slower than it could.

Model-predictive control asks the twin instead, every hour: *which speeds over the next
six hours give the most parts without the winding passing its temperature limit and
without the motor wearing faster than planned?*

* decision: the drive's speed set-point, piecewise constant per hour, 600–1800 rpm;
* objective: the most belt travel (parts follow it: the belt is the line's bottleneck);
* constraints: the winding temperature within every hour at most the limit less a
  back-off for the forecast error, and the wear of every hour at most the planned wear
  per hour (the fraction of rated life the plan allows an hour of running);
* model: the motor's own equations (:func:`~twinsight.sim.physics.motor.motor_system`),
  integrated with fixed 300-s RK4 steps from the plant's measured state, the drive
  taken to reach each set-point at once — a fast surrogate of the full model (checked
  against it in the tests);
* solver: SLSQP (:func:`~twinsight.control.mpc.solve_nonlinear`).

The plant both controllers drive is the full motor model (SciPy's adaptive RK45) with
the *true* ambient temperature and load — both differ from what the MPC was told (a
forecast error on the hall temperature, a load that drifts with the product mix) — and
a discrete-event conveyor line (:class:`~twinsight.sim.des.conveyor.ConveyorLine`) that
turns belt speed into parts, with its own breakdowns and scrap. The baseline's fixed
set-point is chosen with hindsight: the fastest one that keeps the plant's winding under
the limit and the wear within plan over the whole week.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from twinsight.control.mpc import FloatArray, Limit, MpcResult, Prediction, solve_nonlinear
from twinsight.sim.des.conveyor import ConveyorLine
from twinsight.sim.ode import OdeModel
from twinsight.sim.physics.motor import motor_system

HOUR = 3600.0
DAY = 24 * HOUR
SYNC = 1500.0  # rpm at which the belt runs at its nominal speed


@dataclass(frozen=True)
class LineCase:
    """The worked case's settings; defaults are a warm summer week in a factory hall."""

    days: float = 7.0
    plant_step: float = 60.0
    control_interval: float = HOUR
    horizon: int = 6  # control intervals
    speed_min: float = 600.0
    speed_max: float = 1800.0
    temperature_limit: float = 120.0  # °C, winding
    back_off: float = 4.0  # K kept below the limit against forecast and load error
    wear_budget: float = 1.0e-4  # fraction of rated life an hour of running may use
    wear_back_off: float = 0.85  # share of the wear budget the MPC plans to use
    nominal_load: float = 1.0  # load fraction at 1500 rpm
    nominal_belt: float = 0.8  # m/s at 1500 rpm
    ambient_mean: float = 28.0
    ambient_swing: float = 6.0  # K, half the day/night difference
    forecast_error: float = 1.0  # K, standard deviation of the slow forecast error
    load_drift: float = 0.02  # standard deviation of the true load's relative drift
    seed: int = 11


@dataclass(frozen=True)
class LineWeek:
    """The hall temperature and the load factor, forecast and true, per plant step."""

    t: FloatArray
    ambient_forecast: FloatArray
    ambient: FloatArray
    load_factor: FloatArray  # true load / forecast load


def _ar1(rng: np.random.Generator, n: int, sigma: float, phi: float) -> FloatArray:
    noise = rng.normal(0.0, sigma * math.sqrt(1 - phi * phi), n)
    out = np.zeros(n)
    for i in range(1, n):
        out[i] = phi * out[i - 1] + noise[i]
    return out


def line_week(case: LineCase) -> LineWeek:
    """A warm week: a day/night sine peaking at 15:00 on a mean that rises into a hot
    spell mid-week; the truth = forecast + a slow error, the load drifting slowly."""
    rng = np.random.default_rng(case.seed)
    total = case.days * DAY + (case.horizon + 1) * case.control_interval
    t = np.arange(0.0, total + case.plant_step, case.plant_step)
    days = t / DAY
    spell = 3.0 * np.sin(math.pi * np.clip(days / 7.0, 0.0, 1.0))
    daily = -case.ambient_swing * np.cos(2 * math.pi * (days - 15.0 / 24.0) + math.pi)
    forecast = case.ambient_mean + spell + daily
    phi = math.exp(-case.plant_step / (3 * HOUR))
    ambient = forecast + _ar1(rng, len(t), case.forecast_error, phi)
    load = 1.0 + _ar1(rng, len(t), case.load_drift, math.exp(-case.plant_step / (6 * HOUR)))
    return LineWeek(t, forecast, ambient, load)


def load_at(case: LineCase, speed: FloatArray | float) -> FloatArray:
    """The motor's load fraction at a drive speed (constant torque: load ∝ speed)."""
    return np.clip(case.nominal_load * np.asarray(speed, dtype=float) / SYNC, 0.0, 1.2)


@dataclass
class LineRun:
    """What one controller did, per plant step."""

    name: str
    t: list[float] = field(default_factory=list)
    setpoint: list[float] = field(default_factory=list)
    temperature: list[float] = field(default_factory=list)
    throughput: list[float] = field(default_factory=list)
    produced: float = 0.0
    wear: float = 0.0
    max_hourly_wear: float = 0.0
    solve_seconds: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def peak_temperature(self) -> float:
        return max(self.temperature) if self.temperature else math.nan


def _motor(solver: str = "RK45", max_step: float = math.inf) -> OdeModel:
    return motor_system("motor").model(solver=solver, max_step=max_step)


def _start_state(case: LineCase, week: LineWeek) -> dict[str, float]:
    ambient = float(week.ambient[0])
    return {"winding_temperature": ambient + 40.0, "housing_temperature": ambient + 25.0,
            "wear": 0.0, "drive_speed": SYNC}  # fmt: skip


def run_plant(
    case: LineCase, week: LineWeek, name: str, decide: Callable[[int, dict[str, float]], float]
) -> LineRun:
    """Step the plant (full motor model and DES conveyor) over the run; ``decide(i,
    motor_state)`` gives the speed set-point for step i."""
    motor = _motor()
    motor.set_state(_start_state(case, week))
    line = ConveyorLine("line", parameters={"shift_hours": 24.0})
    run = LineRun(name)
    steps = round(case.days * DAY / case.plant_step)
    per_hour = round(HOUR / case.plant_step)
    hour_start_wear = 0.0
    for i in range(steps):
        state = motor.state()
        if i % per_hour == 0:
            if i:
                run.max_hourly_wear = max(run.max_hourly_wear, state["wear"] - hour_start_wear)
            hour_start_wear = state["wear"]
        setpoint = float(np.clip(decide(i, state), case.speed_min, case.speed_max))
        drive = state["drive_speed"]
        motor.set_inputs(
            {"load": min(float(load_at(case, drive)) * week.load_factor[i], 1.2),
             "ambient_temperature": float(week.ambient[i]), "speed_setpoint": setpoint}
        )  # fmt: skip
        line.set_inputs({"belt_speed_setpoint": case.nominal_belt * drive / SYNC})
        motor.advance(case.plant_step)
        line.advance(case.plant_step)
        run.t.append(float(week.t[i + 1]))
        run.setpoint.append(setpoint)
        run.temperature.append(motor.state()["winding_temperature"])
        run.throughput.append(line.outputs()["throughput"])
    final = motor.state()["wear"]
    run.max_hourly_wear = max(run.max_hourly_wear, final - hour_start_wear)
    run.produced = line.outputs()["produced"]
    run.wear = final
    return run


def _surrogate_run(
    case: LineCase, state: dict[str, float], speeds: FloatArray, ambient: FloatArray,
    model: OdeModel,
) -> tuple[FloatArray, FloatArray, FloatArray]:  # fmt: skip
    """Winding temperature (max over each interval's half-hour points, and at its end)
    and wear per interval, from ``state`` under constant ``speeds`` and forecast
    ``ambient`` per interval, on the fast surrogate."""
    model.set_state(state)
    temperatures = np.empty(len(speeds))
    ends = np.empty(len(speeds))
    wear = np.empty(len(speeds))
    half = case.control_interval / 2
    for k, speed in enumerate(speeds):
        before = model.state()["wear"]
        # The drive reaches its set-point within a minute (a 25-s speed loop): the
        # surrogate takes it as instant, which also keeps 300-s RK4 steps stable.
        model.set_state({"drive_speed": float(speed)})
        model.set_inputs(
            {"load": float(load_at(case, speed)), "ambient_temperature": float(ambient[k]),
             "speed_setpoint": float(speed)}
        )  # fmt: skip
        model.advance(half)
        first = model.state()["winding_temperature"]
        model.advance(half)
        ends[k] = model.state()["winding_temperature"]
        temperatures[k] = max(first, ends[k])
        wear[k] = model.state()["wear"] - before
    return temperatures, ends, wear


def plan(
    case: LineCase,
    state: dict[str, float],
    ambient_forecast: FloatArray,
    *,
    start: FloatArray | None = None,
    horizon: int | None = None,
    model: OdeModel | None = None,
    temperature_offset: float = 0.0,
    wear_scale: float = 1.0,
) -> MpcResult:
    """One MPC solve from the measured motor ``state`` over the horizon.

    ``temperature_offset`` and ``wear_scale`` correct the surrogate's predictions by what
    it got wrong over the last interval (offset-free MPC: an unmeasured disturbance, such
    as a load heavier than forecast, is estimated from the prediction error and assumed
    to persist over the horizon)."""
    steps = case.horizon if horizon is None else horizon
    surrogate = model or _motor("rk4", 300.0)

    def predict(moves: FloatArray) -> Prediction:
        temperatures, ends, wear = _surrogate_run(
            case, state, moves[:, 0], ambient_forecast, surrogate
        )
        return {"temperature": temperatures + temperature_offset,
                "temperature_end": ends + temperature_offset,
                "wear_per_interval": wear * wear_scale,
                "belt_speed": case.nominal_belt * moves[:, 0] / SYNC}  # fmt: skip

    def objective(moves: FloatArray, prediction: Prediction) -> float:
        return -float(np.mean(moves[:, 0])) / SYNC

    return solve_nonlinear(
        predict,
        objective,
        controls=["speed_setpoint"],
        horizon=steps,
        lower=[case.speed_min],
        upper=[case.speed_max],
        limits=[
            Limit("temperature", case.temperature_limit - case.back_off, "winding temperature"),
            Limit(
                "wear_per_interval",
                case.wear_budget * case.wear_back_off * case.control_interval / HOUR,
                "wear per hour",
            ),
        ],
        start=start,
    )


def run_mpc(case: LineCase, week: LineWeek) -> LineRun:
    """Receding horizon: each hour, plan the next ``horizon`` hours and apply the first."""
    per_interval = round(case.control_interval / case.plant_step)
    held = {"speed": case.speed_min}
    previous: dict[str, FloatArray] = {}
    statuses: dict[str, int] = {}
    solve_times: list[float] = []
    surrogate = _motor("rk4", 300.0)
    correction = {"temperature": 0.0, "wear": 1.0}
    last: dict[str, float] = {}

    def decide(i: int, state: dict[str, float]) -> float:
        if i % per_interval:
            return held["speed"]
        if last:  # what the last plan got wrong about the interval just ended
            raw_error = state["winding_temperature"] - (last["temperature"] - last["offset"])
            correction["temperature"] = raw_error
            predicted_wear = last["wear"] / last["scale"]
            if predicted_wear > 0:
                ratio = (state["wear"] - last["wear_start"]) / predicted_wear
                correction["wear"] = float(np.clip(ratio, 0.5, 3.0))
        last.clear()
        t0 = week.t[i]
        mids = t0 + case.control_interval * (np.arange(case.horizon) + 0.5)
        forecast = np.interp(mids, week.t, week.ambient_forecast)
        start = None
        if "moves" in previous:
            start = np.append(previous["moves"][1:], previous["moves"][-1])
        result = plan(
            case, state, forecast, start=start, model=surrogate,
            temperature_offset=correction["temperature"], wear_scale=correction["wear"],
        )  # fmt: skip
        statuses[result.status] = statuses.get(result.status, 0) + 1
        solve_times.append(result.solve_seconds)
        move = result.first_move()
        if move is None:
            # No action from an unsolved problem: fall back to the slowest safe speed.
            held["speed"] = case.speed_min
            previous.pop("moves", None)
        else:
            held["speed"] = move["speed_setpoint"]
            assert result.moves is not None
            previous["moves"] = result.moves[:, 0]
            last.update(
                temperature=float(result.predicted["temperature_end"][0]),
                offset=correction["temperature"],
                wear=float(result.predicted["wear_per_interval"][0]),
                scale=correction["wear"], wear_start=state["wear"],
            )  # fmt: skip
        return held["speed"]

    run = run_plant(case, week, "mpc", decide)
    run.solve_seconds = solve_times
    run.statuses = statuses
    return run


def baseline_setpoint(case: LineCase, week: LineWeek, tolerance: float = 2.0) -> float:
    """The fastest fixed set-point that keeps the plant's winding at or under the limit
    and its hourly wear within plan all week (bisection on the surrogate driven by the
    true ambient and load, then checked on the plant by the caller)."""
    model = _motor("rk4", 300.0)
    hours = int(case.days * 24)
    mids = (np.arange(hours) + 0.5) * HOUR
    ambient = np.interp(mids, week.t, week.ambient)
    factor = np.interp(mids, week.t, week.load_factor)
    budget = case.wear_budget

    def safe(speed: float) -> bool:
        model.set_state({**_start_state(case, week), "drive_speed": speed})
        model.set_inputs({"speed_setpoint": speed})
        for h in range(hours):
            before = model.state()["wear"]
            model.set_inputs(
                {"load": min(float(load_at(case, speed)) * factor[h], 1.2),
                 "ambient_temperature": float(ambient[h])}
            )  # fmt: skip
            for _ in range(4):
                model.advance(HOUR / 4)
                if model.state()["winding_temperature"] > case.temperature_limit:
                    return False
            if model.state()["wear"] - before > budget:
                return False
        return True

    low, high = case.speed_min, case.speed_max
    if safe(high):
        return high
    while high - low > tolerance:
        middle = (low + high) / 2
        low, high = (middle, high) if safe(middle) else (low, middle)
    return low


def compare(case: LineCase | None = None) -> tuple[LineRun, LineRun, dict[str, float]]:
    """Fixed set-point baseline and MPC over the same week; the benchmark's figures."""
    case = case or LineCase()
    week = line_week(case)
    fixed = baseline_setpoint(case, week)
    base = run_plant(case, week, "fixed", lambda i, state: fixed)
    mpc = run_mpc(case, week)
    gain = 100.0 * (mpc.produced - base.produced) / base.produced if base.produced else 0.0
    times = np.array(mpc.solve_seconds) if mpc.solve_seconds else np.zeros(1)
    figures = {
        "baseline_setpoint_rpm": round(fixed, 1),
        "throughput_baseline": round(base.produced, 1),
        "throughput_mpc": round(mpc.produced, 1),
        "throughput_gain_pct": round(gain, 1),
        "peak_temperature_baseline": round(base.peak_temperature, 2),
        "peak_temperature_mpc": round(mpc.peak_temperature, 2),
        "max_hourly_wear_baseline": float(f"{base.max_hourly_wear:.4g}"),
        "max_hourly_wear_mpc": float(f"{mpc.max_hourly_wear:.4g}"),
        "solve_ms_median": round(1000 * float(np.median(times)), 1),
        "solve_ms_max": round(1000 * float(np.max(times)), 1),
        "solves": len(mpc.solve_seconds),
    }
    return base, mpc, figures
