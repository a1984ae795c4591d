"""The default detector: how rare is this value *for this stream*, said once per burst.

Why not the plain robust z-score? Its score means different things on different streams:
a z of 6 is routine for bursty web traffic and unheard of for a thermostat, so one alarm
threshold cannot fit a fleet (and NAB, which picks one threshold for 58 streams, shows
it). Three cheap steps fix most of that, in O(1) time and memory per value:

1. **Rarity of the surprise.** The robust z (EWMA level, clipped EW mean absolute
   deviation, as in :mod:`.statistical`) becomes a bounded surprise ``z / (z + half)``;
   the stream's own long-run mean and spread of that surprise (forgetting over about
   ``1 / long_alpha`` values) turn it into a standard score ``u``, so "odd" means odd for
   this stream. Numenta's anomaly likelihood follows the same idea.
2. **New extremes.** A value beyond the range the stream has ever shown is the commonest
   sign of a fault in practice (a temperature never seen before, a latency off the
   chart). It scores at least ``ext``, more the further out it lands (``extk`` is the
   overshoot, as a fraction of the range, that scores half-way from ``ext`` to 1).
3. **Once per burst.** An operator needs the first alarm, not the fiftieth: a score only
   stands if it beats the largest recent one (which decays by ``decay`` per value);
   otherwise it is 0. So a sustained excursion scores high at its start, then quiet.
"""

from __future__ import annotations

import math

from twinsight.analytics.detectors.base import NON_FINITE_SCORE, Detector, is_finite


class RarityDetector(Detector):
    """Stream-normalised robust z, new-extreme boost and burst suppression (see module)."""

    name = "rarity"

    def __init__(
        self,
        *,
        alpha: float = 0.05,
        spread_alpha: float = 0.01,
        clip: float = 4.0,
        half: float = 4.0,
        long_alpha: float = 0.0005,
        c: float = 3.0,
        ext: float = 0.7,
        extk: float = 0.005,
        decay: float = 0.999,
        warmup: int = 50,
        seed: int = 0,
    ) -> None:
        """``seed`` is accepted for the uniform interface; this detector uses no randomness."""
        for label, rate in (
            ("alpha", alpha),
            ("spread_alpha", spread_alpha),
            ("long_alpha", long_alpha),
        ):
            if not 0.0 < rate <= 1.0:
                raise ValueError(f"{label} must lie in (0, 1]")
        if min(clip, half, c, extk) <= 0 or not 0 <= ext < 1 or not 0 <= decay <= 1:
            raise ValueError("clip, half, c, extk must be positive, ext and decay in [0, 1)")
        if warmup < 2:
            raise ValueError("warmup must be at least 2")
        self.alpha = alpha
        self.spread_alpha = spread_alpha
        self.clip = clip
        self.half = half
        self.long_alpha = long_alpha
        self.c = c
        self.ext = ext
        self.extk = extk
        self.decay = decay
        self.warmup = warmup
        self.seed = seed
        self.n = 0
        self.level = 0.0
        self.spread = 0.0
        self.surprise_mean = 0.0
        self.surprise_var = 0.0
        self.low = math.inf
        self.high = -math.inf
        self.record = 0.0

    def _surprise(self, x: float) -> tuple[float, float, float]:
        """(deviation from the level, bounded surprise, floor) under the current state."""
        level = self.level
        deviation = abs(x - level)
        floor = 1e-9 * (abs(level) + 1.0)
        z = deviation / (self.spread + floor)
        return deviation, z / (z + self.half), floor

    def _candidate(self, x: float, surprise: float, floor: float) -> float:
        """The score before burst suppression."""
        if self.n < self.warmup:
            return 0.0
        u = (surprise - self.surprise_mean) / (math.sqrt(self.surprise_var) + 1e-6)
        score = u / (u + self.c) if u > 0.0 else 0.0
        beyond = max(0.0, x - self.high, self.low - x) / (self.high - self.low + floor)
        if beyond > 0.0:
            score = max(score, self.ext + (1.0 - self.ext) * beyond / (beyond + self.extk))
        return score

    def score_one(self, t: float, x: float) -> float:
        if not is_finite(x):
            return NON_FINITE_SCORE
        _, surprise, floor = self._surprise(x)
        candidate = self._candidate(x, surprise, floor)
        return candidate if candidate > self.record else 0.0

    def learn_one(self, t: float, x: float) -> None:
        if not is_finite(x):
            return
        deviation, surprise, floor = self._surprise(x)
        candidate = self._candidate(x, surprise, floor)
        self.record = max(self.record * self.decay, candidate)
        self.low = min(self.low, x)
        self.high = max(self.high, x)
        self.n += 1
        n = self.n
        if n == 1:
            self.level = x
            return
        if n > self.warmup and self.spread > 0.0:
            deviation = min(deviation, self.clip * self.spread)
        inv = 1.0 / n
        self.spread += max(self.spread_alpha, inv) * (deviation - self.spread)
        self.level += max(self.alpha, inv) * (x - self.level)
        rate = max(self.long_alpha, inv)
        delta = surprise - self.surprise_mean
        self.surprise_mean += rate * delta
        self.surprise_var = (1.0 - rate) * (self.surprise_var + rate * delta * delta)

    def process_one(self, t: float, x: float) -> float:
        """Score then learn in one pass; the same arithmetic as the two methods, inlined
        because this is the hot path of every stream."""
        if x - x != 0.0:  # NaN or ±inf
            return self.score_one(t, x)
        n = self.n
        level = self.level
        spread = self.spread
        deviation = x - level if x >= level else level - x
        floor = 1e-9 * ((level if level >= 0.0 else -level) + 1.0)
        z = deviation / (spread + floor)
        surprise = z / (z + self.half)
        low = self.low
        high = self.high
        if n < self.warmup:
            candidate = 0.0
        else:
            u = (surprise - self.surprise_mean) / (math.sqrt(self.surprise_var) + 1e-6)
            candidate = u / (u + self.c) if u > 0.0 else 0.0
            if x > high or x < low:
                over = x - high if x > high else low - x
                beyond = over / (high - low + floor)
                boosted = self.ext + (1.0 - self.ext) * beyond / (beyond + self.extk)
                candidate = max(candidate, boosted)
        record = self.record
        score = candidate if candidate > record else 0.0
        decayed = record * self.decay
        self.record = candidate if candidate > decayed else decayed
        if x < low:
            self.low = x
        if x > high:
            self.high = x
        n += 1
        self.n = n
        if n == 1:
            self.level = x
            return score
        if n > self.warmup and spread > 0.0:
            deviation = min(deviation, self.clip * spread)
        inv = 1.0 / n
        self.spread = spread + (self.spread_alpha if self.spread_alpha > inv else inv) * (
            deviation - spread
        )
        self.level = level + (self.alpha if self.alpha > inv else inv) * (x - level)
        rate = self.long_alpha if self.long_alpha > inv else inv
        delta = surprise - self.surprise_mean
        self.surprise_mean += rate * delta
        self.surprise_var = (1.0 - rate) * (self.surprise_var + rate * delta * delta)
        return score
