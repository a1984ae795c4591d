"""Worked case: a building zone heated by a heat pump, under a time-of-use tariff.

The question a facility manager asks the twin: *what should the heating do so that the
bill is lowest while the occupied hours stay in the comfort band?* The answer here is
model-predictive control on the zone's own RC model (:mod:`twinsight.sim.physics.zone`):
the surrogate is that model discretised exactly (:func:`~twinsight.control.mpc.discretise`,
the matrix exponential of its linear equations), so the optimisation is a linear
programme, solved to optimality by HiGHS every control interval:

* decision: the heat pump's thermal output, piecewise constant over 15-minute intervals,
  between 0 and its rating;
* cost: electricity = heat / COP, priced by the tariff (peak on weekdays 07–21 h);
* comfort: the air within 20–24 °C while occupied (weekdays 08–18 h), 16–26 °C otherwise,
  as a soft band (a heavy penalty per kelvin-hour outside it, so a forecast that turns
  out colder than announced makes the problem costlier, never unsolvable).

Both controllers heat the **same plant**: the full zone model integrated by SciPy, driven
by the *true* outdoor temperature and internal gains, which differ from the forecasts the
MPC plans with (a forecast error on the outdoor temperature, people who come and go).
The MPC reads the zone's two temperatures (air, and building mass as a state estimator
on the twin would give it) at the start of each interval, solves over the next day,
applies the first move and repeats.

The baseline is the usual thermostat: a proportional controller on the air temperature,
21 °C from 06:00 (two hours of pre-heat) to 18:00 on weekdays, 16 °C otherwise, with
the same heat pump.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from twinsight.control.mpc import Band, FloatArray, LinearModel, discretise, solve_linear
from twinsight.sim.ode import OdeModel
from twinsight.sim.physics.zone import zone_system

HOUR = 3600.0
DAY = 24 * HOUR


@dataclass(frozen=True)
class ZoneCase:
    """Everything the worked case is made of; the defaults are a small office in a cold
    week. Times count from a Monday at 00:00."""

    days: float = 7.0
    plant_step: float = 300.0
    control_interval: float = 900.0
    horizon_hours: float = 24.0
    heat_max: float = 6.0  # kW thermal
    cop: float = 3.5
    peak_price: float = 0.32  # per kWh, weekdays 07–21 h
    offpeak_price: float = 0.12
    occupied_band: tuple[float, float] = (20.0, 24.0)
    setback_band: tuple[float, float] = (16.0, 26.0)
    comfort_penalty: float = 20.0  # per K·h outside the band, in the price's currency
    back_off: float = 0.3  # K the MPC plans inside the lower comfort bound
    outdoor_mean: float = -1.0
    outdoor_swing: float = 4.0  # K, half the day/night difference
    forecast_error: float = 1.5  # K, standard deviation of the slow forecast error
    occupied_gain: float = 0.8  # kW from people and appliances, forecast
    thermostat_occupied: float = 21.0
    thermostat_setback: float = 16.0
    thermostat_gain: float = 4.0  # kW per K
    start_temperature: float = 18.0
    seed: int = 7


def occupied(t: FloatArray | float) -> FloatArray:
    """1 on weekdays 08–18 h (t in seconds from Monday 00:00)."""
    t = np.asarray(t, dtype=float)
    day, hour = np.floor(t / DAY) % 7, (t % DAY) / HOUR
    return ((day < 5) & (hour >= 8) & (hour < 18)).astype(float)


def price(case: ZoneCase, t: FloatArray | float) -> FloatArray:
    """The tariff at time t: peak on weekdays 07–21 h."""
    t = np.asarray(t, dtype=float)
    day, hour = np.floor(t / DAY) % 7, (t % DAY) / HOUR
    peak = (day < 5) & (hour >= 7) & (hour < 21)
    return np.where(peak, case.peak_price, case.offpeak_price)


def band(case: ZoneCase, t: FloatArray | float) -> tuple[FloatArray, FloatArray]:
    """The comfort band (lower, upper) at time t."""
    occ = occupied(t) > 0
    low = np.where(occ, case.occupied_band[0], case.setback_band[0])
    high = np.where(occ, case.occupied_band[1], case.setback_band[1])
    return low, high


@dataclass(frozen=True)
class ZoneWeek:
    """The weather and the people, as forecast and as they turn out, on a time grid
    fine enough for the plant (``case.plant_step``), plus enough beyond the end for the
    last horizon."""

    t: FloatArray
    outdoor_forecast: FloatArray
    outdoor: FloatArray
    gain_forecast: FloatArray
    gain: FloatArray


def zone_week(case: ZoneCase) -> ZoneWeek:
    """A cold week: a day/night sine (coldest at 05:00) on a mean that drifts over days,
    the truth = forecast + a slow random error (AR(1), hour-scale); internal gains of
    the occupied hours, the truth varying ±30 % from one hour to the next."""
    rng = np.random.default_rng(case.seed)
    total = case.days * DAY + case.horizon_hours * HOUR
    t = np.arange(0.0, total + case.plant_step, case.plant_step)
    days = t / DAY
    drift = 2.0 * np.sin(2 * math.pi * days / 5.0)
    daily = -case.outdoor_swing * np.cos(2 * math.pi * (days - 5.0 / 24.0))
    forecast = case.outdoor_mean + drift + daily
    phi = math.exp(-case.plant_step / (3 * HOUR))
    error = np.zeros_like(t)
    noise = rng.normal(0.0, case.forecast_error * math.sqrt(1 - phi * phi), len(t))
    for i in range(1, len(t)):
        error[i] = phi * error[i - 1] + noise[i]
    gain_forecast = case.occupied_gain * occupied(t)
    hourly = rng.uniform(0.7, 1.3, int(total // HOUR) + 2)
    gain = gain_forecast * hourly[(t // HOUR).astype(int)]
    return ZoneWeek(t, forecast, forecast + error, gain_forecast, gain)


@dataclass
class ZoneRun:
    """What one controller did over the run, on the plant's time grid."""

    name: str
    t: list[float] = field(default_factory=list)
    temperature: list[float] = field(default_factory=list)
    heat: list[float] = field(default_factory=list)
    power: list[float] = field(default_factory=list)
    cost: float = 0.0
    energy: float = 0.0
    violation: float = 0.0  # K·h outside the comfort band while occupied
    solve_seconds: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)

    def figures(self) -> dict[str, float]:
        return {
            "cost": round(self.cost, 3),
            "energy_kwh": round(self.energy, 2),
            "comfort_violation_kh": round(self.violation, 3),
        }


