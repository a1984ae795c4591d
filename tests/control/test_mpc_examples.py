"""The two runnable examples of docs/control-mpc.md run (for one day, to keep the test
short), print what the page shows and draw their figure."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from support import REPO


def load_example(name: str) -> ModuleType:
    path = REPO / "docs" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"docs_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_the_building_example_prints_and_plots(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "building.png"
    figures = load_example("control_building_example").main(days=1.0, out=out)
    printed = capsys.readouterr().out
    assert f"({figures['saving_pct']:.1f} % saved)" in printed
    assert "comfort violation (K·h, occupied): thermostat" in printed
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 20_000


@pytest.mark.slow
def test_the_factory_example_prints_and_plots(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "factory.png"
    figures = load_example("control_factory_example").main(days=1.0, out=out)
    printed = capsys.readouterr().out
    assert f"({figures['throughput_gain_pct']:+.1f} %)" in printed
    assert "(limit 120 °C)" in printed
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 20_000
