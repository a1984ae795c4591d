"""The default detector: how rare is this value *for this stream*, said once per burst.

Why not the plain robust z-score? Its score means different things on different streams:
a z of 6 is routine for bursty web traffic and unheard of for a thermostat, so one alarm
threshold cannot fit a fleet (and NAB, which picks one threshold for 58 streams, shows
it). Five cheap steps fix much of that, in O(1) time and memory per value:

1. **Rarity of the surprise.** The robust z (EWMA level, clipped EW mean absolute
   deviation, :mod:`.robust`) becomes a bounded surprise ``z / (z + half)``;
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
   A stream that keeps leaving its slots' ranges (a drifting or growing one) earns less
   for doing it again: the boost falls by ``slot_penalty`` times the recent share of
   values that left their slot's range (an exponentially weighted rate, ``rate_alpha``).
4. **New moves.** A pattern can break inside the usual range: a stream that always
   climbs gradually suddenly jumps from its bottom to its top. Each value falls in one of
   ``bins`` equal parts of the range seen so far; a move from one part to another that
   the stream has never made before (once it has shown ``transition_warmup`` values)
   scores at least ``transition``. This is the smallest form of the contextual novelty
   behind CAD OSE (a context never seen is an anomaly); with 4 parts there are only 16
   moves, kept as one bit mask. Moves made while the range was still growing were
   counted in the parts of that smaller range, so they mark moves a little loosely.
5. **Once per burst.** An operator needs the first alarm, not the fiftieth: a score only
   stands if it beats the largest recent one (which decays by ``decay`` per value);
   otherwise it is 0. So a sustained excursion scores high at its start, then quiet.
"""

from __future__ import annotations

import math

from twinsight.analytics.detectors.base import NON_FINITE_SCORE, Detector, is_finite
from twinsight.analytics.detectors.robust import robust_update

