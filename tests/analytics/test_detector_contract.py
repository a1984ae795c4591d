"""The contract every anomaly detector keeps, run over every implementation.

Like river's ``check_estimator`` (and ``tests/sim/test_contract.py``): one set of checks,
applied to each case in ``detector_cases.py``; a further test fails when a concrete
detector in ``twinsight.analytics.detectors`` has no case.
"""

from __future__ import annotations

import importlib
import inspect
import math
import pkgutil
import random

import pytest

import twinsight.analytics.detectors as detectors_package
from analytics.detector_cases import CASES, Case
from twinsight.analytics.detectors.base import NON_FINITE_SCORE, Detector


@pytest.fixture(params=CASES, ids=[case.id for case in CASES])
def case(request: pytest.FixtureRequest) -> Case:
    return request.param  # type: ignore[no-any-return]


def _stream(n: int, seed: int = 7) -> list[tuple[float, float]]:
    """A noisy daily-ish sine with one spike and one level shift: enough to exercise
    every branch without being a benchmark."""
    rng = random.Random(seed)
    values = []
    for i in range(n):
        x = 10.0 + math.sin(i / 12.0) + rng.gauss(0.0, 0.1)
        if i == n // 2:
            x += 8.0
        if i > 3 * n // 4:
            x += 3.0
        values.append((1_700_000_000.0 + 300.0 * i, x))
    return values


def test_every_detector_has_a_case() -> None:
    found: set[type[Detector]] = set()
    for info in pkgutil.iter_modules(detectors_package.__path__):
        module = importlib.import_module(f"{detectors_package.__name__}.{info.name}")
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, Detector) and not inspect.isabstract(obj):
                found.add(obj)
    assert found, "no detector found"
    assert found <= {case.kind for case in CASES}, found - {case.kind for case in CASES}


def test_it_is_a_detector_with_a_name(case: Case) -> None:
    detector = case.build(0)
    assert isinstance(detector, Detector)
    assert detector.name and detector.name != Detector.name


def test_scores_are_floats_in_the_unit_interval(case: Case) -> None:
    detector = case.build(0)
    for t, x in _stream(400):
        score = detector.process_one(t, x)
        assert isinstance(score, float)
        assert 0.0 <= score <= 1.0, score


def test_the_spike_scores_above_the_usual(case: Case) -> None:
    """Not a quality bar — the benchmark is that — just that a score means something."""
    detector = case.build(0)
    stream = _stream(400)
    scores = [detector.process_one(t, x) for t, x in stream]
    usual = sorted(scores[100:199])[len(scores[100:199]) // 2]
    assert scores[200] > usual


def test_process_one_is_score_then_learn(case: Case) -> None:
    fused, split = case.build(3), case.build(3)
    for t, x in _stream(300):
        a = fused.process_one(t, x)
        b = split.score_one(t, x)
        split.learn_one(t, x)
        assert a == pytest.approx(b, rel=1e-12, abs=1e-12)


def test_scoring_has_no_side_effects(case: Case) -> None:
    detector = case.build(0)
    stream = _stream(200)
    for t, x in stream[:150]:
        detector.process_one(t, x)
    t, x = stream[150]
    assert detector.score_one(t, x) == detector.score_one(t, x)
    first = [detector.score_one(t, 99.0) for _ in range(3)]
    assert first == [first[0]] * 3


def test_same_seed_same_scores(case: Case) -> None:
    stream = _stream(300)
    runs = []
    for _ in range(2):
        detector = case.build(42)
        runs.append([detector.process_one(t, x) for t, x in stream])
    assert runs[0] == runs[1]


def test_restoring_a_snapshot_replays_the_same_future(case: Case) -> None:
    detector = case.build(0)
    stream = _stream(300)
    for t, x in stream[:150]:
        detector.process_one(t, x)
    fork = detector.snapshot()
    first = [detector.process_one(t, x) for t, x in stream[150:]]
    detector.restore(fork)
    second = [detector.process_one(t, x) for t, x in stream[150:]]
    assert first == second


def test_a_snapshot_of_another_kind_is_refused(case: Case) -> None:
    other = next(c for c in CASES if c.kind is not case.kind)
    with pytest.raises(ValueError, match="cannot restore"):
        case.build(0).restore(other.build(0).snapshot())


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_values_get_the_defined_score_and_leave_the_state_alone(
    case: Case, bad: float
) -> None:
    clean, dirty = case.build(0), case.build(0)
    stream = _stream(300)
    for i, (t, x) in enumerate(stream):
        if i % 50 == 25:
            assert dirty.score_one(t, bad) == NON_FINITE_SCORE
            assert dirty.process_one(t, bad) == NON_FINITE_SCORE
            dirty.learn_one(t, bad)
        assert clean.process_one(t, x) == dirty.process_one(t, x)


def test_a_constant_series_and_a_single_value_do_not_crash(case: Case) -> None:
    detector = case.build(0)
    assert 0.0 <= detector.score_one(0.0, 5.0) <= 1.0
    scores = [detector.process_one(float(i), 5.0) for i in range(100)]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert 0.0 <= detector.score_one(100.0, 6.0) <= 1.0
