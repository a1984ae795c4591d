"""Remaining useful life (RUL) from run-to-failure histories, on NASA's C-MAPSS layout.

Why it is built this way:

* **A capped target.** Early in life an engine shows no sign of wear, so no model can tell
  200 cycles left from 300. The usual piecewise-linear target says so: RUL counts down to
  0 at an engine's last training cycle but is capped at :data:`RUL_CAP` (125) cycles.
* **Operating conditions are taken out first.** In FD002 and FD004 the engines fly in six
  operating conditions (altitude, Mach, throttle), which move the sensors far more than
  wear does. Each sensor is standardised with the mean and spread of its own condition in
  the training data, so what is left is mostly wear. With one condition this is plain
  standardisation.
* **Flat sensors are dropped.** Sensors that hardly change within a condition carry no
  wear signal, only quantisation noise.
* **History, not one snapshot.** Single readings are noisy; means and least-squares slopes
  over the last few cycles, and the engine's age, let a small tree model see the trend a
  recurrent network would learn, in seconds on a CPU.
* **Gradient-boosted trees** (scikit-learn's histogram boosting): fast, no scaling needed,
  and a few seeds averaged smooth out the variance of a single fit.

Scored as the literature does, on each test engine's last cycle: RMSE and the PHM08 score,
which punishes late predictions (too much RUL left) harder than early ones.
"""

from __future__ import annotations

import gzip
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

RUL_CAP = 125
N_SETTINGS = 3
N_SENSORS = 21
N_COLUMNS = 2 + N_SETTINGS + N_SENSORS  # unit, cycle, settings, sensors
WINDOWS = (10, 30, 60, 120)  # cycles over which means and slopes are taken
# Settings are rounded to these steps (altitude, Mach, throttle) to name the conditions.
_ROUNDING = np.array([1.0, 100.0, 1.0])

Array = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class CmapssFormatError(ValueError):
    """A C-MAPSS file that does not hold what its format promises (names file and line)."""


@dataclass(frozen=True)
class Fleet:
    """Engine histories as read from one C-MAPSS file, rows sorted by unit then cycle."""

    unit: IntArray
    cycle: IntArray
    settings: Array  # (rows, 3)
    sensors: Array  # (rows, 21)

    def last_rows(self) -> IntArray:
        """Index of each unit's last cycle, units in ascending order."""
        ends = np.flatnonzero(np.diff(self.unit)) if len(self.unit) else np.array([], int)
        return np.append(ends, len(self.unit) - 1).astype(np.int64) if len(self.unit) else ends


def _open_text(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="ascii") as handle:
        return handle.read().splitlines()


