"""Remaining useful life on NASA C-MAPSS: test RMSE, PHM08 score and training time.

What it does:

* trains :class:`twinsight.analytics.rul.RulModel` on ``train_FD001`` and ``train_FD003``
  and scores each test engine's last cycle against ``RUL_FD001`` / ``RUL_FD003``
  (RMSE and the PHM08 score); training time is wall-clock for ``fit`` alone;
* with ``--predict-out DIR`` also trains on ``train_FD002`` and ``train_FD004`` and writes
  ``FD002.txt`` and ``FD004.txt``: the predicted RUL of every test engine, one number per
  line, units in order (no true RUL ships for these two);
* ``--quick``: one small model per subset, well under a minute.

Usage (from the repo root): ``python bench/rul.py [--data DIR] [--predict-out DIR]
[--quick]``. The last line of stdout is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

from twinsight.analytics.rul import RulModel, load_fleet, load_true_rul, phm08_score, rmse

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = (
    Path(os.environ.get("TWINSIGHT_SHARED_DATA", REPO.parent / "shared" / "data")) / "cmapss"
)


def _file(data: Path, stem: str) -> Path:
    for candidate in (data / f"{stem}.txt", data / f"{stem}.txt.gz"):
        if candidate.exists():
            return candidate
    raise SystemExit(f"rul: {stem}.txt(.gz) not found in {data}")


def _model(quick: bool) -> RulModel:
    return RulModel(seeds=1, max_iter=100, learning_rate=0.1) if quick else RulModel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--predict-out", type=Path, default=None)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()

    figures: dict[str, Any] = {
        "benchmark": "rul-cmapss",
        "quick": args.quick,
        "python": platform.python_version(),
    }
    for subset in ("FD001", "FD003"):
        train = load_fleet(_file(args.data, f"train_{subset}"))
        test = load_fleet(_file(args.data, f"test_{subset}"))
        true = load_true_rul(_file(args.data, f"RUL_{subset}"))
        started = time.perf_counter()
        model = _model(args.quick).fit(train)
        seconds = time.perf_counter() - started
        predicted = model.predict_last(test)
        if len(predicted) != len(true):
            raise SystemExit(f"rul: {subset}: {len(predicted)} test engines, {len(true)} RULs")
        figures[subset] = {
            "rmse": round(rmse(predicted, true), 2),
            "phm08": round(phm08_score(predicted, true), 1),
            "train_seconds": round(seconds, 1),
            "engines": len(true),
        }
        print(f"{subset}: {figures[subset]}", flush=True)

    if args.predict_out is not None:
        args.predict_out.mkdir(parents=True, exist_ok=True)
        for subset in ("FD002", "FD004"):
            train = load_fleet(_file(args.data, f"train_{subset}"))
            test = load_fleet(_file(args.data, f"test_{subset}"))
            started = time.perf_counter()
            model = _model(args.quick).fit(train)
            seconds = time.perf_counter() - started
            predicted = model.predict_last(test)
            out = args.predict_out / f"{subset}.txt"
            out.write_text("".join(f"{value:.1f}\n" for value in predicted), encoding="ascii")
            figures[subset] = {
                "predictions": str(out),
                "engines": len(predicted),
                "train_seconds": round(seconds, 1),
            }
            print(f"{subset}: {figures[subset]}", flush=True)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
