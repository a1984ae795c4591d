"""The virtual-plant benchmark (bench/plant.py) runs end to end at a tiny size: a two-line
factory's simulated devices publish through a real Mosquitto into the platform's ingest
path, and every message they published is stored (none lost, no dead letter)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from brokers import mosquitto, needs_mosquitto
from support import REPO


def load_bench(name: str) -> ModuleType:
    """A bench script as a module (by path: ``bench/`` is not a package, and its ``sim.py``
    must not shadow the tests' ``sim`` package)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@needs_mosquitto
def test_the_virtual_plant_benchmark_loses_nothing(tmp_path: Path) -> None:
    plant = load_bench("plant")
    with mosquitto(tmp_path / "broker", max_inflight=100) as broker:
        figures = plant.run_plant(broker.url, tmp_path / "hub", lines=2, seconds=120.0)
    # 2 lines x 4 simulated machines with a device, one message each per 5 s step.
    assert figures["devices"] == 8
    assert figures["published"] == 8 * 24
    assert figures["received"] == figures["ingested"] == figures["published"]
    assert figures["values_stored"] == figures["values_expected"] > figures["published"]
    assert figures["dead_letters"] == 0
    assert figures["zero_loss"] is True
    assert figures["speedup"] > 1
    assert figures["published_per_s"] > 0 and figures["ingested_per_s"] > 0
    assert figures["cpu_us_per_message"] > 0
