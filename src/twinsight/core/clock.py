"""One clock interface with a wall clock and simulated clocks.

Everything that needs "now" takes a :class:`Clock`, so the same twin runs live on
:class:`WallClock`, paced faster than real time on :class:`ScaledClock` (a demo at 60×), or
as fast as the computer allows (and deterministically in tests) on :class:`ManualClock`,
which a simulation moves itself.

>>> clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
>>> clock.advance(90)
>>> clock.now().isoformat()
'2026-01-01T00:01:30+00:00'
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Tells the current time as an aware UTC datetime."""

    def now(self) -> datetime: ...


class WallClock:
    """The real time of the machine."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to: for tests and simulations."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime (e.g. tzinfo=UTC)")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds`` (never backwards)."""
        if seconds < 0:
            raise ValueError(f"a clock cannot go backwards (asked to advance {seconds} s)")
        self._now += timedelta(seconds=seconds)


class ScaledClock:
    """Simulated time that runs ``speed`` times faster than the machine's clock, from
    ``start`` (now, by default): the pace of a demo or a training run.

    >>> clock = ScaledClock(speed=3600.0)   # one simulated hour per real second
    >>> clock.speed
    3600.0
    """

    def __init__(self, speed: float, start: datetime | None = None) -> None:
        if not speed > 0 or speed == float("inf"):
            raise ValueError(f"a clock speed must be positive and finite, not {speed!r}")
        if start is not None and start.tzinfo is None:
            raise ValueError("ScaledClock needs an aware start (e.g. tzinfo=UTC)")
        self.speed = float(speed)
        self._start = start or datetime.now(UTC)
        self._origin = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(time.monotonic() - self._origin) * self.speed)
