"""PNG plots of what-if results: scenario against baseline, and a sweep's distributions.

Drawn with Matplotlib's object API on the Agg canvas (no ``pyplot``): no global figure
state and no display, so the API's thread pool can draw several plots at once.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

BASELINE_COLOUR = "#6b7280"
SCENARIO_COLOUR = "#2563eb"
DIFFERENCE_COLOUR = "#f59e0b"


def _time_axis(times: NDArray[np.float64]) -> tuple[NDArray[np.float64], str]:
    span = float(times[-1]) if len(times) else 0.0
    if span > 3 * 3600:
        return times / 3600.0, "hours after the fork"
    if span > 180:
        return times / 60.0, "minutes after the fork"
    return times, "seconds after the fork"


def _png(figure: object) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)  # type: ignore[attr-defined]
    return buffer.getvalue()


def comparison_png(
    times: NDArray[np.float64],
    baseline: Mapping[str, NDArray[np.float64]],
    scenario: Mapping[str, NDArray[np.float64]],
    *,
    units: Mapping[str, str],
    title: str,
) -> bytes:
    """One panel per series: baseline and scenario lines, the gap between them shaded."""
    from matplotlib.figure import Figure

    keys = list(baseline)
    figure = Figure(figsize=(9.0, 2.6 * max(1, len(keys)) + 0.6), layout="constrained")
    axes = figure.subplots(max(1, len(keys)), 1, sharex=True, squeeze=False)[:, 0]
    x, label = _time_axis(times)
    for ax, key in zip(axes, keys, strict=False):
        base, changed = baseline[key], scenario[key]
        ax.plot(x, base, color=BASELINE_COLOUR, linewidth=1.6, label="baseline")
        ax.plot(x, changed, color=SCENARIO_COLOUR, linewidth=1.6, label="scenario")
        ax.fill_between(
            x, base, changed, color=DIFFERENCE_COLOUR, alpha=0.3, linewidth=0, label="difference"
        )
        unit = units.get(key, "")
        ax.set_ylabel(f"{key}\n[{unit}]" if unit else key, fontsize=9)
        ax.grid(True, alpha=0.3)
    axes[0].legend(loc="best", fontsize=8)
    axes[-1].set_xlabel(label)
    figure.suptitle(title, fontsize=10)
    return _png(figure)


def histogram_png(
    values: Mapping[str, NDArray[np.float64]],
    percentiles: Mapping[str, Mapping[str, float]],
    *,
    title: str,
) -> bytes:
    """One histogram per output, with its 5th, 50th and 95th percentiles marked."""
    from matplotlib.figure import Figure

    keys = list(values)
    columns = min(2, max(1, len(keys)))
    rows = max(1, math.ceil(len(keys) / columns))
    figure = Figure(figsize=(4.6 * columns, 3.0 * rows + 0.6), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax, key in zip(axes, keys, strict=False):
        data = values[key]
        data = data[np.isfinite(data)]
        if len(data):
            ax.hist(data, bins=min(30, max(5, len(data) // 3)), color=SCENARIO_COLOUR, alpha=0.75)
        for name, style in (("p5", ":"), ("p50", "-"), ("p95", ":")):
            mark = percentiles.get(key, {}).get(name)
            if mark is not None and math.isfinite(mark):
                ax.axvline(mark, color=DIFFERENCE_COLOUR, linestyle=style, linewidth=1.5)
        ax.set_title(key, fontsize=9)
        ax.set_ylabel("runs", fontsize=8)
        ax.grid(True, alpha=0.3)
    for ax in axes[len(keys) :]:
        ax.set_visible(False)
    figure.suptitle(title, fontsize=10)
    return _png(figure)
