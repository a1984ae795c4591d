"""The Numenta Anomaly Benchmark's scoring rules, written from their published description.

Why NAB scores the way it does, and so why this code does:

* **Windows, not points.** Each labelled anomaly is a window of time around it. The first
  detection inside a window is a true positive; later ones in the same window neither add
  nor cost (one alarm is all an operator needs). A window with no detection is a false
  negative and costs ``fn`` weight.
* **Early is better.** A detection at relative position ``p`` in the window (``-1`` at the
  window's first point, towards ``0`` at its last) earns ``2·sigmoid(-5p) - 1``, scaled so
  that the window's first point earns exactly the profile's ``tp`` weight.
* **False positives cost by distance.** Every detection outside a window is a false
  positive, weighted ``fp`` times the same scaled sigmoid of its distance past the
  preceding window (in window widths): just after a window it costs almost nothing (a
  late but real detection), from three widths on it costs the full ``fp``; before the
  first window it costs the full ``fp``.
* **A probationary period** — the first 15 % of a series, at most 750 points — is not
  scored: a detector must be allowed to learn.
* **One threshold for the corpus.** Scores become detections at ``score >= threshold``;
  the threshold that maximises the corpus's raw score is chosen per profile, over every
  distinct score (an exact sweep, not a grid).
* **Normalised** to 100 for the perfect detector (a detection at each window's first
  point, nothing else) and 0 for the null detector (a constant score), both run through
  the same rules: ``100 · (raw - null) / (perfect - null)``.

Inputs are plain arrays, so this module does no I/O; ``bench/nab.py`` reads the corpus.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

PROBATIONARY_PERCENT = 0.15
PROBATIONARY_CAP = 5000  # the 15 % is taken of at most this many points (so <= 750)

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Profile:
    """A NAB cost matrix: what a true positive earns and a miss or false alarm costs."""

    name: str
    tp: float
    fp: float
    fn: float


STANDARD = Profile("standard", tp=1.0, fp=0.11, fn=1.0)
REWARD_LOW_FP = Profile("reward_low_FP_rate", tp=1.0, fp=0.22, fn=1.0)
REWARD_LOW_FN = Profile("reward_low_FN_rate", tp=1.0, fp=0.11, fn=2.0)
PROFILES = (STANDARD, REWARD_LOW_FP, REWARD_LOW_FN)


@dataclass(frozen=True)
class Series:
    """One scored series: timestamps (``datetime64``), scores in [0, 1], label windows."""

    name: str
    timestamps: npt.NDArray[np.datetime64]
    scores: FloatArray
    windows: Sequence[tuple[np.datetime64, np.datetime64]]


@dataclass(frozen=True)
class Result:
    """A profile's outcome over a corpus, at its optimised threshold."""

    profile: str
    score: float
    threshold: float
    raw: float
    null_raw: float
    perfect_raw: float
    tp: int
    fp: int
    fn: int


def scaled_sigmoid(position: float) -> float:
    """NAB's reward curve: about +1 at ``-1`` (a window's start), 0 at 0, -1 past 3."""
    if position > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


MAX_TP = scaled_sigmoid(-1.0)


def probationary_length(n: int) -> int:
    """How many leading points of an ``n``-point series go unscored."""
    return int(min(math.floor(PROBATIONARY_PERCENT * n), PROBATIONARY_PERCENT * PROBATIONARY_CAP))


@dataclass(frozen=True)
class _Points:
    """The scored points of one series, each with its window (-1: none) and its
    unweighted reward (a window point's share of ``tp``, or an outside point's of ``fp``)."""

    scores: FloatArray
    window: npt.NDArray[np.int64]
    reward: FloatArray
    n_windows: int


def window_labels(series: Series) -> npt.NDArray[np.int64]:
    """The index of the window each point lies in (bounds inclusive), or -1."""
    labels = np.full(len(series.timestamps), -1, dtype=np.int64)
    for k, (start, end) in enumerate(series.windows):
        labels[(series.timestamps >= start) & (series.timestamps <= end)] = k
    return labels


