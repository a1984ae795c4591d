"""The motors' RUL model: simulated run-to-failure histories (failure = bearing wear
reaching 1), training with a conformalised 10–90 % interval measured on held-out motors,
and the ``twinsight rul train`` / ``registry`` commands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from support import MOTOR, add_factory_models
from twinsight.analytics.rul_motor import (
    RUL_CAP_HOURS,
    SEGMENT_CYCLES,
    MotorRulModel,
    evaluate,
    run_to_failure,
    simulate,
    train,
)
from twinsight.cli import app
from twinsight.hub import Hub

runner = CliRunner()


def test_motors_fail_where_their_wear_reaches_one() -> None:
    _, failure, wear_start, _ = run_to_failure(12, np.random.default_rng(3))
    failed = np.flatnonzero(np.isfinite(failure))
    assert len(failed) >= 3  # most motors wear out within the horizon
    for m in failed:
        period = int(failure[m] // 10_000)
        assert wear_start[period, m] < 1.0 <= wear_start[period + 1, m]


def test_histories_count_down_to_failure_capped() -> None:
    runs = simulate(6, seed=1, segments_per_motor=3)
    assert runs.fleet.sensors.shape == (6 * 3 * SEGMENT_CYCLES, 3)
    assert (runs.target >= 0).all() and (runs.target <= RUL_CAP_HOURS).all()
    first = runs.target[:SEGMENT_CYCLES]
    if first[0] < RUL_CAP_HOURS:  # ten minutes a cycle, counted down
        assert np.allclose(np.diff(first), -600 / 3600)
    vibration = runs.fleet.sensors[:, 0]
    assert vibration.min() > 0.5 and vibration.max() < 8.0  # mm/s, new to worn out


def test_training_measures_the_interval_on_held_out_motors() -> None:
    trained = train(20, held_out=8, segments_per_motor=6, max_iter=30)
    metrics = trained.evaluation.metrics()
    assert set(metrics) >= {"rmse_hours", "interval_coverage", "median_abs_error_hours"}
    assert 0.5 <= metrics["interval_coverage"] <= 1.0
    assert trained.training["failure"].startswith("bearing wear reaches 1")
    test = simulate(5, seed=99, segments_per_motor=2)
    low, mid, high = trained.model.predict_all(test.fleet)
    assert (low <= mid).all() and (mid <= high).all()
    assert evaluate(trained.model, test).segments == 10


def test_too_small_a_training_set_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 10 motors"):
        train(3)
    with pytest.raises(ValueError, match="no cycles"):
        MotorRulModel().predict_history(np.zeros((0, 3)))


def test_cli_trains_registers_attaches_lists_and_activates(tmp_path: Path) -> None:
    with Hub(tmp_path) as hub:
        add_factory_models(hub)
    args = ["--data-dir", str(tmp_path), "--motors", "12", "--held-out", "5", "--max-iter", "10"]
    trained = runner.invoke(app, ["rul", "train", *args, "--json"])
    assert trained.exit_code == 0, trained.output
    assert json.loads(trained.stdout)["version"] == 1
    runner.invoke(app, ["rul", "train", *args, "--seed", "2"])
    listed = runner.invoke(app, ["registry", "list", "--data-dir", str(tmp_path), "--json"])
    rows = json.loads(listed.stdout)
    assert [(r["version"], r["active"]) for r in rows] == [(1, False), (2, True)]
    assert rows[0]["metrics"]["interval_coverage"] > 0
    back = runner.invoke(app, ["registry", "activate", "motor-rul", "1", "-d", str(tmp_path)])
    assert back.exit_code == 0
    missing = runner.invoke(app, ["registry", "activate", "motor-rul", "7", "-d", str(tmp_path)])
    assert missing.exit_code == 1 and "no version 7" in missing.output
    with Hub(tmp_path) as hub:
        assert hub.registry.active_version("motor-rul") == 1
        assert [(a.target_kind, a.target) for a in hub.registry.attachments()] == [("model", MOTOR)]


def test_bench_quick_ends_with_its_json_figures() -> None:
    import subprocess
    import sys

    from support import REPO

    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "rul_motor.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["benchmark"] == "rul-motor" and figures["quick"] is True
    assert 0.0 < figures["interval_coverage"] <= 1.0 and figures["held_out_segments"] == 80
