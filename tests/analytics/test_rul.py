"""Remaining useful life: the capped target, the two scores on hand-worked numbers, a model
that beats a constant guess on engines it never saw, clear errors for bad files, and the
benchmark's prediction files."""

from __future__ import annotations

import gzip
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from support import REPO, shared_data
from twinsight.analytics.rul import (
    RUL_CAP,
    CmapssFormatError,
    Fleet,
    RulModel,
    load_fleet,
    load_true_rul,
    phm08_score,
    rmse,
    rul_target,
)


def _line(unit: int, cycle: int, sensor: float) -> str:
    return " ".join([str(unit), str(cycle), "0.0", "0.0", "100.0"] + [f"{sensor:.4f}"] * 21)


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    return path


def test_target_is_capped_and_reaches_zero_at_each_units_last_cycle(tmp_path: Path) -> None:
    lines = [_line(1, c, 1.0) for c in range(1, 201)] + [_line(2, c, 1.0) for c in range(1, 51)]
    fleet = load_fleet(_write(tmp_path / "train.txt", lines))
    target = rul_target(fleet)
    assert target.max() == RUL_CAP
    assert target[fleet.last_rows()].tolist() == [0.0, 0.0]
    unit1 = target[fleet.unit == 1]
    assert unit1[:75].tolist() == [125.0] * 75  # 199 ... 125 cycles left, all capped
    assert unit1[75:].tolist() == [float(n) for n in range(124, -1, -1)]
    assert target[fleet.unit == 2].tolist() == [float(n) for n in range(49, -1, -1)]


def test_rows_are_read_in_unit_then_cycle_order_from_gzip(tmp_path: Path) -> None:
    path = tmp_path / "train.txt.gz"
    with gzip.open(path, "wt", encoding="ascii") as handle:
        handle.write("\n".join([_line(2, 1, 1.0), _line(1, 2, 1.0), _line(1, 1, 1.0)]) + "\n")
    fleet = load_fleet(path)
    assert fleet.unit.tolist() == [1, 1, 2]
    assert fleet.cycle.tolist() == [1, 2, 1]
    assert fleet.last_rows().tolist() == [1, 2]


def test_phm08_score_and_rmse_on_hand_worked_numbers() -> None:
    predicted = [10.0, 20.0, 30.0]
    true = [23.0, 20.0, 20.0]  # d = -13 (early), 0, +10 (late)
    assert phm08_score(predicted, true) == pytest.approx((math.e - 1) + 0.0 + (math.e - 1))
    assert rmse(predicted, true) == pytest.approx(math.sqrt((169 + 0 + 100) / 3))
    # Late costs more than early by the same amount.
    assert phm08_score([30.0], [20.0]) > phm08_score([10.0], [20.0])


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("1 1 0.0", "expected 26 numbers, found 3"),
        (" ".join(["1", "1", "x"] + ["0"] * 23), "not a number"),
        (" ".join(["1", "1", "nan"] + ["0"] * 23), "not finite"),
    ],
)
def test_a_bad_line_names_the_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = _write(tmp_path / "train_FD009.txt", [_line(1, 1, 1.0), line])
    with pytest.raises(CmapssFormatError, match=message) as raised:
        load_fleet(path)
    assert "train_FD009.txt:2:" in str(raised.value)


def test_a_bad_true_rul_file_names_the_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "RUL_FD009.txt", ["12", "3O"])
    with pytest.raises(CmapssFormatError, match=r"RUL_FD009\.txt:2: not a number"):
        load_true_rul(path)


def _subset(fleet: Fleet, units: set[int]) -> Fleet:
    rows = np.isin(fleet.unit, sorted(units))
    return Fleet(fleet.unit[rows], fleet.cycle[rows], fleet.settings[rows], fleet.sensors[rows])


def test_a_model_trained_on_a_slice_beats_a_constant_on_held_out_engines() -> None:
    path = shared_data() / "cmapss" / "train_FD001.txt.gz"
    if not path.exists():
        pytest.skip("C-MAPSS is not next to the repository")
    fleet = load_fleet(path)
    train, held_out = _subset(fleet, set(range(1, 31))), _subset(fleet, set(range(81, 101)))
    model = RulModel(seeds=1, max_iter=60, learning_rate=0.1).fit(train)
    # Score every cycle of the held-out engines against their capped target.
    true = rul_target(held_out)
    constant = np.full_like(true, rul_target(train).mean())
    model_error = rmse(model.predict_all(held_out), true)
    assert model_error < 0.6 * rmse(constant, true)


def _synthetic_engine(unit: int, cycles: int, rng: np.random.Generator) -> list[str]:
    lines = []
    for cycle in range(1, cycles + 1):
        wear = cycle / cycles
        sensors = [f"{100 + 5 * wear * (s + 1) + rng.normal(0, 0.3):.4f}" for s in range(21)]
        lines.append(" ".join([str(unit), str(cycle), "0.0", "0.0", "100.0", *sensors]))
    return lines


@pytest.mark.slow
def test_the_benchmark_writes_one_prediction_per_test_engine(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    data = tmp_path / "cmapss"
    data.mkdir()
    for subset in ("FD001", "FD002", "FD003", "FD004"):
        train = [line for u in range(1, 9) for line in _synthetic_engine(u, 60 + 5 * u, rng)]
        test = [line for u in range(1, 4) for line in _synthetic_engine(u, 40, rng)[:30]]
        _write(data / f"train_{subset}.txt", train)
        _write(data / f"test_{subset}.txt", test)
        _write(data / f"RUL_{subset}.txt", ["10", "10", "10"])
    command = [sys.executable, str(REPO / "bench" / "rul.py"), "--quick", "--data", str(data)]
    done = subprocess.run(
        [*command, "--predict-out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["FD001"]["engines"] == 3
    assert figures["FD003"]["rmse"] >= 0
    for subset in ("FD002", "FD004"):
        lines = (tmp_path / "out" / f"{subset}.txt").read_text().splitlines()
        assert len(lines) == 3
        assert all(0 <= float(line) <= RUL_CAP for line in lines)
