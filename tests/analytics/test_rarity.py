"""The default detector's newer steps on made-up streams: a move inside the range that the
stream never made scores, a stream that keeps leaving its time-of-day ranges earns less
for it, a day unlike the usual scores although every value is inside the ranges, and an
alarm can be followed by a quiet period. (The contract test covers the interface; NAB
measures the quality.)"""

from __future__ import annotations

import math

import numpy as np
import pytest

from twinsight.analytics.detectors import RarityDetector

T0 = 1_700_000_000.0
STEP = 300.0  # s, five-minute values as in most of NAB


def _triangle(n: int, seed: int = 0) -> list[float]:
    """Up and down between 0 and 10 in small steps (every slot of the day sees the whole
    range), with a little noise: only moves between neighbouring parts of the range."""
    rng = np.random.default_rng(seed)
    phase = np.arange(n) % 40
    return list(np.where(phase < 20, phase, 40 - phase) / 2.0 + rng.normal(0, 0.05, n))


def _run(detector: RarityDetector, values: list[float]) -> list[float]:
    return [detector.process_one(T0 + STEP * i, x) for i, x in enumerate(values)]


def test_a_jump_across_the_range_never_made_before_scores() -> None:
    values = [10.0, *_triangle(2_000)]  # the whole range from the start
    assert values[1_481] < 0.5
    values[1_482] = 9.5  # from the bottom to the top in one step, inside the range
    scores = _run(RarityDetector(), values)
    assert scores[1_482] >= 0.83
    assert max(scores[1_000:1_482]) < 0.83  # the usual moves do not
    without = _run(RarityDetector(transition=0.0), values)
    assert without[1_482] < 0.83  # it is this step that scores it


def test_a_stream_that_keeps_leaving_its_slot_ranges_earns_less_for_it() -> None:
    rng = np.random.default_rng(1)
    days = 12
    n = int(days * 86_400 / STEP)
    t = np.arange(n) * STEP
    noise = np.where(t < 4 * 86_400, 0.1, 0.6)  # restless after four days
    values = list(np.sin(2 * math.pi * t / 86_400) + rng.normal(0, 1, n) * noise)
    values[100] = 50.0  # an early spike widens the whole range: only slot ranges matter
    late = slice(int(8 * 86_400 / STEP), None)
    off = 10**9  # the day-departure step off: it would score the restless days too
    penalised = np.array(_run(RarityDetector(baseline_warmup=off), values))[late]
    plain = np.array(_run(RarityDetector(baseline_warmup=off, slot_penalty=0.0), values))[late]
    assert plain.max() > 0.5  # leaving a slot's range still scores without the penalty
    assert penalised.max() < plain.max()


def test_the_fused_path_is_the_split_path_on_a_long_stream() -> None:
    """The contract test's stream is too short for the move step (300 values of warm-up);
    this one has moves, slot exits and new extremes."""
    values = _triangle(3_000, seed=2)
    values[2_000:2_003] = [0.2, 9.8, 12.0]
    fused, split = RarityDetector(), RarityDetector()
    for i, x in enumerate(values):
        t = T0 + STEP * i
        a = fused.process_one(t, x)
        b = split.score_one(t, x)
        split.learn_one(t, x)
        assert a == pytest.approx(b, rel=1e-12, abs=1e-12), i
    assert fused.moves_seen == split.moves_seen and fused.slot_rate == split.slot_rate


def _daily(days: int, seed: int = 3) -> list[float]:
    """A daily sine between -1 and 1 with a little noise, five-minute values."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(days * 86_400 / STEP)) * STEP
    return list(np.sin(2 * math.pi * t / 86_400) + rng.normal(0, 0.05, len(t)))


def test_a_day_unlike_the_usual_scores_though_every_value_is_in_range() -> None:
    values = _daily(14)
    per_day = int(86_400 / STEP)
    flat = slice(10 * per_day, 11 * per_day)  # day ten stays at the middle: a holiday
    values[flat] = list(np.random.default_rng(4).normal(0, 0.05, per_day))
    # The slots' ranges would see this one too (a flat day leaves them): leave them out
    # so that the test shows what the day-departure step alone adds.
    no_slots = 10**9
    scores = _run(RarityDetector(slot_min=no_slots), values)
    assert max(scores[flat]) >= 0.7
    assert max(scores[7 * per_day : 10 * per_day]) < 0.7  # usual days, step on, do not
    without = _run(RarityDetector(slot_min=no_slots, baseline_warmup=10**9), values)
    assert max(without[flat]) < 0.7  # no other step sees it


def test_an_alarm_can_be_followed_by_a_quiet_period() -> None:
    values = _daily(3)
    values[600] = 5.0  # a new extreme: an alarm
    values[610] = 9.0  # a larger one ten values later, beating the record
    scores = _run(RarityDetector(quiet=20), values)
    assert scores[600] >= 0.8
    assert scores[610] == 0.0 and max(scores[601:620]) == 0.0
    loud = _run(RarityDetector(), values)  # the default: no quiet period
    assert loud[610] >= 0.8  # without the quiet period it would stand
    assert _run(RarityDetector(quiet=5), values)[610] >= 0.8  # and after it ends


def test_the_fused_path_is_the_split_path_with_the_day_departure_step() -> None:
    """Long enough for every step, with a changed day and non-finite values mixed in."""
    values = _daily(10, seed=5)
    values[2_200:2_300] = [0.1] * 100
    values[2_500] = math.nan
    values[2_600] = 4.0
    fused, split = RarityDetector(quiet=20), RarityDetector(quiet=20)
    for i, x in enumerate(values):
        t = T0 + STEP * i
        a = fused.process_one(t, x)
        b = split.score_one(t, x)
        split.learn_one(t, x)
        assert a == pytest.approx(b, rel=1e-12, abs=1e-12), i
    assert fused.departure == pytest.approx(split.departure, rel=1e-12)
    assert fused.exit_mean == pytest.approx(split.exit_mean, rel=1e-12)
    assert fused.since_alarm == split.since_alarm


@pytest.mark.parametrize(
    "arguments",
    [
        {"bins": 1},
        {"bins": 9},
        {"transition": 1.0},
        {"slot_penalty": -1.0},
        {"rate_alpha": 0},
        {"exit_rate": 0},
        {"exit_scale": -1.0},
        {"baseline": 1.0},
        {"baseline_k": 0.0},
        {"baseline_slot": 0.0},
        {"baseline_warmup": 1},
        {"quiet": -1},
        {"quiet_level": 0.0},
    ],
)
def test_bad_settings_are_refused(arguments: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RarityDetector(**arguments)  # type: ignore[arg-type]
