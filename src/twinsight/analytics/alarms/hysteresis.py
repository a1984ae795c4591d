"""Hysteresis: when a noisy signal should raise an alarm, and when it should clear it.

Why: a value that wobbles around one threshold would raise and clear an alarm at every
wobble (alarm chatter, the first thing ISA-18.2 tells plants to remove). Two thresholds
and two counts fix it: the alarm is raised after ``raise_after`` consecutive samples at or
beyond ``raise_at`` and cleared only after ``clear_after`` consecutive samples back past
``clear_at``, a threshold on the safe side of ``raise_at``. Values in between hold the
present state and restart both counts.

>>> h = Hysteresis(raise_at=0.8, clear_at=0.5, raise_after=2, clear_after=2)
>>> [h.update(x) for x in (0.9, 0.6, 0.9, 0.95, 0.7, 0.4, 0.6, 0.4, 0.3)]
[None, None, None, 'raise', None, None, None, None, 'clear']

A value that is not a number (NaN, a dropped reading) says nothing: it is skipped, neither
counting nor restarting a count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Direction = Literal["above", "below"]
Transition = Literal["raise", "clear"]


@dataclass
class Hysteresis:
    """Raise/clear decisions for one signal (see the module notes). ``direction`` says
    which side is bad: ``above`` (a score, a level over its high limit) or ``below`` (a
    level under its low limit)."""

    raise_at: float
    clear_at: float
    raise_after: int = 1
    clear_after: int = 1
    direction: Direction = "above"
    active: bool = False
    _run: int = 0

    def __post_init__(self) -> None:
        if self.raise_after < 1 or self.clear_after < 1:
            raise ValueError("raise_after and clear_after must be at least 1")
        if self.direction not in ("above", "below"):
            raise ValueError(f"direction must be 'above' or 'below', not {self.direction!r}")
        if not (math.isfinite(self.raise_at) and math.isfinite(self.clear_at)):
            raise ValueError("raise_at and clear_at must be finite numbers")
        wrong_side = (
            self.clear_at > self.raise_at
            if self.direction == "above"
            else self.clear_at < self.raise_at
        )
        if wrong_side:
            side = "at or below" if self.direction == "above" else "at or above"
            raise ValueError(
                f"clear_at ({self.clear_at}) must lie {side} raise_at ({self.raise_at}) "
                f"for an alarm {self.direction} it"
            )

    def _bad(self, x: float) -> bool:
        return x >= self.raise_at if self.direction == "above" else x <= self.raise_at

    def _good(self, x: float) -> bool:
        return x < self.clear_at if self.direction == "above" else x > self.clear_at

    def update(self, x: float) -> Transition | None:
        """Take one sample; ``"raise"`` or ``"clear"`` on the sample that changes the
        state, else ``None``."""
        if not math.isfinite(x):
            return None
        if not self.active:
            self._run = self._run + 1 if self._bad(x) else 0
            if self._run >= self.raise_after:
                self.active, self._run = True, 0
                return "raise"
            return None
        self._run = self._run + 1 if self._good(x) else 0
        if self._run >= self.clear_after:
            self.active, self._run = False, 0
            return "clear"
        return None
