"""Short-term forecasts with prediction intervals for any numeric series.

* :class:`HarmonicAR` — the default: daily/weekly Fourier terms and a level that follows
  change, an autoregression on what is left, intervals from its own past errors;
* :class:`SeasonalNaive` — the baseline every forecaster must beat (Hyndman's MASE);
* :func:`resample` — raw points to a regular series, holes filled and reported.

See docs/forecasts.md.
"""

from twinsight.analytics.forecast.base import MAX_HORIZON, Forecast, Forecaster
from twinsight.analytics.forecast.harmonic import HarmonicAR
from twinsight.analytics.forecast.naive import SeasonalNaive, seasonal_naive_scale
from twinsight.analytics.forecast.series import (
    ForecastError,
    RegularSeries,
    fill_holes,
    resample,
)

__all__ = [
    "MAX_HORIZON",
    "Forecast",
    "ForecastError",
    "Forecaster",
    "HarmonicAR",
    "RegularSeries",
    "SeasonalNaive",
    "fill_holes",
    "resample",
    "seasonal_naive_scale",
]
