"""The building example of docs/control-mpc.md: a heat pump under a time-of-use tariff,
model-predictive control against a thermostat over the same cold week.

Run from the repository root: ``.venv/bin/python docs/control_building_example.py``. It
prints the figures the page shows and writes docs/img/control-building.png.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from twinsight.control.mpc_zone import ZoneCase, band, compare, price

IMG = Path(__file__).parent / "img"


def main(days: float = 7.0, out: Path = IMG / "control-building.png") -> dict[str, float]:
    case = ZoneCase(days=days)
    thermostat, mpc, figures = compare(case)
    print(
        f"energy cost: thermostat {figures['cost_baseline']:.2f}, "
        f"MPC {figures['cost_mpc']:.2f} ({figures['saving_pct']:.1f} % saved)"
    )
    print(
        "comfort violation (K·h, occupied): thermostat "
        f"{figures['comfort_violation_baseline_kh']:.2f}, "
        f"MPC {figures['comfort_violation_mpc_kh']:.2f}"
    )
    hours = np.array(mpc.t) / 3600.0
    low, high = band(case, np.array(mpc.t))
    figure = Figure(figsize=(11, 7.5), layout="constrained")
    top, middle, bottom = figure.subplots(3, 1, sharex=True, height_ratios=(3, 1, 2))
    top.fill_between(hours, low, high, color="tab:green", alpha=0.15, step="post",
                     label="comfort band")  # fmt: skip
    top.plot(hours, thermostat.temperature, color="tab:gray", label="thermostat")
    top.plot(hours, mpc.temperature, color="tab:blue", label="MPC")
    top.set_ylabel("indoor air, °C")
    top.set_ylim(14, 27)
    top.legend(loc="upper right", ncols=3)
    top.set_title(
        f"Building zone: MPC {figures['saving_pct']:.0f} % cheaper than the thermostat, "
        f"comfort violation {figures['comfort_violation_mpc_kh']:.2f} vs "
        f"{figures['comfort_violation_baseline_kh']:.2f} K·h"
    )
    middle.step(hours, price(case, np.array(mpc.t)), where="post", color="tab:orange")
    middle.set_ylabel("price / kWh")
    bottom.step(hours, thermostat.power, where="post", color="tab:gray", label="thermostat")
    bottom.step(hours, mpc.power, where="post", color="tab:blue", label="MPC")
    bottom.set_ylabel("heat pump, kW electric")
    bottom.set_xlabel("hours from Monday 00:00")
    bottom.legend(loc="upper right", ncols=2)
    for axes in (top, middle, bottom):
        axes.set_xticks(np.arange(0, days * 24 + 1, 24 if days > 2 else 6))
        axes.grid(alpha=0.3)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=90)
    return figures


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 7.0)
