"""NAB's scoring rules on hand-worked series, so the benchmark's numbers can be trusted.

The corpus here: one series of 200 points (probationary period: 15 % = the first 30), one
window over points 100–119 (width 20). Worked values used below:

* a detection at the window's first point earns exactly ``tp`` (the curve is scaled so);
* at its last point it earns ``(2·sigmoid(-5·(-1/20)) - 1) / (2·sigmoid(5) - 1)`` ≈ 0.126;
* a false positive before any window costs the full ``fp``; missing the window costs ``fn``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from twinsight.analytics import nab

N = 200
START, END = 100, 119


def _series(scores: np.ndarray, windows: list[tuple[int, int]] | None = None) -> nab.Series:
    times = np.datetime64("2024-01-01T00:00") + np.arange(N) * np.timedelta64(5, "m")
    spans = [(START, END)] if windows is None else windows
    return nab.Series("s.csv", times, scores, [(times[a], times[b]) for a, b in spans])


def _detect_at(*indices: int) -> np.ndarray:
    scores = np.zeros(N)
    scores[list(indices)] = 1.0
    return scores


def _score(scores: np.ndarray, profile: nab.Profile = nab.STANDARD) -> nab.Result:
    return nab.score_corpus([_series(scores)], profile)


def test_the_perfect_detector_scores_100_and_the_null_detector_0() -> None:
    for profile in nab.PROFILES:
        assert _score(_detect_at(START), profile).score == pytest.approx(100.0)
        assert _score(np.full(N, 0.5), profile).score == pytest.approx(0.0)
        assert _score(np.zeros(N), profile).score == pytest.approx(0.0)


def test_the_raw_scores_of_null_and_perfect_are_the_profile_weights() -> None:
    r = _score(_detect_at(START), nab.REWARD_LOW_FN)
    assert r.perfect_raw == pytest.approx(1.0)
    assert r.null_raw == pytest.approx(-2.0)
    assert (r.tp, r.fp, r.fn) == (1, 0, 0)


def test_earlier_in_the_window_scores_more() -> None:
    start = _score(_detect_at(START)).score
    middle = _score(_detect_at(110)).score
    end = _score(_detect_at(END)).score
    assert start > middle > end > 0.0
    late = (2.0 / (1.0 + math.exp(-5.0 / 20)) - 1.0) / (2.0 / (1.0 + math.exp(-5.0)) - 1.0)
    # raw = late - 0 (no miss); null = -1, perfect = 1: score = 100 (late + 1) / 2
    assert end == pytest.approx(100.0 * (late + 1.0) / 2.0)


def test_only_the_first_detection_in_a_window_counts() -> None:
    assert _score(_detect_at(START, 105, END)).score == pytest.approx(100.0)


@pytest.mark.parametrize("profile", nab.PROFILES, ids=lambda p: p.name)
def test_a_false_positive_before_any_window_costs_the_profiles_fp_weight(
    profile: nab.Profile,
) -> None:
    r = _score(_detect_at(50, START), profile)
    assert r.raw == pytest.approx(profile.tp - profile.fp)
    assert (r.tp, r.fp, r.fn) == (1, 1, 0)
    spread = profile.tp + profile.fn
    assert r.score == pytest.approx(100.0 * (profile.tp - profile.fp + profile.fn) / spread)


def test_a_false_positive_just_after_a_window_costs_little_and_far_after_it_full() -> None:
    just_after = _score(_detect_at(START, END + 1)).raw
    far_after = _score(_detect_at(START, END + 3 * 19 + 5)).raw
    assert 1.0 - 0.11 < far_after + 1e-12 < just_after < 1.0
    assert far_after == pytest.approx(1.0 - 0.11)


def test_a_missed_window_costs_fn_and_the_threshold_drops_useless_detections() -> None:
    # Only false positives: the best threshold detects nothing — the null detector's score.
    r = _score(_detect_at(40, 60), nab.REWARD_LOW_FN)
    assert r.score == pytest.approx(0.0)
    assert (r.tp, r.fn) == (0, 1)


def test_detections_in_the_probationary_period_are_ignored() -> None:
    # A false positive at point 10 (< 30) is free; the same at point 40 costs.
    assert _score(_detect_at(10, START)).score == pytest.approx(100.0)
    assert _score(_detect_at(40, START)).score < 100.0
    assert nab.probationary_length(200) == 30
    assert nab.probationary_length(100_000) == 750


def test_the_threshold_is_chosen_to_maximise_the_score() -> None:
    # A high score inside the window and a lower one outside: the best threshold keeps the
    # first and drops the second.
    scores = np.zeros(N)
    scores[START] = 0.9
    scores[60] = 0.4
    r = _score(scores)
    assert r.score == pytest.approx(100.0)
    assert 0.4 < r.threshold <= 0.9


def test_one_threshold_serves_the_whole_corpus() -> None:
    a = np.zeros(N)
    a[START] = 0.9
    b = np.zeros(N)
    b[60] = 0.95  # a confident false alarm in the second series
    b[START] = 0.8
    r = nab.score_corpus([_series(a), _series(b)], nab.STANDARD)
    # Threshold 0.8 catches both windows and pays one fp: (2 - 0.11 + 2) / 4.
    assert r.score == pytest.approx(100.0 * (2.0 - 0.11 + 2.0) / 4.0)
    assert r.threshold == pytest.approx(0.8)


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="scores for"):
        _score(np.zeros(N - 1))