def _plant(case: ZoneCase) -> OdeModel:
    model = zone_system("zone").model()
    model.set_state(
        {"temperature": case.start_temperature, "mass_temperature": case.start_temperature - 1}
    )
    return model


def _run(
    case: ZoneCase, week: ZoneWeek, name: str, decide: Callable[[int, dict[str, float]], float]
) -> ZoneRun:
    """Step the plant over the run; ``decide(i, state)`` gives the heat for step i."""
    plant = _plant(case)
    run = ZoneRun(name)
    steps = round(case.days * DAY / case.plant_step)
    hours = case.plant_step / HOUR
    for i in range(steps):
        t = week.t[i]
        state = plant.state()
        heat = float(np.clip(decide(i, state), 0.0, case.heat_max))
        plant.set_inputs(
            {"outdoor_temperature": week.outdoor[i], "internal_gain": week.gain[i],
             "hvac_heat": heat}
        )  # fmt: skip
        power = plant.outputs()["hvac_power"]
        plant.advance(case.plant_step)
        after = plant.state()["temperature"]
        run.t.append(t)
        run.temperature.append(state["temperature"])
        run.heat.append(heat)
        run.power.append(power)
        run.energy += power * hours
        run.cost += power * hours * float(price(case, t))
        if occupied(t) > 0:
            low, high = (float(v) for v in band(case, t))
            mean = (state["temperature"] + after) / 2
            run.violation += (max(low - mean, 0.0) + max(mean - high, 0.0)) * hours
    return run


