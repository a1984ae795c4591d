"""A regularly spaced series, and how raw points become one.

Forecasters work on values at a fixed step (``start + i * step``): seasonal terms, lags and
horizons are then counted in steps. Raw history is rarely that tidy — sensors skip a
reading, send two in one step, or send NaN — so :func:`resample` averages the points of each
step, fills short holes by straight lines and says what it did in :attr:`RegularSeries.notes`,
and refuses what cannot be repaired (times running backwards, mostly holes, too few points)
with a :class:`ForecastError` naming the problem.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from twinsight.core.errors import TwinsightError

FloatArray = npt.NDArray[np.float64]

MAX_MISSING_SHARE = 0.5
"""A series with more than this share of its steps empty is refused: its line would be
mostly made up."""


class ForecastError(TwinsightError):
    """A series cannot be forecast as asked (too short, times backwards, mostly holes, …);
    the message says what was wrong. The API answers it with 422."""

    code = "ForecastUnavailable"
    status = 422


@dataclass(frozen=True)
class RegularSeries:
    """Values at ``start + i * step`` seconds since the epoch, without holes.

    ``notes`` records what was repaired on the way here (averaged duplicates, filled
    holes), so a forecast can say what it rests on.
    """

    start: float
    step: float
    values: FloatArray
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not (math.isfinite(self.step) and self.step > 0):
            raise ForecastError(f"the step must be a positive number of seconds, not {self.step}")
        if not math.isfinite(self.start):
            raise ForecastError(f"the start time must be finite, not {self.start}")
        if self.values.ndim != 1:
            raise ForecastError("the values must be one-dimensional")
        if not np.all(np.isfinite(self.values)):
            raise ForecastError(
                "a regular series holds finite values only; use fill_holes() or resample()"
            )

    def __len__(self) -> int:
        return int(self.values.size)

    @property
    def end(self) -> float:
        """Time of the last value."""
        return self.start + (len(self) - 1) * self.step

    def times(self) -> FloatArray:
        return self.start + self.step * np.arange(len(self), dtype=np.float64)

    def tail(self, count: int) -> RegularSeries:
        """The last ``count`` values (all of them if there are fewer)."""
        if count >= len(self):
            return self
        skip = len(self) - count
        return RegularSeries(
            self.start + skip * self.step, self.step, self.values[skip:], self.notes
        )


def fill_holes(start: float, step: float, values: Sequence[float] | FloatArray) -> RegularSeries:
    """A regular series from values that may hold NaNs: inner holes become straight lines
    between their neighbours, holes at the ends are cut off. Refused when more than
    :data:`MAX_MISSING_SHARE` of the steps are holes, or when nothing is left."""
    y = np.asarray(values, dtype=np.float64)
    if y.ndim != 1:
        raise ForecastError("the values must be one-dimensional")
    present = np.isfinite(y)
    if not present.any():
        raise ForecastError("the series has no finite value")
    first = int(np.argmax(present))
    last = int(y.size - 1 - np.argmax(present[::-1]))
    y, present = y[first : last + 1], present[first : last + 1]
    missing = int(y.size - present.sum())
    notes: list[str] = []
    if first or last < len(values) - 1:
        notes.append(f"{first + len(values) - 1 - last} empty step(s) at the ends dropped")
    if missing:
        if missing > MAX_MISSING_SHARE * y.size:
            raise ForecastError(
                f"{missing} of {y.size} steps have no value (more than "
                f"{MAX_MISSING_SHARE:.0%}); choose a longer step"
            )
        index = np.arange(y.size)
        y = y.copy()
        y[~present] = np.interp(index[~present], index[present], y[present])
        notes.append(f"{missing} missing step(s) filled by linear interpolation")
    return RegularSeries(start + first * step, step, y, tuple(notes))


def resample(
    times: Sequence[float] | FloatArray,
    values: Sequence[float] | FloatArray,
    step: float,
) -> RegularSeries:
    """Raw points (``times`` in seconds since the epoch, ascending) as a regular series.

    Each step's value is the mean of the points in ``[start + i*step, start + (i+1)*step)``
    with steps aligned to the epoch (a 60 s step starts on a whole minute, as history's
    aggregates do); the series is stamped at each step's start. Non-finite values are
    dropped, empty steps filled (see :func:`fill_holes`). Times that run backwards are
    refused with the first place they do: history is ordered by source time, so unordered
    input means the caller mixed up series.
    """
    if not (math.isfinite(step) and step > 0):
        raise ForecastError(f"the step must be a positive number of seconds, not {step}")
    t = np.asarray(times, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    if t.shape != y.shape or t.ndim != 1:
        raise ForecastError(f"{t.size} times but {y.size} values: they must pair up")
    if t.size == 0:
        raise ForecastError("the series has no points")
    if not np.all(np.isfinite(t)):
        raise ForecastError("every time must be finite")
    backwards = np.flatnonzero(np.diff(t) < 0)
    if backwards.size:
        i = int(backwards[0]) + 1
        raise ForecastError(
            f"times run backwards at point {i} ({t[i]} after {t[i - 1]}); "
            "points must be in time order"
        )
    finite = np.isfinite(y)
    notes: list[str] = []
    if not finite.all():
        notes.append(f"{int((~finite).sum())} non-finite value(s) dropped")
        t, y = t[finite], y[finite]
        if t.size == 0:
            raise ForecastError("the series has no finite value")
    first = math.floor(t[0] / step)
    slots = np.floor(t / step).astype(np.int64) - first
    count = int(slots[-1]) + 1
    sums = np.bincount(slots, weights=y, minlength=count)
    counts = np.bincount(slots, minlength=count)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    regular = fill_holes(first * step, step, means)
    return RegularSeries(regular.start, step, regular.values, (*notes, *regular.notes))
