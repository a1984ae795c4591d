"""Forecasters: the regular series they work on, the seasonal-naive baseline, and the
default (HarmonicAR) — accuracy and interval coverage on made-up seasonal data, level
changes, and a clear error or a stated fallback for every awkward series."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from twinsight.analytics.forecast import (
    MAX_HORIZON,
    ForecastError,
    HarmonicAR,
    RegularSeries,
    SeasonalNaive,
    fill_holes,
    resample,
    seasonal_naive_scale,
)

STEP = 600.0  # ten minutes: a day is 144 steps
DAY_STEPS = 144
T0 = 1_700_006_400.0  # a midnight (UTC), a whole number of steps


def daily(days: float, noise: float = 0.5, seed: int = 0, level: float = 20.0) -> RegularSeries:
    """A daily cycle (amplitude 5) plus a slowly wandering level and noise."""
    rng = np.random.default_rng(seed)
    n = int(days * DAY_STEPS)
    i = np.arange(n)
    wander = np.cumsum(rng.normal(0, 0.05, n))
    y = level + 5 * np.sin(2 * math.pi * i / DAY_STEPS) + wander + rng.normal(0, noise, n)
    return RegularSeries(T0, STEP, y)


# ---------------------------------------------------------------- regular series


def test_resample_averages_each_step_and_stamps_it_at_the_step_start() -> None:
    times = [T0 + 10, T0 + 20, T0 + STEP + 5, T0 + 2 * STEP + 1]
    series = resample(times, [1.0, 3.0, 5.0, 7.0], STEP)
    assert series.start == T0
    assert series.values.tolist() == [2.0, 5.0, 7.0]
    assert series.notes == ()


def test_resample_fills_a_hole_with_a_line_and_says_so() -> None:
    times = [T0, T0 + 3 * STEP]
    series = resample(times, [0.0, 3.0], STEP)
    assert series.values.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert series.notes == ("2 missing step(s) filled by linear interpolation",)


def test_resample_drops_non_finite_values_with_a_note() -> None:
    series = resample([T0, T0 + STEP, T0 + 2 * STEP], [1.0, math.nan, 3.0], STEP)
    assert series.values.tolist() == [1.0, 2.0, 3.0]
    assert series.notes[0] == "1 non-finite value(s) dropped"


def test_times_that_run_backwards_are_refused_where_they_do() -> None:
    with pytest.raises(ForecastError, match="times run backwards at point 2"):
        resample([T0, T0 + 600, T0 + 300], [1.0, 2.0, 3.0], STEP)


@pytest.mark.parametrize(
    ("times", "values", "step", "message"),
    [
        ([], [], STEP, "no points"),
        ([T0], [1.0, 2.0], STEP, "must pair up"),
        ([T0, T0 + 1], [1.0, 2.0], 0.0, "step must be a positive"),
        ([T0, T0 + STEP], [math.nan, math.inf], STEP, "no finite value"),
        ([T0, T0 + 10 * STEP], [1.0, 2.0], STEP, "9 of 11 steps have no value"),
    ],
)
def test_series_that_cannot_be_repaired_are_refused_with_the_reason(
    times: list[float], values: list[float], step: float, message: str
) -> None:
    with pytest.raises(ForecastError, match=message):
        resample(times, values, step)


def test_holes_at_the_ends_are_cut_off() -> None:
    series = fill_holes(T0, STEP, [math.nan, 1.0, math.nan, 3.0, math.nan])
    assert series.start == T0 + STEP
    assert series.values.tolist() == [1.0, 2.0, 3.0]
    assert "2 empty step(s) at the ends dropped" in series.notes


# ------------------------------------------------------------------ seasonal naive


def test_seasonal_naive_repeats_the_last_season() -> None:
    series = daily(3)
    forecast = SeasonalNaive(season=86_400).fit(series).predict(DAY_STEPS + 10, level=0.8)
    y = series.values
    assert np.array_equal(forecast.value[:DAY_STEPS], y[-DAY_STEPS:])
    assert np.array_equal(forecast.value[DAY_STEPS:], y[-DAY_STEPS : -DAY_STEPS + 10])
    assert forecast.times[0] == series.end + STEP
    assert np.all(forecast.lower <= forecast.value) and np.all(forecast.value <= forecast.upper)
    # two seasons back is less certain than one
    width = forecast.upper - forecast.lower
    assert width[DAY_STEPS] > width[0]


def test_seasonal_naive_without_two_seasons_falls_back_to_the_last_value() -> None:
    series = daily(1.5)
    model = SeasonalNaive(season=86_400).fit(series)
    forecast = model.predict(5)
    assert np.all(forecast.value == series.values[-1])
    assert "naive forecast, the last value" in model.notes[-1]


def test_mase_scale_is_the_in_sample_seasonal_naive_error() -> None:
    y = np.array([1.0, 2.0, 4.0, 7.0])
    assert seasonal_naive_scale(y, 2) == pytest.approx((3 + 5) / 2)
    assert math.isnan(seasonal_naive_scale(y, 4))


# ---------------------------------------------------------------- the default


def rolling_scores(
    series: RegularSeries, horizon: int, window: int, origins: int, level: float
) -> tuple[float, float, float]:
    """MASE (m = one day) of HarmonicAR and of the seasonal naive, and HarmonicAR's
    interval coverage, over rolling origins."""
    y = series.values
    mase, naive, inside = [], [], []
    for origin in np.linspace(window, y.size - horizon, origins).astype(int):
        train = RegularSeries(series.start, STEP, y[:origin]).tail(window)
        truth = y[origin : origin + horizon]
        scale = seasonal_naive_scale(train.values, DAY_STEPS)
        f = HarmonicAR().fit(train).predict(horizon, level)
        b = SeasonalNaive(86_400).fit(train).predict(horizon, level)
        mase.append(np.mean(np.abs(truth - f.value)) / scale)
        naive.append(np.mean(np.abs(truth - b.value)) / scale)
        inside.extend((truth >= f.lower) & (truth <= f.upper))
    return float(np.mean(mase)), float(np.mean(naive)), float(np.mean(inside))


def test_the_default_beats_the_seasonal_naive_with_calibrated_intervals() -> None:
    series = daily(12, seed=1)
    mase, naive, coverage = rolling_scores(
        series, horizon=36, window=5 * DAY_STEPS, origins=20, level=0.8
    )
    assert mase < 1 and mase < naive
    assert 0.7 <= coverage <= 0.95


def test_the_default_finds_the_daily_season_and_keeps_the_phase() -> None:
    series = daily(4, noise=0.1)
    model = HarmonicAR().fit(series)
    assert model.periods == [DAY_STEPS]
    forecast = model.predict(DAY_STEPS)
    # the forecast's peak falls a quarter day after midnight, as the data's does
    assert abs(int(np.argmax(forecast.value)) - DAY_STEPS // 4) <= 6


def test_the_default_follows_a_level_change() -> None:
    series = daily(5, noise=0.2, seed=2)
    y = series.values.copy()
    y[-DAY_STEPS // 2 :] += 15.0  # the machine runs 15 degrees warmer for the last half day
    forecast = HarmonicAR().fit(RegularSeries(T0, STEP, y)).predict(6)
    expected = y[-1] + 5 * (
        np.sin(2 * math.pi * (y.size + np.arange(6)) / DAY_STEPS)
        - np.sin(2 * math.pi * (y.size - 1) / DAY_STEPS)
    )
    assert np.all(np.abs(forecast.value - expected) < 2.5)


def test_a_series_without_a_season_is_forecast_without_one_and_says_so() -> None:
    rng = np.random.default_rng(3)
    series = RegularSeries(T0, 5.0, 50 + np.cumsum(rng.normal(0, 0.1, 300)))
    model = HarmonicAR().fit(series)
    forecast = model.predict(12, level=0.95)
    assert model.periods == []
    assert any("no daily or weekly season" in note for note in forecast.notes)
    assert np.all(forecast.lower < forecast.value) and np.all(forecast.value < forecast.upper)
    assert abs(forecast.value[0] - series.values[-1]) < 1.0


def test_given_seasons_too_long_for_the_data_are_left_out_with_the_reason() -> None:
    model = HarmonicAR(seasons=[86_400, 604_800]).fit(daily(4))
    assert model.periods == [DAY_STEPS]
    assert "604800 s season left out: needs 2016 values (2 cycles), the series has 576" in (
        model.notes
    )


def test_a_constant_series_gives_that_constant_and_a_zero_width_interval() -> None:
    model = HarmonicAR().fit(RegularSeries(T0, STEP, np.full(50, 7.5)))
    forecast = model.predict(4)
    assert forecast.value.tolist() == [7.5] * 4
    assert np.array_equal(forecast.lower, forecast.upper)
    assert "the series is constant" in forecast.notes[-1]


def test_too_short_a_series_is_refused_with_the_counts() -> None:
    with pytest.raises(ForecastError, match=r"needs at least 16 values at a 600 s step, .* has 5"):
        HarmonicAR().fit(RegularSeries(T0, STEP, np.arange(5.0)))


def test_raw_points_with_gaps_and_nans_are_resampled_and_forecast() -> None:
    series = daily(3)
    times = series.times()
    keep = np.ones(times.size, bool)
    keep[100:110] = False  # a gap of ten steps
    values = series.values.copy()
    values[200] = math.nan
    model = HarmonicAR().fit_points(times[keep], values[keep], STEP)
    forecast = model.predict(3)
    assert forecast.times[0] == series.end + STEP
    assert "1 non-finite value(s) dropped" in forecast.notes
    assert "11 missing step(s) filled by linear interpolation" in forecast.notes


@pytest.mark.parametrize(
    ("horizon", "level", "message"),
    [
        (0, 0.8, "horizon must be a whole number of steps ≥ 1, not 0"),
        (-3, 0.8, "not -3"),
        (MAX_HORIZON + 1, 0.8, f"at most {MAX_HORIZON} steps"),
        (5, 1.0, "level must lie strictly between 0 and 1, not 1.0"),
        (5, math.nan, "level must lie strictly between 0 and 1"),
    ],
)
def test_bad_requests_are_refused_naming_the_value(
    horizon: int, level: float, message: str
) -> None:
    model = HarmonicAR().fit(daily(2))
    with pytest.raises(ForecastError, match=re.escape(message)):
        model.predict(horizon, level)


def test_predicting_before_fitting_is_refused() -> None:
    with pytest.raises(ForecastError, match="has not been fitted"):
        SeasonalNaive().predict(3)


def test_wider_level_gives_a_wider_interval_and_the_band_grows_with_the_horizon() -> None:
    model = HarmonicAR().fit(daily(4, seed=5))
    narrow, wide = model.predict(48, 0.8), model.predict(48, 0.95)
    assert np.all(wide.upper - wide.lower >= narrow.upper - narrow.lower)
    assert np.array_equal(narrow.value, wide.value)
    width = narrow.upper - narrow.lower
    assert width[-1] > width[0]