def run_thermostat(case: ZoneCase, week: ZoneWeek) -> ZoneRun:
    """The baseline: P control to 21 °C weekdays 06–18 h, 16 °C otherwise."""

    def decide(i: int, state: dict[str, float]) -> float:
        t = week.t[i]
        day, hour = (t // DAY) % 7, (t % DAY) / HOUR
        setpoint = (
            case.thermostat_occupied if day < 5 and 6 <= hour < 18 else case.thermostat_setback
        )
        return case.thermostat_gain * (setpoint - state["temperature"])

    return _run(case, week, "thermostat", decide)


def surrogate(case: ZoneCase) -> LinearModel:
    """The zone model discretised exactly over one control interval (heat controlled;
    outdoor temperature, solar and internal gains as disturbances)."""
    zone = zone_system("zone").model()
    return discretise(zone_system(), zone.parameters(), ["hvac_heat"], case.control_interval)


def run_mpc(case: ZoneCase, week: ZoneWeek) -> ZoneRun:
    """Receding-horizon LP: every control interval, plan the next ``horizon_hours`` on the
    forecasts and apply the first move (held over the interval)."""
    model = surrogate(case)
    horizon = round(case.horizon_hours * HOUR / case.control_interval)
    per_interval = round(case.control_interval / case.plant_step)
    plan = {"heat": 0.0}
    statuses: dict[str, int] = {}
    solve_times: list[float] = []

    def decide(i: int, state: dict[str, float]) -> float:
        if i % per_interval:
            return plan["heat"]
        t0 = week.t[i]
        ends = t0 + case.control_interval * np.arange(1, horizon + 1)
        mids = ends - case.control_interval / 2
        idx = np.minimum(np.searchsorted(week.t, mids), len(week.t) - 1)
        disturbances = np.zeros((horizon, len(model.disturbances)))
        columns = {name: j for j, name in enumerate(model.disturbances)}
        disturbances[:, columns["outdoor_temperature"]] = week.outdoor_forecast[idx]
        disturbances[:, columns["internal_gain"]] = week.gain_forecast[idx]
        # The band is judged at interval ends; its lower bound there is the stricter of
        # the band before and after the end, so an occupied hour starts warm.
        low_end, high_end = band(case, ends - 1.0)
        low_next, _ = band(case, np.minimum(ends + 1.0, ends.max()))
        low = np.maximum(low_end, low_next) + case.back_off * (
            (occupied(ends - 1.0) + occupied(ends + 1.0)) > 0
        )
        hours = case.control_interval / HOUR
        cost = price(case, mids) / case.cop * hours
        result = solve_linear(
            model,
            {"temperature": state["temperature"], "mass_temperature": state["mass_temperature"]},
            horizon=horizon,
            cost=cost,
            lower=[0.0],
            upper=[case.heat_max],
            bands=[Band("temperature", low, high_end, penalty=case.comfort_penalty)],
            disturbances=disturbances,
        )
        statuses[result.status] = statuses.get(result.status, 0) + 1
        solve_times.append(result.solve_seconds)
        move = result.first_move()
        # No action from an unsolved problem: the heat stays where it was.
        if move is not None:
            plan["heat"] = move["hvac_heat"]
        return plan["heat"]

    run = _run(case, week, "mpc", decide)
    run.solve_seconds = solve_times
    run.statuses = statuses
    return run


def compare(case: ZoneCase | None = None) -> tuple[ZoneRun, ZoneRun, dict[str, float]]:
    """Both controllers over the same week; the figures the benchmark reports."""
    case = case or ZoneCase()
    week = zone_week(case)
    base = run_thermostat(case, week)
    mpc = run_mpc(case, week)
    saving = 100.0 * (base.cost - mpc.cost) / base.cost if base.cost > 0 else 0.0
    times = np.array(mpc.solve_seconds) if mpc.solve_seconds else np.zeros(1)
    figures = {
        "cost_baseline": round(base.cost, 2),
        "cost_mpc": round(mpc.cost, 2),
        "saving_pct": round(saving, 1),
        "energy_baseline_kwh": round(base.energy, 1),
        "energy_mpc_kwh": round(mpc.energy, 1),
        "comfort_violation_baseline_kh": round(base.violation, 3),
        "comfort_violation_mpc_kh": round(mpc.violation, 3),
        "solve_ms_median": round(1000 * float(np.median(times)), 2),
        "solve_ms_max": round(1000 * float(np.max(times)), 2),
        "solves": len(mpc.solve_seconds),
    }
    return base, mpc, figures
