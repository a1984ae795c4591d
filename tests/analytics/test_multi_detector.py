"""The multi-stream detector contract (its own, beside the one-stream one): scores in
[0, 1], the same for the same seed and vectors, snapshot/restore fork the state, a missing
stream or a non-finite value is scored 0 with a reason and not learnt — and the point of
it: a vector breaking a usual correlation scores high though each value is ordinary."""

from __future__ import annotations

import math

import numpy as np
import pytest

from twinsight.analytics.detectors.base import NON_FINITE_SCORE
from twinsight.analytics.detectors.multi import (
    MahalanobisDetector,
    make_multi_detector,
    multi_detector_classes,
)

STREAMS = ("speed", "current")


def _healthy(seed: int, n: int) -> list[dict[str, float]]:
    """Current follows speed (a motor's load), both with sensor noise."""
    rng = np.random.default_rng(seed)
    speed = 1450.0 + 50.0 * np.sin(np.arange(n) / 40.0) + rng.normal(0, 2.0, n)
    current = 0.01 * speed + rng.normal(0, 0.05, n)
    return [{"speed": float(s), "current": float(c)} for s, c in zip(speed, current, strict=True)]


@pytest.mark.parametrize("name", sorted(multi_detector_classes()))
def test_contract_scores_in_range_deterministic_and_forkable(name: str) -> None:
    data = _healthy(1, 400)
    first = make_multi_detector(name, STREAMS, {"seed": 7})
    second = make_multi_detector(name, STREAMS, {"seed": 7})
    a = [first.process_one(i, v) for i, v in enumerate(data[:300])]
    b = [second.process_one(i, v) for i, v in enumerate(data[:300])]
    assert a == b
    assert all(0.0 <= s <= 1.0 for s in a)
    snap = first.snapshot()
    ahead = [first.process_one(300 + i, v) for i, v in enumerate(data[300:])]
    first.restore(snap)
    again = [first.process_one(300 + i, v) for i, v in enumerate(data[300:])]
    assert ahead == again


@pytest.mark.parametrize("name", sorted(multi_detector_classes()))
def test_contract_missing_or_non_finite_scores_zero_with_a_reason_and_is_not_learnt(
    name: str,
) -> None:
    detector = make_multi_detector(name, STREAMS, {})
    for i, v in enumerate(_healthy(2, 200)):
        detector.process_one(i, v)
    snap = detector.snapshot()
    for bad in ({"speed": 1450.0}, {"speed": math.nan, "current": 14.5}, {"current": math.inf}):
        assert detector.process_one(300, bad) == NON_FINITE_SCORE
        assert detector.last_reason is not None and "not learnt" in detector.last_reason
    assert detector.process_one(301, {"current": 1.0}) == NON_FINITE_SCORE
    assert detector.last_reason is not None and "'speed' is missing" in detector.last_reason
    probe = {"speed": 1450.0, "current": 14.5}
    forked = make_multi_detector(name, STREAMS, {})
    forked.restore(snap)
    assert detector.score_one(302, probe) == forked.score_one(302, probe)  # state untouched
    assert detector.last_reason is None


def test_an_unusual_combination_scores_high_though_each_value_is_ordinary() -> None:
    detector = MahalanobisDetector(STREAMS)
    data = _healthy(3, 2000)
    scores = [detector.process_one(i, v) for i, v in enumerate(data)]
    assert max(scores[100:]) < 0.99995  # healthy: no extreme score
    # Current up by ~1 A (within its range over the speed swing) while speed stays at
    # its mean: each value ordinary, the pair is not.
    odd = {"speed": 1450.0, "current": 14.5 + 0.4}
    assert 1400 * 0.01 < odd["current"] < 1500 * 0.01
    assert detector.score_one(2000, odd) > 0.9999
    assert detector.score_one(2000, {"speed": 1450.0, "current": 14.5}) < 0.9


def test_bad_construction_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="at least two different streams"):
        MahalanobisDetector(("speed",))
    with pytest.raises(ValueError, match="unknown multi-stream detector 'nope'"):
        make_multi_detector("nope", STREAMS, {})
    with pytest.raises(ValueError, match="alpha"):
        make_multi_detector("mahalanobis", STREAMS, {"alpha": 2})
