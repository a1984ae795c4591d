"""Model-predictive control against the usual baseline controllers, over a simulated week.

Two worked cases (see docs/control-mpc.md), each controller driving the same plant
simulation with the same weather, load and people, which the MPC knows only as forecasts:

* **building zone** (``twinsight.control.mpc_zone``): a heat pump under a time-of-use
  tariff; MPC (an LP on the zone's exactly discretised RC model, re-solved every 15 min
  over the next 24 h) against a P thermostat (21 °C weekdays 06–18 h, 16 °C otherwise).
  Figures: energy cost of each, the saving (goal ≥ 15 %), the comfort violation of each
  (kelvin-hours outside 20–24 °C while occupied; goal: MPC ≤ thermostat);
* **factory line** (``twinsight.control.mpc_line``): a conveyor's drive motor; MPC
  (SLSQP on the motor model, hourly moves over 6 h) against the fastest fixed speed that
  is safe all week. Figures: parts made by each, the gain, the peak winding temperature
  of each (goal: MPC ≤ baseline, both ≤ 120 °C) and the worst hour's wear against the
  planned 1e-4 of rated life per hour;

and the solve time per control step (median and max, milliseconds).

Usage (from the repo root): ``python bench/control.py [--quick]`` (quick: the first day
of each case, under a minute). The last line of stdout is one JSON
object with every figure.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from typing import Any

from threadpoolctl import threadpool_limits

from twinsight.control import mpc_line, mpc_zone


def run(quick: bool = False) -> dict[str, Any]:
    """Both cases; the figures, keyed as the JSON line prints them."""
    started = time.perf_counter()
    with threadpool_limits(1):
        zone_days = 1.0 if quick else 7.0
        line_days = 1.0 if quick else 7.0
        _, zone_mpc, zone = mpc_zone.compare(mpc_zone.ZoneCase(days=zone_days))
        _, line_mpc, line = mpc_line.compare(mpc_line.LineCase(days=line_days))
    figures: dict[str, Any] = {
        "quick": quick,
        "building_days": zone_days,
        "building_cost_baseline": zone["cost_baseline"],
        "building_cost_mpc": zone["cost_mpc"],
        "building_saving_pct": zone["saving_pct"],
        "building_energy_baseline_kwh": zone["energy_baseline_kwh"],
        "building_energy_mpc_kwh": zone["energy_mpc_kwh"],
        "comfort_violation_baseline_kh": zone["comfort_violation_baseline_kh"],
        "comfort_violation_mpc_kh": zone["comfort_violation_mpc_kh"],
        "building_solve_ms_median": zone["solve_ms_median"],
        "building_solve_ms_max": zone["solve_ms_max"],
        "building_statuses": zone_mpc.statuses,
        "line_days": line_days,
        "line_baseline_setpoint_rpm": line["baseline_setpoint_rpm"],
        "throughput_baseline": line["throughput_baseline"],
        "throughput_mpc": line["throughput_mpc"],
        "throughput_gain_pct": line["throughput_gain_pct"],
        "peak_temperature_baseline": line["peak_temperature_baseline"],
        "peak_temperature_mpc": line["peak_temperature_mpc"],
        "max_hourly_wear_baseline": line["max_hourly_wear_baseline"],
        "max_hourly_wear_mpc": line["max_hourly_wear_mpc"],
        "line_solve_ms_median": line["solve_ms_median"],
        "line_solve_ms_max": line["solve_ms_max"],
        "line_statuses": line_mpc.statuses,
        "goals": {
            "saving_ge_15pct": zone["saving_pct"] >= 15.0,
            "comfort_no_worse": zone["comfort_violation_mpc_kh"]
            <= zone["comfort_violation_baseline_kh"],
            "throughput_gained": line["throughput_gain_pct"] > 0.0,
            "peak_no_higher": line["peak_temperature_mpc"] <= line["peak_temperature_baseline"],
        },
        "seconds": round(time.perf_counter() - started, 1),
        "python": platform.python_version(),
    }
    return figures


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run, under a minute")
    args = parser.parse_args(argv)
    figures = run(args.quick)
    print(
        f"building: cost {figures['building_cost_baseline']} -> {figures['building_cost_mpc']}"
        f" ({figures['building_saving_pct']} % saved), comfort violation "
        f"{figures['comfort_violation_baseline_kh']} -> {figures['comfort_violation_mpc_kh']} K·h"
    )
    print(
        f"line: parts {figures['throughput_baseline']} -> {figures['throughput_mpc']} "
        f"({figures['throughput_gain_pct']} %), peak winding "
        f"{figures['peak_temperature_baseline']} -> {figures['peak_temperature_mpc']} °C"
    )
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