_WIDER = 1.0 + 1e-9
"""The parts of the range are cut from a range this much wider, so that a value exactly on
a boundary (common in integer counts) belongs to the lower part, and the top of the range
to the top part."""


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
        slot_penalty: float = 3.0,
        rate_alpha: float = 0.002,
        transition: float = 0.83,
        bins: int = 4,
        transition_warmup: int = 300,
        decay: float = 0.999,
        warmup: int = 50,
        seed: int = 0,
    ) -> None:
        """``seed`` is accepted for the uniform interface; this detector uses no randomness."""
        for label, rate in (
            ("alpha", alpha),
            ("spread_alpha", spread_alpha),
            ("long_alpha", long_alpha),
            ("rate_alpha", rate_alpha),
        ):
            if not 0.0 < rate <= 1.0:
                raise ValueError(f"{label} must lie in (0, 1]")
        if min(clip, half, c, extk) <= 0 or not 0 <= ext < 1 or not 0 <= decay <= 1:
            raise ValueError("clip, half, c, extk must be positive, ext and decay in [0, 1)")
        if not 0 <= seasonal < 1 or seasonal_k <= 0 or not 0 < slot <= period:
            raise ValueError("seasonal in [0, 1), seasonal_k positive, 0 < slot <= period")
        if slot_penalty < 0 or not 0 <= transition < 1 or not 2 <= bins <= 8:
            raise ValueError("slot_penalty >= 0, transition in [0, 1), bins from 2 to 8")
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
        self.slot_penalty = slot_penalty
        self.rate_alpha = rate_alpha
        self.slot_rate = 0.0
        self.slot_rate_at = warmup - 1
        """``slot_rate`` is as it was after value number ``slot_rate_at``; it decays by
        ``1 - rate_alpha`` per value since, applied only when it is needed (on the rare
        value that leaves its slot), so the hot path pays nothing for it."""
        self.transition = transition
        self.bins = bins
        self.transition_warmup = transition_warmup
        self.previous_row = -1
        """The previous value's part times ``bins``: the row of the move table."""
        self.moves_seen = 0
        self.bin_factor = 0.0
        """``bins`` over the width of the range so far (0 while it has none)."""
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

    def _bin(self, x: float) -> int:
        """Which of ``bins`` equal parts of the range so far, ``x`` included, ``x`` is in
        (a new extreme is in the first or the last part)."""
        if x > self.high:
            return self.bins - 1 if self.high >= self.low else 0
        if x < self.low:
            return 0
        part = int((x - self.low) * self.bin_factor)
        return part if part < self.bins else self.bins - 1

    def _new_move(self, x: float) -> bool:
        """True when the move from the previous value's part to ``x``'s was never made."""
        if self.previous_row < 0:
            return False
        return not self.moves_seen >> (self.previous_row + self._bin(x)) & 1

    def _slot_rate_before(self, n: int) -> float:
        """The share of recent values that left their slot's range, before value ``n``."""
        return self.slot_rate * (1.0 - self.rate_alpha) ** (n - 1 - self.slot_rate_at)

    def _learn_range(self, x: float) -> None:
        current = self._bin(x)
        if self.previous_row >= 0:
            self.moves_seen |= 1 << (self.previous_row + current)
        self.previous_row = current * self.bins
        if x < self.low or x > self.high:
            self.low = min(self.low, x)
            self.high = max(self.high, x)
            width = self.high - self.low
            self.bin_factor = self.bins / (width * _WIDER) if width > 0.0 else 0.0

    def _left_slot(self, k: int, x: float) -> bool:
        return (
            k >= 0
            and self.slot_count[k] >= self.slot_min
            and (x > self.slot_high[k] or x < self.slot_low[k])
        )

    def _candidate(self, t: float, x: float, surprise: float, floor: float) -> float:
        """The score before burst suppression."""
        score = 0.0
        if self.n >= self.warmup:
            u = (surprise - self.surprise_mean) / (math.sqrt(self.surprise_var) + 1e-6)
            score = u / (u + self.c) if u > 0.0 else 0.0
            beyond = max(0.0, x - self.high, self.low - x) / (self.high - self.low + floor)
            if beyond > 0.0:
                score = max(score, self.ext + (1.0 - self.ext) * beyond / (beyond + self.extk))
        if self.n >= self.transition_warmup and self._new_move(x):
            score = max(score, self.transition)
        k = self._slot(t)
        if self.n >= self.warmup and self._left_slot(k, x):
            over = max(0.0, x - self.slot_high[k], self.slot_low[k] - x)
            beyond = over / (self.spread + floor)
            boost = self.seasonal + (1.0 - self.seasonal) * beyond / (beyond + self.seasonal_k)
            score = max(score, boost - self.slot_penalty * self._slot_rate_before(self.n))
        return score

    def _learn_slot(self, t: float, x: float) -> None:
        k = self._slot(t)
        if k >= 0:
            if self.n >= self.warmup and self._left_slot(k, x):
                before = self._slot_rate_before(self.n)
                self.slot_rate = before + self.rate_alpha * (1.0 - before)
                self.slot_rate_at = self.n
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
        _, surprise, floor = self._surprise(x)
        candidate = self._candidate(t, x, surprise, floor)
        self.record = max(self.record * self.decay, candidate)
        self._learn_slot(t, x)
        self._learn_range(x)
        self.n += 1
        n = self.n
        self.level, self.spread = robust_update(
            self.level,
            self.spread,
            x,
            n,
            alpha=self.alpha,
            spread_alpha=self.spread_alpha,
            clip=self.clip,
            warmup=self.warmup,
        )
        if n == 1:
            return
        rate = max(self.long_alpha, 1.0 / n)
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
        bins = self.bins
        if x > high:
            current = bins - 1 if high >= low else 0
        elif x < low:
            current = 0
        else:
            current = int((x - low) * self.bin_factor)
            if current >= bins:
                current = bins - 1
        previous = self.previous_row
        if previous >= 0:
            move = 1 << (previous + current)
            moves = self.moves_seen
            if not moves & move:
                if n >= self.transition_warmup and self.transition > candidate:
                    candidate = self.transition
                self.moves_seen = moves | move
        self.previous_row = current * bins
        k = int((t % self.period) // self.slot) if t - t == 0.0 else -1
        if k >= 0:
            count = self.slot_count[k]
            slot_low = self.slot_low[k]
            slot_high = self.slot_high[k]
            if (x > slot_high or x < slot_low) and count >= self.slot_min and n >= self.warmup:
                over = x - slot_high if x > slot_high else slot_low - x
                beyond = over / (spread + floor)
                rate = self.rate_alpha
                before = self.slot_rate * (1.0 - rate) ** (n - 1 - self.slot_rate_at)
                boosted = (
                    self.seasonal
                    + (1.0 - self.seasonal) * beyond / (beyond + self.seasonal_k)
                    - self.slot_penalty * before
                )
                candidate = max(candidate, boosted)
                self.slot_rate = before + rate * (1.0 - before)
                self.slot_rate_at = n
            self.slot_count[k] = count + 1
            if x < slot_low:
                self.slot_low[k] = x
            if x > slot_high:
                self.slot_high[k] = x
        record = self.record
        score = candidate if candidate > record else 0.0
        decayed = record * self.decay
        self.record = candidate if candidate > decayed else decayed
        if x < low or x > high:
            low = self.low = x if x < low else low
            high = self.high = x if x > high else high
            width = high - low
            self.bin_factor = bins / (width * _WIDER) if width > 0.0 else 0.0
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
