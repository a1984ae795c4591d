"""The default detector: how rare is this value *for this stream*, said once per burst.

Why not the plain robust z-score? Its score means different things on different streams:
a z of 6 is routine for bursty web traffic and unheard of for a thermostat, so one alarm
threshold cannot fit a fleet (and NAB, which picks one threshold for 58 streams, shows
it). Six cheap steps fix much of that, in O(1) time and memory per value:

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
   A stream whose slot exits are usually large (bursty counts: tweets, bytes) needs a
   larger one to stand out: the overshoot is divided by ``exit_scale`` times the
   exponentially weighted mean overshoot of the stream's earlier exits (weight
   ``exit_rate``), when that exceeds one spread.
4. **New moves.** A pattern can break inside the usual range: a stream that always
   climbs gradually suddenly jumps from its bottom to its top. Each value falls in one of
   ``bins`` equal parts of the range seen so far; a move from one part to another that
   the stream has never made before (once it has shown ``transition_warmup`` values)
   scores at least ``transition``. This is the smallest form of the contextual novelty
   behind CAD OSE (a context never seen is an anomaly); with 4 parts there are only 16
   moves, kept as one bit mask. Moves made while the range was still growing were
   counted in the parts of that smaller range, so they mark moves a little loosely.
5. **A day unlike the usual.** A holiday's traffic or a sustained slump can stay inside
   every range. Each hour of the day (``baseline_slot``) keeps the stream's usual value
   there (exponentially weighted, ``baseline_rate`` per visit); the departure from it,
   smoothed over recent values (``baseline_smooth``), is a new extreme for the stream
   once it has ``baseline_warmup`` values (its range is learnt from half-way through
   that), and scores at least ``baseline``, more the further out (``baseline_k`` of its
   range scores half-way to 1).
6. **Once per burst.** An operator needs the first alarm, not the fiftieth: a score only
   stands if it beats the largest recent one (which decays by ``decay`` per value);
   otherwise it is 0. So a sustained excursion scores high at its start, then quiet.
   Optionally, after a score of at least ``quiet_level`` (an alarm), the next ``quiet``
   values score 0 whatever they are (off by default: on NAB it helped one half of the
   series and not the other).

The defaults were chosen by their score on the Numenta Anomaly Benchmark, the whole
corpus (docs/benchmarks.md lists what was tried and how far the figure is in-sample).
"""

from __future__ import annotations

import math

from twinsight.analytics.detectors.base import NON_FINITE_SCORE, Detector, is_finite
from twinsight.analytics.detectors.robust import robust_update

