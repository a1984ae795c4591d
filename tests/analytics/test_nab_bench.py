"""The NAB benchmark (bench/nab.py) runs end to end on its quick subset: it writes NAB's
results layout and ends with one JSON line whose scores are in NAB's range."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from support import REPO, shared_data


@pytest.mark.slow
def test_quick_run_writes_the_results_layout_and_the_three_profiles(tmp_path: Path) -> None:
    nab = shared_data() / "nab"
    if not (nab / "data").is_dir():
        pytest.skip("NAB's data is not next to the repository")
    command = [sys.executable, str(REPO / "bench" / "nab.py"), "--quick"]
    done = subprocess.run(
        [*command, "--data", str(nab), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["detector"] == "rarity"
    assert figures["series"] == 14
    for profile in ("standard", "reward_low_FP_rate", "reward_low_FN_rate"):
        assert -100.0 <= figures[profile] <= 100.0
    for half in ("standard_odd_series", "standard_even_series"):
        assert -100.0 <= figures[half] <= 100.0  # each half scored with its own threshold
    assert figures["standard_odd_series"] != figures["standard"]
    assert figures["throughput_values_per_cpu_s"] > 0
    files = sorted(tmp_path.glob("rarity/*/rarity_*.csv"))
    assert len(files) == 14
    target = tmp_path / "rarity" / "realKnownCause"
    with (target / "rarity_ambient_temperature_system_failure.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["timestamp", "value", "anomaly_score", "label"]
    assert {r["label"] for r in rows} == {"0", "1"}
    assert all(0.0 <= float(r["anomaly_score"]) <= 1.0 for r in rows)


def test_a_folder_that_is_not_nab_is_refused_with_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "nab.py"), "--quick", "--data", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 2
    assert f"--data {tmp_path}: no labels/combined_windows.json there" in done.stderr
    assert "Traceback" not in done.stderr
