"""The forecast benchmark (bench/forecast.py) runs end to end with --quick on a small
made-up NAB folder: seasonal series under NAB's file names, one of them with a time that
runs backwards (as NAB's machine_temperature has); it ends with one JSON line holding MASE,
coverage, widths and times for every series, and refuses a folder without the series."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from support import REPO

BENCH = REPO / "bench" / "forecast.py"
SERIES = {  # file: (step in seconds, number of points)
    "realKnownCause/nyc_taxi.csv": (1800, 6 * 336 + 200),
    "realKnownCause/machine_temperature_system_failure.csv": (300, 7 * 288 + 200),
    "realTraffic/speed_6005.csv": (900, 7 * 96 + 200),
}


def write_made_up_nab(root: Path) -> None:
    rng = np.random.default_rng(0)
    start = datetime(2014, 7, 1, tzinfo=UTC)
    for name, (step, count) in SERIES.items():
        path = root / "data" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        day = 86_400 / step
        i = np.arange(count)
        values = 50 + 10 * np.sin(2 * math.pi * i / day) + rng.normal(0, 1, count)
        stamps = [start + timedelta(seconds=step * k) for k in range(count)]
        if name.startswith("realKnownCause/machine"):
            stamps[1000], stamps[1001] = stamps[1001], stamps[1000]  # one step backwards
        rows = [f"{t:%Y-%m-%d %H:%M:%S},{v}" for t, v in zip(stamps, values, strict=True)]
        path.write_text("timestamp,value\n" + "\n".join(rows) + "\n")


def test_quick_run_ends_with_every_figure_for_every_series(tmp_path: Path) -> None:
    write_made_up_nab(tmp_path)
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--data", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=240,  # under a minute on an idle machine; the shared one may be busy
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["forecaster"] == "harmonic-ar" and figures["quick"] is True
    results = {r["series"]: r for r in figures["series"]}
    assert set(results) == set(SERIES)
    machine = results["realKnownCause/machine_temperature_system_failure.csv"]
    assert machine["backwards_in_file"] == 1
    assert (machine["m"], machine["horizon"]) == (288, 12)
    assert results["realKnownCause/nyc_taxi.csv"]["m"] == 336
    for r in results.values():
        assert r["origins"] >= 5
        # a clean daily sine: the default must beat the baseline's scale by far and its
        # intervals must hold about what they promise
        assert 0 < r["mase"] < 1 and r["naive_mase"] > 0
        assert 60 <= r["coverage80"] <= 100 and 80 <= r["coverage95"] <= 100
        assert 0 < r["width80"] < r["width95"]
        assert r["fit_ms"] > 0 and r["predict_ms"] > 0
    assert set(figures["goals_met"]) == set(SERIES)


def test_a_folder_without_the_series_is_refused_with_what_is_missing(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--data", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 2
    assert f"--data {tmp_path}: no data/realKnownCause/nyc_taxi.csv there" in done.stderr
    assert "Traceback" not in done.stderr
