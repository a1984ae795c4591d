"""How unlikely is what the model did not explain: a detector on a model's residual.

A twin has what a plain detector lacks: a physics model that predicts each measurement
from the inputs (a state estimator publishes that prediction before each update, with
its standard deviation). The residual — measured minus predicted — stays small and
patternless while the machine behaves as modelled, whatever the load does; a fault the
model does not know (lost cooling, a rubbing bearing) shows up there, while on the raw
value it hides among the load's far larger swings. This detector's stream is that
residual, one value at a time, either as it is (then it learns the residual's scale) or
already divided by the predicted standard deviation by the caller (``scale=1.0``).

Two questions, each answered as a probability, the score being the larger:

* **Is this residual unlikely?** ``z = residual / scale``; the score is ``1 - p`` with
  ``p`` the two-sided tail probability of ``|z|`` under a normal distribution (or a
  Student-t with ``df`` degrees of freedom, for residuals with heavier tails). A healthy
  stream's scores are spread evenly over ``[0, 1]``; a threshold of 0.999 is one false
  alarm in a thousand values.
* **Has the residual stopped averaging zero?** A growing fault is often smaller than
  the noise at every sample, and a Kalman filter absorbs part of it into its states, but
  it leaves the residual biased. An exponentially weighted mean of ``z`` (each ``z``
  clipped at ``clip``, weight ``mean_alpha``) has a known spread around 0 when the model
  is right (``sqrt(a / (2 - a))`` for white residuals); its distance from 0 in that
  spread is scored the same way.

Learning is deliberately slow and guarded, so a fault is not learnt away: the scale (an
exponentially weighted mean absolute residual, turned into a standard deviation by
``sqrt(pi / 2)``, starting from the median of the first ``warmup`` residuals so that a
filter's start-up transient does not inflate it) moves at ``scale_alpha``, learns each
residual clipped at ``clip`` scales, and does not learn at all while the mean test is
beyond ``freeze`` spreads — the residual then says the model no longer fits, not that
the noise grew.
"""

from __future__ import annotations

import math
import statistics

from scipy.special import stdtr

from twinsight.analytics.detectors.base import NON_FINITE_SCORE, Detector, is_finite

_MAD_TO_STD = math.sqrt(math.pi / 2.0)
"""A normal distribution's standard deviation over its mean absolute deviation."""
_SQRT2 = math.sqrt(2.0)


class ResidualDetector(Detector):
    """Tail probability of a model residual, and of its recent mean (see module)."""

    name = "residual"

    def __init__(
        self,
        *,
        scale: float | None = None,
        scale_alpha: float = 0.002,
        mean_alpha: float = 0.01,
        clip: float = 4.0,
        freeze: float = 3.0,
        df: float | None = None,
        warmup: int = 30,
        seed: int = 0,
    ) -> None:
        """``scale``: the residual's standard deviation when known (1.0 for residuals the
        caller divided by the predicted std); ``None`` learns it. ``warmup`` values are
        learnt before a learnt scale is trusted. ``seed`` is accepted for the uniform
        interface; this detector uses no randomness."""
        if scale is not None and not (math.isfinite(scale) and scale > 0):
            raise ValueError(f"scale must be positive and finite, or None to learn it: {scale}")
        for label, rate in (("scale_alpha", scale_alpha), ("mean_alpha", mean_alpha)):
            if not 0.0 < rate < 1.0:
                raise ValueError(f"{label} must lie in (0, 1), got {rate}")
        if not (clip > 0 and freeze > 0):
            raise ValueError("clip and freeze must be positive")
        if df is not None and not df > 0:
            raise ValueError(f"df must be positive, or None for a normal tail: {df}")
        if warmup < 1:
            raise ValueError("warmup must be at least 1")
        self.fixed_scale = scale
        self.scale_alpha = scale_alpha
        self.mean_alpha = mean_alpha
        self.clip = clip
        self.freeze = freeze
        self.df = df
        self.warmup = warmup if scale is None else 0
        self.seed = seed
        self.mean_spread = math.sqrt(mean_alpha / (2.0 - mean_alpha))
        self.n = 0
        self.mean_abs = 0.0
        self.mean_z = 0.0
        self.first: list[float] = []
        """The first ``warmup`` absolute residuals, while the scale is not yet trusted."""

    # ------------------------------------------------------------------ helpers

    def _scale(self) -> float:
        if self.fixed_scale is not None:
            return self.fixed_scale
        return max(self.mean_abs * _MAD_TO_STD, 1e-12)

    def _confidence(self, z: float) -> float:
        """``1 - p``: one minus the two-sided tail probability of ``|z|``."""
        magnitude = abs(z)
        if self.df is None:
            return math.erf(magnitude / _SQRT2)
        return 1.0 - 2.0 * float(stdtr(self.df, -magnitude))

    def _mean_with(self, x: float) -> float:
        """The mean of the clipped ``z`` once ``x`` is in it, under the current state."""
        z = max(-self.clip, min(self.clip, x / self._scale()))
        return self.mean_z + self.mean_alpha * (z - self.mean_z)

    # ------------------------------------------------------------------ interface

    def score_one(self, t: float, x: float) -> float:
        if not is_finite(x):
            return NON_FINITE_SCORE
        if self.n < self.warmup:
            return 0.0
        z = x / self._scale()
        mean = self._mean_with(x)
        score = max(self._confidence(z), self._confidence(mean / self.mean_spread))
        return min(1.0, max(0.0, score))

    def learn_one(self, t: float, x: float) -> None:
        if not is_finite(x):
            return
        self.n += 1
        if self.n <= self.warmup:
            # The first scale is the median of the first residuals, so a start-up
            # transient (a filter still finding the state) shorter than half the warm-up
            # does not inflate it; the median of |x| is 0.6745 std, the mean 0.7979.
            self.first.append(abs(x))
            if self.n == self.warmup:
                self.mean_abs = statistics.median(self.first) * (0.7979 / 0.6745)
                self.first = []
            return
        mean = self._mean_with(x)
        self.mean_z = mean
        if self.fixed_scale is None and abs(mean) <= self.freeze * self.mean_spread:
            deviation = min(abs(x), self.clip * self._scale())
            self.mean_abs += self.scale_alpha * (deviation - self.mean_abs)
