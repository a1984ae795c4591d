"""The clocks the same twin runs on, live or faster than real time (core/clock.py)."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta

import pytest

from twinsight.core.clock import Clock, ManualClock, ScaledClock, WallClock

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _elapsed(clock: Clock, wall_seconds: float) -> tuple[float, float, float]:
    """Simulated seconds the clock moved while the machine's clock moved by at least
    ``wall_seconds``, with the machine's seconds measured just inside and just outside
    that interval (the bounds the simulated time must fall between, once scaled)."""
    outer_start = time.monotonic()
    first = clock.now()
    inner_start = time.monotonic()
    while time.monotonic() - inner_start < wall_seconds:
        pass  # spin: waiting is what is measured here
    inner_end = time.monotonic()
    last = clock.now()
    outer_end = time.monotonic()
    return (
        (last - first).total_seconds(),
        inner_end - inner_start,
        outer_end - outer_start,
    )


def test_a_scaled_clock_runs_its_speed_times_faster_than_the_machine() -> None:
    clock = ScaledClock(speed=3600.0, start=T0)
    assert clock.now() - T0 < timedelta(minutes=10)  # starts at its start
    simulated, at_least, at_most = _elapsed(clock, 0.02)
    assert 3600.0 * at_least <= simulated <= 3600.0 * at_most
    assert simulated >= 60.0  # 20 ms of the machine's time is over a simulated minute


def test_a_wall_clock_keeps_real_time_in_utc() -> None:
    clock = WallClock()
    assert clock.now().tzinfo is not None and clock.now().utcoffset() == timedelta(0)
    simulated, at_least, at_most = _elapsed(clock, 0.02)
    # The machine's clocks (time of day and monotonic) may disagree a little; not 10×.
    assert 0.5 * at_least <= simulated <= 2.0 * at_most + 0.01


def test_a_manual_clock_moves_only_when_told_and_never_back() -> None:
    clock = ManualClock(T0)
    assert clock.now() == T0
    clock.advance(90.5)
    assert clock.now() == T0 + timedelta(seconds=90.5)
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1.0)
    assert clock.now() == T0 + timedelta(seconds=90.5)


@pytest.mark.parametrize("speed", [0.0, -60.0, math.inf, math.nan])
def test_a_scaled_clock_refuses_a_speed_that_is_not_positive_and_finite(speed: float) -> None:
    with pytest.raises(ValueError, match="positive and finite"):
        ScaledClock(speed)


def test_clocks_refuse_a_naive_start() -> None:
    naive = datetime(2026, 1, 1)
    with pytest.raises(ValueError, match="aware"):
        ScaledClock(60.0, start=naive)
    with pytest.raises(ValueError, match="aware"):
        ManualClock(naive)