def load_fleet(path: str | Path) -> Fleet:
    """Read a C-MAPSS train or test file (plain or gzipped).

    Each line holds 26 whitespace-separated numbers: unit, cycle, three operating settings
    and 21 sensors. A malformed line raises :class:`CmapssFormatError` naming the file and
    line, so a truncated download is not mistaken for a short engine history.
    """
    path = Path(path)
    rows: list[list[float]] = []
    for number, line in enumerate(_open_text(path), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != N_COLUMNS:
            raise CmapssFormatError(
                f"{path}:{number}: expected {N_COLUMNS} numbers, found {len(fields)}"
            )
        try:
            values = [float(f) for f in fields]
        except ValueError as error:
            raise CmapssFormatError(f"{path}:{number}: not a number ({error})") from None
        if not all(math.isfinite(v) for v in values):
            raise CmapssFormatError(f"{path}:{number}: a value is not finite")
        rows.append(values)
    if not rows:
        raise CmapssFormatError(f"{path}: no data lines")
    table = np.asarray(rows, dtype=np.float64)
    order = np.lexsort((table[:, 1], table[:, 0]))
    table = table[order]
    return Fleet(
        unit=table[:, 0].astype(np.int64),
        cycle=table[:, 1].astype(np.int64),
        settings=table[:, 2 : 2 + N_SETTINGS],
        sensors=table[:, 2 + N_SETTINGS :],
    )


def load_true_rul(path: str | Path) -> Array:
    """Read a C-MAPSS ``RUL_FDxxx.txt`` file: one true RUL per test engine, units in order."""
    path = Path(path)
    values: list[float] = []
    for number, line in enumerate(_open_text(path), start=1):
        text = line.strip()
        if not text:
            continue
        try:
            values.append(float(text))
        except ValueError:
            raise CmapssFormatError(f"{path}:{number}: not a number: {text!r}") from None
    return np.asarray(values, dtype=np.float64)


def rul_target(fleet: Fleet, cap: int = RUL_CAP) -> Array:
    """Piecewise-linear training target: cycles to each unit's last cycle, capped at ``cap``."""
    last_cycle = np.zeros(int(fleet.unit.max()) + 1, dtype=np.int64)
    np.maximum.at(last_cycle, fleet.unit, fleet.cycle)
    left: IntArray = last_cycle[fleet.unit] - fleet.cycle
    return np.minimum(left, cap).astype(np.float64)


def rmse(predicted: Sequence[float] | Array, true: Sequence[float] | Array) -> float:
    """Root-mean-square error."""
    d = np.asarray(predicted, dtype=np.float64) - np.asarray(true, dtype=np.float64)
    return float(np.sqrt(np.mean(d * d)))


def phm08_score(predicted: Sequence[float] | Array, true: Sequence[float] | Array) -> float:
    """PHM08 challenge score: sum of exp(-d/13)-1 (early, d<0) or exp(d/10)-1 (late, d>=0).

    ``d`` is predicted minus true RUL. A late prediction means maintenance after failure,
    so it costs more than an early one of the same size.
    """
    d = np.asarray(predicted, dtype=np.float64) - np.asarray(true, dtype=np.float64)
    return float(np.sum(np.where(d < 0, np.exp(-d / 13.0) - 1.0, np.exp(d / 10.0) - 1.0)))


@dataclass
class Normaliser:
    """Per-operating-condition standardisation of the informative sensors, fitted on training.

    Conditions are the distinct rounded setting triples seen often in training; every row
    (training or test) joins its nearest one.
    """

    centres: Array = field(default_factory=lambda: np.zeros((0, N_SETTINGS)))
    scale: Array = field(default_factory=lambda: np.ones(N_SETTINGS))
    mean: Array = field(default_factory=lambda: np.zeros((0, N_SENSORS)))
    std: Array = field(default_factory=lambda: np.ones((0, N_SENSORS)))
    keep: IntArray = field(default_factory=lambda: np.arange(N_SENSORS, dtype=np.int64))

    def conditions(self, settings: Array) -> IntArray:
        """Index of the nearest operating condition for each row."""
        gap = (settings[:, None, :] - self.centres[None, :, :]) / self.scale
        nearest: IntArray = np.argmin(np.sum(gap * gap, axis=2), axis=1).astype(np.int64)
        return nearest

    def fit(self, fleet: Fleet) -> Normaliser:
        """Find the conditions and each sensor's mean and spread within each.

        Any number of settings and sensors (C-MAPSS has 3 and 21); settings are rounded
        to C-MAPSS's steps when there are three of them, else to whole numbers."""
        n_sensors = fleet.sensors.shape[1]
        rounding = _ROUNDING if fleet.settings.shape[1] == N_SETTINGS else 1.0
        rounded = np.round(fleet.settings * rounding) / rounding + 0.0
        combos, counts = np.unique(rounded, axis=0, return_counts=True)
        self.centres = combos[counts >= max(10, 0.01 * len(rounded))]
        self.scale = np.maximum(np.ptp(self.centres, axis=0), 1e-9)
        condition = self.conditions(fleet.settings)
        n = len(self.centres)
        self.mean = np.zeros((n, n_sensors))
        self.std = np.ones((n, n_sensors))
        informative = np.zeros(n_sensors, dtype=bool)
        for c in range(n):
            block = fleet.sensors[condition == c]
            self.mean[c] = block.mean(axis=0)
            self.std[c] = np.maximum(block.std(axis=0), 1e-9)
            # Flat: a handful of distinct values (a constant or one quantisation step).
            distinct = np.array([len(np.unique(block[:, s])) for s in range(n_sensors)])
            informative |= distinct > 5
        self.keep = np.flatnonzero(informative).astype(np.int64)
        return self

    def transform(self, fleet: Fleet) -> Array:
        """Standardised informative sensors, one row per cycle."""
        condition = self.conditions(fleet.settings)
        z = (fleet.sensors - self.mean[condition]) / self.std[condition]
        return z[:, self.keep]


def _window_stats(z: Array, starts: IntArray, window: int) -> tuple[Array, Array]:
    """Mean and least-squares slope of each column over the last ``window`` cycles.

    ``starts`` is each row's unit's first row; early in a history the window is shorter.
    Done with cumulative sums, so the cost does not grow with the window.
    """
    rows = np.arange(len(z), dtype=np.float64)
    zero = np.zeros((1, z.shape[1]))
    sum_x = np.vstack([zero, np.cumsum(z, axis=0)])
    sum_ix = np.vstack([zero, np.cumsum(z * rows[:, None], axis=0)])
    here = np.arange(len(z), dtype=np.int64)
    first = np.maximum(starts, here - window + 1)
    n = (here - first + 1).astype(np.float64)[:, None]
    sx = sum_x[here + 1] - sum_x[first]
    six = sum_ix[here + 1] - sum_ix[first]
    # Sums of the row index i and i² over [first, here].
    a = first.astype(np.float64)[:, None]
    b = here.astype(np.float64)[:, None]
    si = (a + b) * n / 2.0
    sii = (b * (b + 1) * (2 * b + 1) - (a - 1) * a * (2 * a - 1)) / 6.0
    denominator = n * sii - si * si
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.where(denominator > 0, (n * six - si * sx) / denominator, 0.0)
    return sx / n, slope


def features(
    fleet: Fleet, normaliser: Normaliser, *, age: bool = True, windows: Sequence[int] = WINDOWS
) -> Array:
    """One feature row per cycle, from that cycle and the ones before it only.

    The engine's age (unless ``age`` is false: a machine whose recorded history starts
    long after it was new has no known age), the standardised sensors, and their means
    and slopes over the last ``windows`` cycles.
    """
    z = normaliser.transform(fleet)
    first_of_unit = np.flatnonzero(np.r_[True, np.diff(fleet.unit) != 0])
    run = np.cumsum(np.r_[True, np.diff(fleet.unit) != 0]) - 1
    starts = first_of_unit[run].astype(np.int64)
    columns = [fleet.cycle.astype(np.float64)[:, None], z] if age else [z]
    for window in windows:
        mean, slope = _window_stats(z, starts, window)
        columns += [mean, slope]
    return np.hstack(columns)


@dataclass
class RulModel:
    """Normaliser plus an average of gradient-boosted tree models over a few seeds."""

    seeds: int = 3
    max_iter: int = 400
    learning_rate: float = 0.05
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 40
    cap: int = RUL_CAP
    # Native threads for the tree code. One by default: on a small machine shared with other
    # work, OpenMP threads that wait for a busy core made training ten times slower.
    threads: int = 1
    normaliser: Normaliser = field(default_factory=Normaliser)
    models: list[HistGradientBoostingRegressor] = field(default_factory=list)

    def fit(self, fleet: Fleet) -> RulModel:
        """Train on every cycle of every run-to-failure history in ``fleet``."""
        self.normaliser = Normaliser().fit(fleet)
        x = features(fleet, self.normaliser)
        y = rul_target(fleet, self.cap)
        self.models = []
        with threadpool_limits(limits=self.threads):
            self._fit_seeds(x, y)
        return self

    def _fit_seeds(self, x: Array, y: Array) -> None:
        for seed in range(self.seeds):
            model = HistGradientBoostingRegressor(
                max_iter=self.max_iter,
                learning_rate=self.learning_rate,
                max_leaf_nodes=self.max_leaf_nodes,
                min_samples_leaf=self.min_samples_leaf,
                l2_regularization=1.0,
                max_features=0.7,
                random_state=seed,
            )
            self.models.append(model.fit(x, y))

    def predict_all(self, fleet: Fleet) -> Array:
        """Predicted RUL at every cycle, clipped to [0, cap]."""
        if not self.models:
            raise RuntimeError("RulModel.predict before fit")
        x = features(fleet, self.normaliser)
        with threadpool_limits(limits=self.threads):
            each = [np.asarray(m.predict(x), dtype=np.float64) for m in self.models]
        mean: Array = np.clip(np.mean(each, axis=0), 0.0, float(self.cap))
        return mean

    def predict_last(self, fleet: Fleet) -> Array:
        """Predicted RUL at each unit's last observed cycle, units in ascending order."""
        return self.predict_all(fleet)[fleet.last_rows()]
