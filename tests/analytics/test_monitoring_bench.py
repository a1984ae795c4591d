"""bench/monitoring.py --quick runs end to end: its injected excursions raise and clear
alarms both ways in (messages and packs), and it ends with one JSON line of figures."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from support import REPO


@pytest.mark.slow
def test_quick_run_raises_alarms_and_prints_its_figures() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "monitoring.py"), "--quick"],
        capture_output=True,
        text=True,
        check=True,
        timeout=180,
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["bench"] == "monitoring"
    assert figures["samples_per_run"] == 3 * 7 * 600  # 3 lines, 7 watched names, 600 times
    assert figures["alarms_per_run"] == figures["alarms_per_run_packs"] == [1]
    for name in ("messages", "packs", "messages_runner_alone", "packs_runner_alone"):
        assert figures[f"{name}_samples_per_s_median"] > 0
