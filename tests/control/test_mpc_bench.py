"""bench/control.py --quick runs both worked cases for a day and prints its figures as
one JSON object on its last line; on that day the MPCs already meet the goals."""

from __future__ import annotations

import importlib.util
import json
import sys
from types import ModuleType

import pytest

from support import REPO


def load_bench(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_the_quick_control_benchmark_meets_its_goals(capsys: pytest.CaptureFixture[str]) -> None:
    load_bench("control").main(["--quick"])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    figures = json.loads(last)
    assert figures["quick"] is True and figures["building_days"] == figures["line_days"] == 1.0
    # Building: at least 15 % cheaper, no more discomfort, every LP solved to optimality.
    assert figures["building_saving_pct"] >= 15.0
    assert figures["building_cost_mpc"] < figures["building_cost_baseline"]
    assert figures["comfort_violation_mpc_kh"] <= figures["comfort_violation_baseline_kh"]
    assert figures["building_statuses"] == {"optimal": 96}
    # Line: more parts, a peak no hotter than the fixed speed's, both under 120 °C.
    assert figures["throughput_mpc"] > figures["throughput_baseline"]
    assert figures["peak_temperature_mpc"] <= figures["peak_temperature_baseline"] <= 120.0
    assert sum(figures["line_statuses"].values()) == 24
    assert figures["building_solve_ms_median"] > 0 and figures["line_solve_ms_max"] > 0
    assert all(figures["goals"].values())
