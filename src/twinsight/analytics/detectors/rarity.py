"""The default detector: how rare is this value *for this stream*, said once per burst.

Why not the plain robust z-score? Its score means different things on different streams:
a z of 6 is routine for bursty web traffic and unheard of for a thermostat, so one alarm
threshold cannot fit a fleet (and NAB, which picks one threshold for 58 streams, shows
it). Four cheap steps fix much of that, in O(1) time and memory per value:

1. **Rarity of the surprise.** The robust z (EWMA level, clipped EW mean absolute
   deviation, as in :mod:`.statistical`) becomes a bounded surprise ``z / (z + half)``;
   the stream's own long-run mean and spread of that surprise (forgetting over about
   ``1 / long_alpha`` values) turn it into a standard score ``u``, so "odd" means odd for
   this stream. Numenta's anomaly likelihood follows the same idea.
2. **New extremes.** A value beyond the range the stream has ever shown is the commonest
   sign of a fault in practice (a temperature never seen before, a latency off the
   chart). It scores at least ``ext``, more the further out it lands (``extk`` is the
   overshoot, as a fraction of the range, that scores half-way from ``ext`` to 1).
3. **New extremes for the time of day.** Many streams follow the day (load, traffic,
   temperature): a value normal at noon can be a fault at 3 a.m. The range is also kept
   per slot of the day (``slot`` seconds of ``period``, by the value's source time); once
   a slot has ``slot_min`` values, leaving its range scores at least ``seasonal``, more
   the further out, measured in the stream's robust spread (an overshoot of
   ``seasonal_k`` spreads scores half-way to 1): a slot's range is narrow, so the whole
   range would be too coarse a yardstick.
4. **Once per burst.** An operator needs the first alarm, not the fiftieth: a score only
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
        seasonal: float = 0.5,
        seasonal_k: float = 1.0,
        slot: float = 14_400.0,
        period: float = 86_400.0,
        slot_min: int = 5,
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
        if not 0 <= seasonal < 1 or seasonal_k <= 0 or not 0 < slot <= period:
            raise ValueError("seasonal in [0, 1), seasonal_k positive, 0 < slot <= period")
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
        self.seasonal = seasonal
        self.seasonal_k = seasonal_k
        self.slot = slot
        self.period = period
        self.slot_min = slot_min
        slots = math.ceil(period / slot)
        self.slot_low = [math.inf] * slots
        self.slot_high = [-math.inf] * slots
        self.slot_count = [0] * slots
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

    def _slot(self, t: float) -> int:
        """The slot of the period ``t`` falls in, or -1 for a time that is not finite."""
        if t - t != 0.0:
            return -1
        return int((t % self.period) // self.slot)

    def _candidate(self, t: float, x: float, surprise: float, floor: float) -> float:
        """The score before burst suppression."""
        if self.n < self.warmup:
            return 0.0
        u = (surprise - self.surprise_mean) / (math.sqrt(self.surprise_var) + 1e-6)
        score = u / (u + self.c) if u > 0.0 else 0.0
        beyond = max(0.0, x - self.high, self.low - x) / (self.high - self.low + floor)
        if beyond > 0.0:
            score = max(score, self.ext + (1.0 - self.ext) * beyond / (beyond + self.extk))
        k = self._slot(t)
        if k >= 0 and self.slot_count[k] >= self.slot_min:
            over = max(0.0, x - self.slot_high[k], self.slot_low[k] - x)
            beyond = over / (self.spread + floor)
            if beyond > 0.0:
                boost = self.seasonal + (1.0 - self.seasonal) * beyond / (beyond + self.seasonal_k)
                score = max(score, boost)
        return score

    def _learn_slot(self, t: float, x: float) -> None:
        k = self._slot(t)
        if k >= 0:
            self.slot_count[k] += 1
            self.slot_low[k] = min(self.slot_low[k], x)
            self.slot_high[k] = max(self.slot_high[k], x)

    def score_one(self, t: float, x: float) -> float:
        if not is_finite(x):
            return NON_FINITE_SCORE
        _, surprise, floor = self._surprise(x)
        candidate = self._candidate(t, x, surprise, floor)
        return candidate if candidate > self.record else 0.0

    def learn_one(self, t: float, x: float) -> None:
        if not is_finite(x):
            return
        deviation, surprise, floor = self._surprise(x)
        candidate = self._candidate(t, x, surprise, floor)
        self.record = max(self.record * self.decay, candidate)
        self._learn_slot(t, x)
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
        k = int((t % self.period) // self.slot) if t - t == 0.0 else -1
        if k >= 0:
            count = self.slot_count[k]
            slot_low = self.slot_low[k]
            slot_high = self.slot_high[k]
            if n >= self.warmup and count >= self.slot_min and (x > slot_high or x < slot_low):
                over = x - slot_high if x > slot_high else slot_low - x
                beyond = over / (spread + floor)
                boosted = self.seasonal + (1.0 - self.seasonal) * beyond / (
                    beyond + self.seasonal_k
                )
                candidate = max(candidate, boosted)
            self.slot_count[k] = count + 1
            if x < slot_low:
                self.slot_low[k] = x
            if x > slot_high:
                self.slot_high[k] = x
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
