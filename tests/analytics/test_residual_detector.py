"""The residual detector on made-up residuals: what its score means, that a small steady
bias is found, and that a long fault is not learnt away (the contract test runs the rest)."""

from __future__ import annotations

import numpy as np
import pytest

from twinsight.analytics.detectors import ResidualDetector


def _scores(detector: ResidualDetector, values: np.ndarray) -> np.ndarray:
    return np.array([detector.process_one(float(i), float(x)) for i, x in enumerate(values)])


def test_a_healthy_standardized_residual_scores_evenly_and_seldom_alarms() -> None:
    z = np.random.default_rng(1).normal(0.0, 1.0, 20_000)
    scores = _scores(ResidualDetector(scale=1.0), z)
    # 1 - p of the larger of two tests: about uniform, leaning high
    assert 0.5 < float(np.median(scores)) < 0.75
    assert float(np.mean(scores > 0.999)) < 0.004


def test_the_scale_is_learnt_when_the_caller_gives_none() -> None:
    residual = np.random.default_rng(2).normal(0.0, 3.0, 20_000)
    learnt = _scores(ResidualDetector(), residual)[2_000:]
    known = _scores(ResidualDetector(scale=3.0), residual)[2_000:]
    assert float(np.mean(learnt > 0.999)) < 0.004
    assert float(np.mean(np.abs(learnt - known) < 0.05)) > 0.9


def test_a_start_up_transient_does_not_inflate_a_learnt_scale() -> None:
    """A filter still finding its state leaves a few huge residuals first."""
    rng = np.random.default_rng(6)
    residual = rng.normal(0.0, 1.0, 5_000)
    residual[:10] = 40.0
    scores = _scores(ResidualDetector(), residual)
    # a 4-sigma residual after the start still scores as one
    assert ResidualDetector(scale=1.0).score_one(0.0, 4.0) > 0.9999
    detector = ResidualDetector()
    _scores(detector, residual)
    assert detector.score_one(0.0, 4.0) > 0.999
    assert float(np.mean(scores[100:] > 0.999)) < 0.004


def test_a_bias_smaller_than_the_noise_is_found_by_the_mean_test() -> None:
    """Half a standard deviation at every sample: invisible one value at a time."""
    rng = np.random.default_rng(3)
    z = np.concatenate([rng.normal(0.0, 1.0, 3_000), rng.normal(0.5, 1.0, 1_000)])
    scores = _scores(ResidualDetector(scale=1.0), z)
    assert scores[:3_000].max() < 0.99995  # one in 20 000 by chance; 3 000 values here
    first = int(np.argmax(scores[3_000:] > 0.999999))
    assert scores[3_000 + first] > 0.999999 and first < 300


def test_a_long_fault_is_not_learnt_away() -> None:
    """A learnt scale freezes while the residual is biased, so an hour-long fault still
    scores at the end as at the start."""
    rng = np.random.default_rng(4)
    residual = np.concatenate([rng.normal(0.0, 1.0, 2_000), rng.normal(1.0, 1.0, 10_000)])
    scores = _scores(ResidualDetector(), residual)
    assert float(np.mean(scores[-2_000:] > 0.9999)) > 0.95


def test_a_student_t_tail_is_more_forgiving_of_one_large_residual() -> None:
    normal, heavy = ResidualDetector(scale=1.0), ResidualDetector(scale=1.0, df=3.0)
    assert heavy.score_one(0.0, 3.5) < normal.score_one(0.0, 3.5) < 1.0
    assert normal.score_one(0.0, 0.0) == 0.0


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"scale": 0.0}, "scale must be positive"),
        ({"scale": float("nan")}, "scale must be positive"),
        ({"mean_alpha": 1.0}, "mean_alpha must lie in"),
        ({"scale_alpha": 0.0}, "scale_alpha must lie in"),
        ({"df": -1.0}, "df must be positive"),
        ({"clip": 0.0}, "clip and freeze"),
        ({"warmup": 0}, "warmup"),
    ],
)
def test_bad_settings_are_refused_by_name(arguments: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ResidualDetector(**arguments)  # type: ignore[arg-type]
