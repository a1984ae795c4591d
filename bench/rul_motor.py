"""Remaining useful life of the factory's motors: held-out error and interval coverage.

What it does: for each seed, simulates motors run to failure
(:mod:`twinsight.analytics.rul_motor`), trains the motor RUL model on them (with the
interval conformalised on motors kept apart), and measures it on other simulated motors:
RMSE and median absolute error of the median prediction (hours) at each held-out
history's last cycle, and the share of true RULs inside the 10–90 % interval (the goal is
80 %) with its mean width. Figures are medians over the seeds; training time is wall
clock for simulation and fitting together.

Usage (from the repo root): ``python bench/rul_motor.py [--seeds N] [--quick]`` (full:
400 motors to train on, 100 held out, 3 seeds; quick: 60 and 20, one seed, well under a
minute). The last line of stdout is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from typing import Any

from twinsight.analytics.rul_motor import train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    motors, held_out, max_iter = (60, 20, 60) if args.quick else (400, 100, 200)
    seeds = args.seeds or (1 if args.quick else 3)
    runs: list[dict[str, float]] = []
    for seed in range(seeds):
        start = time.perf_counter()
        trained = train(motors, held_out=held_out, seed=seed, max_iter=max_iter)
        figures = trained.evaluation.metrics()
        figures["train_seconds"] = round(time.perf_counter() - start, 1)
        runs.append(figures)
        print(f"seed {seed}: {json.dumps(figures)}", flush=True)
    summary: dict[str, Any] = {
        "benchmark": "rul-motor",
        "quick": args.quick,
        "python": platform.python_version(),
        "motors": motors,
        "held_out_motors": held_out,
        "seeds": seeds,
    }
    for key in runs[0]:
        summary[key] = statistics.median(r[key] for r in runs)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
