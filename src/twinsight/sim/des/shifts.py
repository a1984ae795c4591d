"""A daily shift calendar: when a line works, as a pure function of model time.

Kept apart from the line so a process can ask "am I on shift, and until when?" in one call
and schedule exactly one event for the answer, instead of a shift process broadcasting
changes to every machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DAY = 86_400.0
_EDGE = 1e-6
"""Seconds within which a time counts as on a shift edge, so rounding in ``now + length``
can never leave a sliver of shift that would schedule a zero-length activity forever."""


@dataclass(frozen=True, slots=True)
class ShiftCalendar:
    """Work every day from ``shift_start_hour`` for ``shift_hours`` hours (two 8-hour
    shifts from 06:00 are ``ShiftCalendar(6, 6, 16)``: night off). ``start_hour`` is the
    clock time at model time 0. ``shift_hours`` of 24 means always on, 0 never."""

    start_hour: float = 6.0
    shift_start_hour: float = 6.0
    shift_hours: float = 16.0

    def at(self, t: float) -> tuple[bool, float]:
        """Whether the line works at model time ``t``, and the model time at which that
        next changes (``inf`` if never); the change is always later than ``t``."""
        length = self.shift_hours * 3600.0
        if length >= DAY:
            return True, math.inf
        if length <= 0.0:
            return False, math.inf
        x = (t + (self.start_hour - self.shift_start_hour) * 3600.0) % DAY
        if x >= DAY - _EDGE:
            x = 0.0
        if x < length - _EDGE:
            return True, t + (length - x)
        return False, t + (DAY - x)