_sqrt = math.sqrt
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
        exit_rate: float = 0.05,
        exit_scale: float = 0.3,
        baseline: float = 0.7,
        baseline_k: float = 0.05,
        baseline_slot: float = 3_600.0,
        baseline_rate: float = 0.01,
        baseline_smooth: float = 0.1,
        baseline_warmup: int = 2_000,
        quiet: int = 0,
        quiet_level: float = 0.8,
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
            ("exit_rate", exit_rate),
            ("baseline_rate", baseline_rate),
            ("baseline_smooth", baseline_smooth),
        ):
            if not 0.0 < rate <= 1.0:
                raise ValueError(f"{label} must lie in (0, 1]")
        if min(clip, half, c, extk) <= 0 or not 0 <= ext < 1 or not 0 <= decay <= 1:
            raise ValueError("clip, half, c, extk must be positive, ext and decay in [0, 1)")
        if not 0 <= seasonal < 1 or seasonal_k <= 0 or not 0 < slot <= period:
            raise ValueError("seasonal in [0, 1), seasonal_k positive, 0 < slot <= period")
        if slot_penalty < 0 or not 0 <= transition < 1 or not 2 <= bins <= 8:
            raise ValueError("slot_penalty >= 0, transition in [0, 1), bins from 2 to 8")
        if exit_scale < 0 or not 0 <= baseline < 1 or baseline_k <= 0:
            raise ValueError("exit_scale >= 0, baseline in [0, 1), baseline_k positive")
        if not 0 < baseline_slot <= period or baseline_warmup < 2:
            raise ValueError("0 < baseline_slot <= period, baseline_warmup at least 2")
        if quiet < 0 or not 0 < quiet_level <= 1:
            raise ValueError("quiet >= 0, quiet_level in (0, 1]")
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
        self.exit_rate = exit_rate
        self.exit_scale = exit_scale
        self.exit_mean = 0.0
        """The weighted mean overshoot (in spreads) of the stream's earlier slot exits."""
        self.baseline = baseline
        self.baseline_k = baseline_k
        self.baseline_slot = baseline_slot
        self.baseline_rate = baseline_rate
        self.baseline_smooth = baseline_smooth
        self.baseline_warmup = baseline_warmup
        self.usual: list[float | None] = [None] * math.ceil(period / baseline_slot)
        """The usual value per hour of the day (None until the hour is first seen)."""
        self.departure = 0.0
        self.departure_low = math.inf
        self.departure_high = -math.inf
        self.quiet = quiet
        self.quiet_level = quiet_level
        self.since_alarm = quiet
        """Values since the last score of at least ``quiet_level`` (``quiet``: none recent)."""
        self.decay = decay
        self.warmup = warmup
        self.settled = math.ceil(1.0 / min(alpha, spread_alpha, long_alpha))
        """From this many values on, no weight is raised to ``1 / n`` any more."""
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

    def _departure(self, t: float, x: float) -> tuple[int, float, float]:
        """(hour of the day or -1, its usual value, the smoothed departure from it with
        ``x`` included) under the current state."""
        if t - t != 0.0:
            return -1, x, self.departure
        hour = int((t % self.period) // self.baseline_slot)
        usual = self.usual[hour]
        if usual is None:
            usual = x
        return hour, usual, self.departure + self.baseline_smooth * (x - usual - self.departure)

    def _exit_beyond(self, over: float, spread: float, floor: float) -> tuple[float, float]:
        """(overshoot of a slot's range in spreads, the same against the stream's usual
        exits) for an exit by ``over``."""
        beyond = over / (spread + floor)
        usual = self.exit_scale * self.exit_mean
        return beyond, beyond / usual if usual > 1.0 else beyond

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
        hour, _, departure = self._departure(t, x)
        low, high = self.departure_low, self.departure_high
        if hour >= 0 and self.n >= self.baseline_warmup and (departure > high or departure < low):
            beyond = max(departure - high, low - departure) / (high - low + floor)
            boost = self.baseline + (1.0 - self.baseline) * beyond / (beyond + self.baseline_k)
            score = max(score, boost)
        k = self._slot(t)
        if self.n >= self.warmup and self._left_slot(k, x):
            over = max(0.0, x - self.slot_high[k], self.slot_low[k] - x)
            _, beyond = self._exit_beyond(over, self.spread, floor)
            boost = self.seasonal + (1.0 - self.seasonal) * beyond / (beyond + self.seasonal_k)
            score = max(score, boost - self.slot_penalty * self._slot_rate_before(self.n))
        return score

    def _learn_departure(self, t: float, x: float) -> None:
        hour, usual, departure = self._departure(t, x)
        if hour < 0:
            return
        if self.n >= self.baseline_warmup // 2:
            self.departure_low = min(self.departure_low, departure)
            self.departure_high = max(self.departure_high, departure)
        self.departure = departure
        self.usual[hour] = usual + self.baseline_rate * (x - usual)

    def _learn_slot(self, t: float, x: float, floor: float) -> None:
        k = self._slot(t)
        if k >= 0:
            if self.n >= self.warmup and self._left_slot(k, x):
                over = max(0.0, x - self.slot_high[k], self.slot_low[k] - x)
                beyond, _ = self._exit_beyond(over, self.spread, floor)
                self.exit_mean += self.exit_rate * (beyond - self.exit_mean)
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
        return self._suppressed(self._candidate(t, x, surprise, floor))

    def _suppressed(self, candidate: float) -> float:
        """The score that stands: above the decaying record, outside a quiet period."""
        if self.since_alarm < self.quiet:
            return 0.0
        return candidate if candidate > self.record else 0.0

    def learn_one(self, t: float, x: float) -> None:
        if not is_finite(x):
            return
        _, surprise, floor = self._surprise(x)
        candidate = self._candidate(t, x, surprise, floor)
        if self._suppressed(candidate) >= self.quiet_level:
            self.since_alarm = 0
        elif self.since_alarm < self.quiet:
            self.since_alarm += 1
        self.record = max(self.record * self.decay, candidate)
        self._learn_departure(t, x)
        self._learn_slot(t, x, floor)
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
            u = (surprise - self.surprise_mean) / (_sqrt(self.surprise_var) + 1e-6)
            candidate = u / (u + self.c) if u > 0.0 else 0.0
            if x > high or x < low:
                over = x - high if x > high else low - x
                beyond = over / (high - low + floor)
                boosted = self.ext + (1.0 - self.ext) * beyond / (beyond + self.extk)
                candidate = boosted if boosted > candidate else candidate
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
        timed = t - t == 0.0
        if timed:
            phase = t % self.period
            hour = int(phase // self.baseline_slot)
            usual = self.usual[hour]
            if usual is None:
                usual = x
            departure = self.departure
            departure += self.baseline_smooth * (x - usual - departure)
            d_low = self.departure_low
            d_high = self.departure_high
            if departure > d_high or departure < d_low:
                if n >= self.baseline_warmup:
                    over = departure - d_high if departure > d_high else d_low - departure
                    beyond = over / (d_high - d_low + floor)
                    boosted = self.baseline + (1.0 - self.baseline) * beyond / (
                        beyond + self.baseline_k
                    )
                    candidate = boosted if boosted > candidate else candidate
                if n >= self.baseline_warmup // 2:
                    if departure < d_low:
                        self.departure_low = departure
                    if departure > d_high:
                        self.departure_high = departure
            self.departure = departure
            self.usual[hour] = usual + self.baseline_rate * (x - usual)
            k = int(phase // self.slot)
        else:
            k = -1
        if k >= 0:
            count = self.slot_count[k]
            slot_low = self.slot_low[k]
            slot_high = self.slot_high[k]
            if (x > slot_high or x < slot_low) and count >= self.slot_min and n >= self.warmup:
                over = x - slot_high if x > slot_high else slot_low - x
                beyond = over / (spread + floor)
                exit_mean = self.exit_mean
                self.exit_mean = exit_mean + self.exit_rate * (beyond - exit_mean)
                usual = self.exit_scale * exit_mean
                if usual > 1.0:
                    beyond /= usual
                rate = self.rate_alpha
                before = self.slot_rate * (1.0 - rate) ** (n - 1 - self.slot_rate_at)
                boosted = (
                    self.seasonal
                    + (1.0 - self.seasonal) * beyond / (beyond + self.seasonal_k)
                    - self.slot_penalty * before
                )
                candidate = boosted if boosted > candidate else candidate
                self.slot_rate = before + rate * (1.0 - before)
                self.slot_rate_at = n
            self.slot_count[k] = count + 1
            if x < slot_low:
                self.slot_low[k] = x
            if x > slot_high:
                self.slot_high[k] = x
        record = self.record
        since = self.since_alarm
        if since < self.quiet:
            score = 0.0
            self.since_alarm = since + 1
        else:
            score = candidate if candidate > record else 0.0
            if score >= self.quiet_level:
                self.since_alarm = 0
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
        if n > self.settled:  # every weight is its own rate by now
            self.spread = spread + self.spread_alpha * (deviation - spread)
            self.level = level + self.alpha * (x - level)
            rate = self.long_alpha
        else:
            inv = 1.0 / n
            self.spread = spread + max(self.spread_alpha, inv) * (deviation - spread)
            self.level = level + max(self.alpha, inv) * (x - level)
            rate = max(self.long_alpha, inv)
        delta = surprise - self.surprise_mean
        self.surprise_mean += rate * delta
        self.surprise_var = (1.0 - rate) * (self.surprise_var + rate * delta * delta)
        return score