def _points(series: Series) -> _Points:
    n = len(series.timestamps)
    if len(series.scores) != n:
        raise ValueError(f"{series.name}: {len(series.scores)} scores for {n} timestamps")
    labels = window_labels(series)
    reward = np.empty(n, dtype=np.float64)
    previous_end: int | None = None
    previous_width = 0
    i = 0
    while i < n:
        k = int(labels[i])
        if k >= 0:
            end = i
            while end + 1 < n and labels[end + 1] == k:
                end += 1
            width = end - i + 1
            for j in range(i, end + 1):
                reward[j] = scaled_sigmoid(-(end - j + 1) / width) / MAX_TP
            previous_end, previous_width = end, width
            i = end + 1
            continue
        if previous_end is None:
            reward[i] = -1.0
        else:
            reward[i] = scaled_sigmoid(abs(previous_end - i) / max(previous_width - 1, 1))
        i += 1
    start = probationary_length(n)
    return _Points(
        scores=np.asarray(series.scores[start:], dtype=np.float64),
        window=labels[start:],
        reward=reward[start:],
        n_windows=len(series.windows),
    )


def _sweep(points: Sequence[_Points], profile: Profile) -> tuple[float, float]:
    """The best (threshold, raw score) over every distinct score, exactly.

    Lowering the threshold past a point adds it as a detection: outside a window it adds
    its false-positive cost; inside, it can only raise the window's reward (an earlier
    first detection) or turn a miss into a hit. So one pass in descending score order
    visits every threshold's total.
    """
    if not points:
        return math.inf, 0.0
    scores = np.concatenate([p.scores for p in points])
    reward = np.concatenate([p.reward for p in points])
    window_parts = []
    offset = 0
    for p in points:
        window_parts.append(np.where(p.window >= 0, p.window + offset, -1))
        offset += p.n_windows
    window = np.concatenate(window_parts)
    n_windows = sum(p.n_windows for p in points)
    order = np.argsort(-scores, kind="stable")
    scores_sorted = scores[order].tolist()
    reward_sorted = reward[order].tolist()
    window_sorted = window[order].tolist()
    best: list[float | None] = [None] * n_windows
    total = -profile.fn * n_windows
    best_total, best_threshold = total, math.inf
    tp_w, fp_w, fn_w = profile.tp, profile.fp, profile.fn
    count = len(scores_sorted)
    for i in range(count):
        k = window_sorted[i]
        if k < 0:
            total += fp_w * reward_sorted[i]
        else:
            value = tp_w * reward_sorted[i]
            held = best[k]
            if held is None:
                total += fn_w + value
                best[k] = value
            elif value > held:
                total += value - held
                best[k] = value
        # A threshold sits between distinct scores: only score a group once it is complete.
        if (i + 1 == count or scores_sorted[i + 1] != scores_sorted[i]) and total > best_total:
            best_total, best_threshold = total, scores_sorted[i]
    return best_threshold, best_total


def _counts(points: Sequence[_Points], threshold: float) -> tuple[int, int, int]:
    tp = fp = fn = 0
    for p in points:
        detected = p.scores >= threshold
        fp += int(np.count_nonzero(detected & (p.window < 0)))
        hit = set(np.unique(p.window[detected & (p.window >= 0)]).tolist())
        tp += len(hit)
        fn += p.n_windows - len(hit)
    return tp, fp, fn


def null_scores(series: Series) -> FloatArray:
    """NAB's null detector: the same score for every point (it can only say all or none)."""
    return np.full(len(series.timestamps), 0.5)


def perfect_scores(series: Series) -> FloatArray:
    """The perfect detector: 1 at each window's first point, 0 everywhere else."""
    labels = window_labels(series)
    scores = np.zeros(len(series.timestamps))
    starts = np.flatnonzero((labels >= 0) & (np.diff(labels, prepend=-1) != 0))
    scores[starts] = 1.0
    return scores


def _with(series: Series, scores: FloatArray) -> Series:
    return Series(series.name, series.timestamps, scores, series.windows)


def score_corpus(corpus: Sequence[Series], profile: Profile = STANDARD) -> Result:
    """The NAB score of a detector's scores over a corpus, for one profile."""
    points = [_points(s) for s in corpus]
    threshold, raw = _sweep(points, profile)
    _, null_raw = _sweep([_points(_with(s, null_scores(s))) for s in corpus], profile)
    _, perfect_raw = _sweep([_points(_with(s, perfect_scores(s))) for s in corpus], profile)
    if perfect_raw == null_raw:
        raise ValueError("the corpus has no scorable window: the score is undefined")
    tp, fp, fn = _counts(points, threshold)
    return Result(
        profile=profile.name,
        score=100.0 * (raw - null_raw) / (perfect_raw - null_raw),
        threshold=threshold,
        raw=raw,
        null_raw=null_raw,
        perfect_raw=perfect_raw,
        tp=tp,
        fp=fp,
        fn=fn,
    )
