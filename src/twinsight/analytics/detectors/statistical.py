"""A robust z-score over exponentially weighted statistics: the cheap default detector.

Why this shape: a value is odd when it is far from the recent level *in units of the
recent spread*. An exponentially weighted mean and mean absolute deviation give both in
O(1) time and memory per value, with no window to store. Two things make it robust:

* the spread learns from residuals clipped at ``clip`` times itself, so one spike does not
  inflate the spread and hide the next one (the robust part of "robust z-score");
* the level adapts at ``alpha``, so after a genuine shift the detector settles on the new
  level instead of alarming for ever.

The score ``z / (z + half)`` maps ``z`` in ``[0, inf)`` monotonically onto ``[0, 1)``:
``half`` is the ``z`` that scores 0.5. A monotone map keeps every threshold meaningful.
"""

from __future__ import annotations

import math

from twinsight.analytics.detectors.base import NON_FINITE_SCORE, Detector, is_finite
from twinsight.analytics.detectors.robust import robust_update


class RobustZScoreDetector(Detector):
    """EWMA level, clipped EW mean-absolute-deviation spread, score from their z-score."""

    name = "robust_z"

    def __init__(
        self,
        *,
        alpha: float = 0.05,
        spread_alpha: float = 0.01,
        clip: float = 4.0,
        half: float = 4.0,
        warmup: int = 20,
        seed: int = 0,
    ) -> None:
        """``seed`` is accepted for the uniform interface; this detector uses no randomness."""
        if not (0.0 < alpha <= 1.0 and 0.0 < spread_alpha <= 1.0):
            raise ValueError("alpha and spread_alpha must lie in (0, 1]")
        if clip <= 0 or half <= 0 or warmup < 1:
            raise ValueError("clip and half must be positive and warmup at least 1")
        self.alpha = alpha
        self.spread_alpha = spread_alpha
        self.clip = clip
        self.half = half
        self.warmup = warmup
        self.seed = seed
        self.n = 0
        self.level = 0.0
        self.spread = 0.0

    def _z(self, x: float) -> float:
        residual = abs(x - self.level)
        # A floor relative to the level keeps a constant series from dividing by zero
        # while still flagging its first change as maximally odd.
        floor = 1e-9 * (abs(self.level) + 1.0)
        return residual / (self.spread + floor)

    def score_one(self, t: float, x: float) -> float:
        if not is_finite(x) or self.n < self.warmup:
            return NON_FINITE_SCORE if not math.isfinite(x) else 0.0
        z = self._z(x)
        return z / (z + self.half)

    def learn_one(self, t: float, x: float) -> None:
        if not is_finite(x):
            return
        self.n += 1
        self.level, self.spread = robust_update(
            self.level,
            self.spread,
            x,
            self.n,
            alpha=self.alpha,
            spread_alpha=self.spread_alpha,
            clip=self.clip,
            warmup=self.warmup,
        )

    def process_one(self, t: float, x: float) -> float:
        """Score then learn in one pass (the hot path of a live stream and of NAB): the
        arithmetic of :func:`.robust.robust_update`, inlined."""
        if x - x != 0.0:  # NaN or ±inf, without a function call on the hot path
            return self.score_one(t, x)
        n = self.n
        level = self.level
        spread = self.spread
        residual = x - level
        deviation = residual if residual >= 0.0 else -residual
        if n < self.warmup:
            score = 0.0
        else:
            z = deviation / (spread + 1e-9 * ((level if level >= 0.0 else -level) + 1.0))
            score = z / (z + self.half)
        n += 1
        self.n = n
        if n == 1:
            self.level = x
            return score
        if n > self.warmup and spread > 0.0:
            deviation = min(deviation, self.clip * spread)
        inv = 1.0 / n
        rate = self.spread_alpha if self.spread_alpha > inv else inv
        self.spread = spread + rate * (deviation - spread)
        rate = self.alpha if self.alpha > inv else inv
        self.level = level + rate * residual
        return score
