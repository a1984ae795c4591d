"""Which seasons a series has: daily and weekly cycles, given or detected.

A season is given in seconds (a day, a week) and counted in steps of the series. It is
used only when the series holds at least two whole cycles of it (one cycle cannot tell a
pattern from a coincidence) and, when detected rather than given, when the series repeats
itself at that lag: the autocorrelation at one cycle of the series with its slow drift
(a moving average over one cycle) taken out is at least :data:`MIN_AUTOCORRELATION`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from twinsight.analytics.forecast.series import FloatArray, RegularSeries

DAY = 86_400.0
WEEK = 7 * DAY
CANDIDATES = (DAY, WEEK)
"""Seasons looked for when none is given: machines, traffic and people follow the clock."""

MIN_AUTOCORRELATION = 0.3
MIN_CYCLES = 2


def season_steps(season: float, step: float) -> int:
    """A season in whole steps (0 when it is shorter than two steps)."""
    steps = round(season / step)
    return steps if steps >= 2 else 0


def seasonal_autocorrelation(values: FloatArray, period: int) -> float:
    """Autocorrelation at lag ``period`` after removing a centred moving average of
    ``period`` values (the level's drift, which would otherwise correlate at any lag)."""
    if values.size < MIN_CYCLES * period or period < 2:
        return 0.0
    kernel = np.ones(period) / period
    trend = np.convolve(values, kernel, mode="same")
    half = period // 2
    detrended = (values - trend)[half : values.size - half]
    if detrended.size <= period:
        return 0.0
    a, b = detrended[:-period], detrended[period:]
    a, b = a - a.mean(), b - b.mean()
    denominator = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denominator) if denominator > 0 else 0.0


def choose_seasons(
    series: RegularSeries, given: Sequence[float] | None
) -> tuple[list[int], list[str]]:
    """The periods (in steps) to model, shortest first, and notes on the seasons left out
    and why."""
    notes: list[str] = []
    periods: list[int] = []
    for season in given if given is not None else CANDIDATES:
        period = season_steps(season, series.step)
        label = f"{season:g} s season"
        if period == 0:
            if given is not None:
                notes.append(f"{label} left out: shorter than two {series.step:g} s steps")
            continue
        if len(series) < MIN_CYCLES * period:
            if given is not None or len(series) >= period:
                notes.append(
                    f"{label} left out: needs {MIN_CYCLES * period} values "
                    f"({MIN_CYCLES} cycles), the series has {len(series)}"
                )
            continue
        if given is None and seasonal_autocorrelation(series.values, period) < MIN_AUTOCORRELATION:
            continue
        periods.append(period)
    return sorted(set(periods)), notes
