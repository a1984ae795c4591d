"""Forecasts on NAB series: the default forecaster against the seasonal-naive baseline.

What it measures, per series, by rolling-origin evaluation (fit on the window before each
origin, forecast the next ``horizon`` steps, compare with what happened, move on):

* **MASE** as defined by Hyndman & Koehler (2006): the mean absolute forecast error over
  the horizon divided by the in-sample mean absolute error of the one-season naive forecast
  on that origin's training window, ``mean(|y[t] - y[t-m]|)``; averaged over origins. The
  season ``m`` of each series is stated in the output (``m``). Below 1 the forecaster beats
  the seasonal-naive method's in-sample one-step error; the baseline's own out-of-sample
  MASE (``naive_mase``) is given beside it for comparison, and ``mase_m1`` scales by the
  one-step naive error (``m = 1``) instead — the harder yardstick for a series without a
  real season;
* **coverage** of the 80 % and 95 % prediction intervals: the share of actual values inside
  them (goal: within 5 points of nominal), and their mean width in the series' units;
* **fit and predict time** per origin (median, milliseconds, one core).

Usage (from the repo root): ``python bench/forecast.py [--data NAB] [--quick]`` (quick:
fewer origins per series, under a minute). The last line of stdout is one JSON object with
every figure. ``--data`` is NAB's folder (with ``data/<category>/<file>.csv``).
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from twinsight.analytics.forecast import (
    Forecaster,
    HarmonicAR,
    SeasonalNaive,
    resample,
    seasonal_naive_scale,
)
from twinsight.analytics.forecast.seasonality import DAY, WEEK

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO / ".." / "shared" / "data" / "nab"
LEVELS = (0.8, 0.95)


@dataclass(frozen=True)
class Case:
    """One series and how it is forecast: resampled to ``step`` seconds, a window of
    ``window`` steps before each origin, ``horizon`` steps ahead, baseline season ``season``
    (seconds) which is also MASE's ``m``."""

    file: str
    step: float
    horizon: int
    horizon_label: str
    season: float
    window: int
    origins: int
    quick_origins: int


CASES = (
    Case("realKnownCause/nyc_taxi.csv", 1800, 48, "next day", WEEK, 6 * 336, 120, 8),
    Case(
        "realKnownCause/machine_temperature_system_failure.csv",
        300,
        12,
        "next hour",
        DAY,
        7 * 288,
        300,
        20,
    ),
    Case("realTraffic/speed_6005.csv", 900, 4, "next hour", DAY, 7 * 96, 150, 12),
)


def read_points(path: Path) -> tuple[np.ndarray, np.ndarray, int]:
    """Times (seconds since the epoch) and values of one NAB data file, in time order, and
    how many times ran backwards in the file (machine_temperature has one hour written
    twice around 2014-01-07 02:00; the forecasters refuse unordered times, so sort here)."""
    with path.open(newline="") as f:
        rows = list(csv.reader(f))[1:]
    stamps = np.array([r[0] for r in rows], dtype="datetime64[s]").astype(np.int64)
    values = np.array([float(r[1]) for r in rows])
    backwards = int((np.diff(stamps) < 0).sum())
    order = np.argsort(stamps, kind="stable")
    return stamps[order].astype(np.float64), values[order], backwards


def evaluate(case: Case, data: Path, quick: bool) -> dict[str, Any]:
    times, values, backwards = read_points(data / "data" / case.file)
    series = resample(times, values, case.step)
    y = series.values
    m = round(case.season / case.step)
    first = max(case.window, 2 * m + 1)
    last = len(y) - case.horizon
    count = case.quick_origins if quick else case.origins
    origins = np.unique(np.linspace(first, last, count).astype(int))
    makers: dict[str, Callable[[], Forecaster]] = {
        "default": HarmonicAR,
        "naive": lambda: SeasonalNaive(case.season),
    }
    sums: dict[str, dict[str, list[float]]] = {k: {} for k in makers}
    for origin in origins:
        train = type(series)(series.start, series.step, y[:origin]).tail(case.window)
        truth = y[origin : origin + case.horizon]
        scale = seasonal_naive_scale(train.values, m)
        scale_1 = seasonal_naive_scale(train.values, 1)
        for key, make in makers.items():
            tally = sums[key]
            started = time.perf_counter()
            model = make().fit(train)
            fitted = time.perf_counter()
            forecasts = {level: model.predict(case.horizon, level) for level in LEVELS}
            done = time.perf_counter()
            point = forecasts[LEVELS[0]].value
            error = float(np.mean(np.abs(truth - point)))
            tally.setdefault("mase", []).append(error / scale)
            tally.setdefault("mase_m1", []).append(error / scale_1)
            tally.setdefault("fit_ms", []).append((fitted - started) * 1e3)
            tally.setdefault("predict_ms", []).append((done - fitted) * 1e3 / len(LEVELS))
            for level, f in forecasts.items():
                inside = (truth >= f.lower) & (truth <= f.upper)
                tally.setdefault(f"cover{level}", []).extend(inside.astype(float).tolist())
                tally.setdefault(f"width{level}", []).append(float(np.mean(f.upper - f.lower)))
    out: dict[str, Any] = {
        "series": case.file,
        "points": len(y),
        "backwards_in_file": backwards,
        "step_s": case.step,
        "horizon": case.horizon,
        "horizon_label": case.horizon_label,
        "m": m,
        "window": case.window,
        "origins": int(origins.size),
    }
    for key, tally in sums.items():
        prefix = "" if key == "default" else "naive_"
        out[f"{prefix}mase"] = round(float(np.mean(tally["mase"])), 3)
        out[f"{prefix}mase_m1"] = round(float(np.mean(tally["mase_m1"])), 3)
        for level in LEVELS:
            pct = round(level * 100)
            out[f"{prefix}coverage{pct}"] = round(float(np.mean(tally[f"cover{level}"])) * 100, 1)
            out[f"{prefix}width{pct}"] = round(float(np.mean(tally[f"width{level}"])), 3)
        out[f"{prefix}fit_ms"] = round(statistics.median(tally["fit_ms"]), 2)
        out[f"{prefix}predict_ms"] = round(statistics.median(tally["predict_ms"]), 2)
    return out


def main() -> None:
    threadpool_limits(1)  # figures are per core, and the machine is shared
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="NAB's folder")
    parser.add_argument("--quick", action="store_true", help="fewer origins per series")
    args = parser.parse_args()
    missing = [c.file for c in CASES if not (args.data / "data" / c.file).is_file()]
    if missing:
        print(f"--data {args.data}: no data/{missing[0]} there", file=sys.stderr)
        raise SystemExit(2)
    started = time.perf_counter()
    results = []
    for case in CASES:
        result = evaluate(case, args.data, args.quick)
        results.append(result)
        print(json.dumps(result), file=sys.stderr)
    goals = {
        r["series"]: r["mase"] < 1
        and all(abs(r[f"coverage{round(lv * 100)}"] - lv * 100) <= 5 for lv in LEVELS)
        for r in results
    }
    figures = {
        "forecaster": HarmonicAR.name,
        "version": HarmonicAR.version,
        "quick": args.quick,
        "series": results,
        "goals_met": goals,
        "seconds": round(time.perf_counter() - started, 1),
        "python": platform.python_version(),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
