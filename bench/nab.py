"""Numenta Anomaly Benchmark: the default detector over NAB's 58 series, scored by NAB's rules.

What it does:

* runs a detector (``--detector``, default: the platform's default detector) over every
  series in ``<data>/data`` one value at a time — score, then learn, as on a live stream;
* writes NAB's results layout into ``--out DIR``: one CSV per series,
  ``<detector>/<category>/<detector>_<file>.csv`` with columns
  ``timestamp,value,anomaly_score,label`` (the label is 1 inside a window of
  ``labels/combined_windows.json``);
* scores the standard, reward_low_FP_rate and reward_low_FN_rate profiles (weights read
  from ``<data>/config/profiles.json``) with :mod:`twinsight.analytics.nab`;
* measures throughput: values per second through ``process_one`` in this one process (one
  core), timing only the detector loop, by the wall clock and by the process's CPU time
  (on a machine shared with other jobs the wall clock also counts the time the process
  waited for a core);
* scores the standard profile again on the odd- and even-numbered series (file order, from
  1) apart, each half with its own threshold: the detector's settings were chosen on the
  whole corpus, so a half that falls far below the other says they fit it by luck.

Usage (from the repo root): ``python bench/nab.py [--out DIR] [--quick]`` (quick: the
first two series of each category, well under a minute). The last line of stdout is one
JSON object with every figure.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from twinsight.analytics import nab
from twinsight.analytics.detectors import (
    DEFAULT_DETECTOR,
    Detector,
    HalfSpaceTreesDetector,
    RarityDetector,
    RobustZScoreDetector,
)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO / ".." / "shared" / "data" / "nab"
DETECTORS: dict[str, type[Detector]] = {
    RarityDetector.name: RarityDetector,
    RobustZScoreDetector.name: RobustZScoreDetector,
    HalfSpaceTreesDetector.name: HalfSpaceTreesDetector,
}


def read_series(path: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Timestamps as written, as ``datetime64``, and values, of one NAB data file."""
    with path.open(newline="") as f:
        rows = list(csv.reader(f))[1:]
    stamps = [r[0] for r in rows]
    return stamps, np.array(stamps, dtype="datetime64[ms]"), np.array([float(r[1]) for r in rows])


def load_profiles(data: Path) -> list[nab.Profile]:
    raw = json.loads((data / "config" / "profiles.json").read_text())
    return [
        nab.Profile(
            name,
            tp=float(spec["CostMatrix"]["tpWeight"]),
            fp=float(spec["CostMatrix"]["fpWeight"]),
            fn=float(spec["CostMatrix"]["fnWeight"]),
        )
        for name, spec in raw.items()
    ]


def _half_score(half: list[nab.Series]) -> float | None:
    """The standard score of part of the corpus, or None when it has no window to score."""
    try:
        return nab.score_corpus(half, nab.STANDARD).score
    except ValueError:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="NAB's folder")
    parser.add_argument("--out", type=Path, default=None, help="write NAB's results layout")
    parser.add_argument("--detector", choices=sorted(DETECTORS), default=DEFAULT_DETECTOR.name)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="two series per category")
    args = parser.parse_args()
    for needed in ("data", "labels/combined_windows.json", "config/profiles.json"):
        if not (args.data / needed).exists():
            parser.error(f"--data {args.data}: no {needed} there (give NAB's folder)")

    data: Path = args.data.resolve()
    windows_by_file: dict[str, list[list[str]]] = json.loads(
        (data / "labels" / "combined_windows.json").read_text()
    )
    files = sorted(windows_by_file)
    if args.quick:
        by_category: dict[str, list[str]] = {}
        for name in files:
            by_category.setdefault(name.split("/")[0], []).append(name)
        files = [name for names in by_category.values() for name in names[:2]]
    kind = DETECTORS[args.detector]

    started = time.perf_counter()
    read_s = detect_s = detect_cpu_s = write_s = 0.0
    values_total = 0
    corpus: list[nab.Series] = []
    for name in files:
        t0 = time.perf_counter()
        stamps, times, values = read_series(data / "data" / name)
        epoch = (times.astype("int64") / 1000.0).tolist()
        xs = values.tolist()
        windows = [
            (np.datetime64(start, "ms"), np.datetime64(end, "ms"))
            for start, end in windows_by_file[name]
        ]
        t1 = time.perf_counter()
        c1 = time.process_time()
        detector = kind(seed=args.seed)
        process = detector.process_one
        scores = [process(t, x) for t, x in zip(epoch, xs, strict=True)]
        detect_cpu_s += time.process_time() - c1
        t2 = time.perf_counter()
        series = nab.Series(name, times, np.array(scores), windows)
        corpus.append(series)
        if args.out is not None:
            category, file = name.split("/")
            target = args.out / kind.name / category / f"{kind.name}_{file}"
            target.parent.mkdir(parents=True, exist_ok=True)
            labels = (nab.window_labels(series) >= 0).astype(int).tolist()
            with target.open("w", newline="") as f:
                writer = csv.writer(f)
                writer.writerow(["timestamp", "value", "anomaly_score", "label"])
                writer.writerows(zip(stamps, xs, scores, labels, strict=True))
        t3 = time.perf_counter()
        read_s += t1 - t0
        detect_s += t2 - t1
        write_s += t3 - t2
        values_total += len(xs)

    t0 = time.perf_counter()
    results = [nab.score_corpus(corpus, profile) for profile in load_profiles(data)]
    halves = {
        "standard_odd_series": _half_score(corpus[0::2]),
        "standard_even_series": _half_score(corpus[1::2]),
    }
    score_s = time.perf_counter() - t0

    figures: dict[str, Any] = {
        "detector": kind.name,
        "series": len(corpus),
        "windows": sum(len(s.windows) for s in corpus),
        "values": values_total,
        "quick": args.quick,
        "throughput_values_per_s": round(values_total / detect_s),
        "throughput_values_per_cpu_s": round(values_total / detect_cpu_s),
        "read_s": round(read_s, 3),
        "detect_s": round(detect_s, 3),
        "write_s": round(write_s, 3),
        "score_s": round(score_s, 3),
        "total_s": round(time.perf_counter() - started, 3),
        "python": platform.python_version(),
    }
    for r in results:
        print(
            f"{r.profile:>20}: {r.score:6.2f}  threshold {r.threshold:.4f}  "
            f"TP {r.tp}  FP {r.fp}  FN {r.fn}  raw {r.raw:.2f} "
            f"(null {r.null_raw:.2f}, perfect {r.perfect_raw:.2f})"
        )
        figures[r.profile] = round(r.score, 2)
        figures[f"{r.profile}_threshold"] = r.threshold
    for half, value in halves.items():
        print(f"{half:>20}: {'none' if value is None else f'{value:6.2f}'}")
        figures[half] = None if value is None else round(value, 2)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
