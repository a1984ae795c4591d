"""How close the conveyor's flow model comes to its discrete-event line, and what each costs.

For each case (the demo factory's conveyor at three belt speeds, the line's defaults with
two shifts, and a line whose packer is the bottleneck behind an unreliable filler), the
discrete-event ``ConveyorLine`` runs ``--days`` simulated days for each of ``--seeds``
seeds and the flow model (``twinsight.sim.des.flow``) once, both in one-hour steps; the
table gives parts produced, mean throughput (after the first day) and mean parts on the
line, the flow model's relative error against the mean of the seeds, and the seeds' own
spread (max - min over mean). The tests (``tests/sim/test_conveyor_flow.py``) hold the
same comparison to 5 %.

Usage (from the repository root): ``python bench/conveyor_flow.py [--days 5] [--seeds 5]``.
The last line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from twinsight.sim.des.conveyor import ConveyorLine
from twinsight.sim.des.flow import conveyor_flow_system
from twinsight.sim.model import SimulationModel

HOUR = 3600.0
FACTORY = {"shift_hours": 24.0, "lot_size": 5.0, "m1.rate": 16.0, "m2.rate": 14.0}
CASES: list[tuple[str, dict[str, float], float]] = [
    ("factory, belt stopped", FACTORY, 0.0),
    ("factory, 0.4 m/s", FACTORY, 0.4),
    ("factory, 0.8 m/s", FACTORY, 0.8),
    ("factory, 1.2 m/s", FACTORY, 1.2),
    ("two shifts, lots of 25, 0.8 m/s", {"lot_size": 25.0}, 0.8),
    (
        "packer bottleneck, filler MTBF 1 h, 1.0 m/s",
        {"m2.rate": 10.0, "m1.mtbf": 3600.0, "b2.capacity": 20.0, "lot_size": 25.0},
        1.0,
    ),
]


def run(model: SimulationModel, params: dict[str, float], speed: float, hours: int) -> Any:
    model.set_parameters(params)
    model.set_inputs({"belt_speed_setpoint": speed})
    throughput, wip = [], []
    start = time.perf_counter()
    for _ in range(hours):
        model.advance(HOUR)
        out = model.outputs()
        throughput.append(out["throughput"])
        wip.append(out["wip"])
    seconds = time.perf_counter() - start
    return {
        "produced": out["produced"],
        "throughput": statistics.fmean(throughput[24:]),
        "wip": statistics.fmean(wip[6:]),
        "seconds": seconds,
    }


def error(flow: float, line: float) -> float | None:
    return None if line == 0 else round((flow - line) / line, 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    if args.days < 2 or args.seeds < 1:
        parser.error("--days must be at least 2 and --seeds at least 1")
    hours = args.days * 24
    rows = []
    print(
        "| case | parts produced: line (seeds' spread) | flow | error | throughput/h: line | "
        "flow | error | parts on the line: line | flow |",
        file=sys.stderr,
    )
    for name, params, speed in CASES:
        lines = [
            run(ConveyorLine("c", 2, parameters={"seed": float(s)}), params, speed, hours)
            for s in range(1, args.seeds + 1)
        ]
        flow = run(conveyor_flow_system("c").model(), params, speed, hours)
        mean = {k: statistics.fmean(line[k] for line in lines) for k in lines[0]}
        spread = (
            0.0
            if mean["produced"] == 0
            else (max(x["produced"] for x in lines) - min(x["produced"] for x in lines))
            / mean["produced"]
        )
        row = {
            "case": name,
            "line_produced": round(mean["produced"]),
            "line_spread": round(spread, 4),
            "flow_produced": round(flow["produced"]),
            "produced_error": error(flow["produced"], mean["produced"]),
            "line_throughput": round(mean["throughput"], 1),
            "flow_throughput": round(flow["throughput"], 1),
            "throughput_error": error(flow["throughput"], mean["throughput"]),
            "line_wip": round(mean["wip"], 1),
            "flow_wip": round(flow["wip"], 1),
            "line_seconds_per_day": round(mean["seconds"] / args.days, 4),
            "flow_seconds_per_day": round(flow["seconds"] / args.days, 5),
        }
        rows.append(row)
        print(
            f"| {name} | {row['line_produced']:,} ({spread:.1%}) | {row['flow_produced']:,} | "
            f"{row['produced_error']} | {row['line_throughput']} | {row['flow_throughput']} | "
            f"{row['throughput_error']} | {row['line_wip']} | {row['flow_wip']} |",
            file=sys.stderr,
        )
    errors = [abs(r["produced_error"]) for r in rows if r["produced_error"] is not None]
    errors += [abs(r["throughput_error"]) for r in rows if r["throughput_error"] is not None]
    print(
        json.dumps(
            {
                "benchmark": "conveyor_flow",
                "days": args.days,
                "seeds": args.seeds,
                "max_abs_error": max(errors),
                "cases": rows,
            }
        )
    )


if __name__ == "__main__":
    main()
