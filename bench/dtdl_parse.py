"""Time parse+validate of RealEstateCore (DTDL v3) and SmartCities (DTDL v2).

Usage: python bench/dtdl_parse.py [--quick] [--runs N]. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from twinsight.models.diagnostics import Document
from twinsight.models.dtdl import parse

DATA = Path(
    os.environ.get("TWINSIGHT_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared/data")
)


def load(name: str) -> list[Document]:
    root = DATA / "dtdl" / name
    return [
        Document(str(p), json.loads(p.read_text(encoding="utf-8-sig")))
        for p in sorted(root.rglob("*.json"))
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    runs = 2 if args.quick else args.runs
    figures: dict[str, object] = {"runs": runs}
    for name in ("realestatecore", "smartcities"):
        docs = load(name)
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            models = parse(docs)
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        print(f"{name}: {len(models.interfaces)} interfaces, median {median * 1000:.0f} ms")
        figures[f"{name}_interfaces"] = len(models.interfaces)
        figures[f"{name}_median_s"] = round(median, 4)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
