"""The factory-line example of docs/control-mpc.md: a conveyor's drive motor run by
model-predictive control against the fastest fixed speed that is safe all week.

Run from the repository root: ``.venv/bin/python docs/control_factory_example.py``. It
prints the figures the page shows and writes docs/img/control-factory.png.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from twinsight.control.mpc_line import LineCase, compare

IMG = Path(__file__).parent / "img"


def main(days: float = 7.0, out: Path = IMG / "control-factory.png") -> dict[str, float]:
    case = LineCase(days=days)
    fixed, mpc, figures = compare(case)
    print(
        f"parts made: fixed {figures['throughput_baseline']:.0f}, "
        f"MPC {figures['throughput_mpc']:.0f} ({figures['throughput_gain_pct']:+.1f} %)"
    )
    print(
        f"peak winding temperature: fixed {figures['peak_temperature_baseline']:.1f} °C, "
        f"MPC {figures['peak_temperature_mpc']:.1f} °C (limit {case.temperature_limit:g} °C)"
    )
    hours = np.array(mpc.t) / 3600.0
    figure = Figure(figsize=(11, 7.5), layout="constrained")
    top, middle, bottom = figure.subplots(3, 1, sharex=True)
    top.step(hours, fixed.setpoint, where="pre", color="tab:gray", label="fixed")
    top.step(hours, mpc.setpoint, where="pre", color="tab:blue", label="MPC")
    top.set_ylabel("speed set-point, rpm")
    top.legend(loc="upper right", ncols=2)
    top.set_title(
        f"Factory line: MPC makes {figures['throughput_gain_pct']:+.1f} % parts, peak winding "
        f"{figures['peak_temperature_mpc']:.1f} vs {figures['peak_temperature_baseline']:.1f} °C"
    )
    middle.plot(hours, fixed.temperature, color="tab:gray", label="fixed")
    middle.plot(hours, mpc.temperature, color="tab:blue", label="MPC")
    middle.axhline(case.temperature_limit, color="tab:red", linestyle="--", label="limit")
    middle.set_ylabel("winding, °C")
    middle.legend(loc="lower right", ncols=3)
    per_hour = round(3600.0 / case.plant_step)
    hourly = hours[per_hour - 1 :: per_hour]
    for run, colour, label in ((fixed, "tab:gray", "fixed"), (mpc, "tab:blue", "MPC")):
        rates = np.array(run.throughput[: len(hourly) * per_hour]).reshape(-1, per_hour)
        bottom.step(hourly, rates.mean(axis=1), where="pre", color=colour, label=label)
    bottom.set_ylabel("throughput, parts/h\n(hourly mean)")
    bottom.set_xlabel("hours")
    bottom.legend(loc="lower right", ncols=2)
    for axes in (top, middle, bottom):
        axes.set_xticks(np.arange(0, days * 24 + 1, 24 if days > 2 else 6))
        axes.grid(alpha=0.3)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=90)
    return figures


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 7.0)
