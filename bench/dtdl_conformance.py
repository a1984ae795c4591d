"""Run the official DTDL conformance cases and print pass rates by version x category.

Usage: python bench/dtdl_conformance.py [--quick] [--failures N] [--filter TEXT]
                                        [--category CATEGORY] [--version v2|v3]
``--failures N`` prints the first N failing cases (and failures per file); ``--filter``,
``--category`` and ``--version`` narrow the run. The last line of output is one JSON object
with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from twinsight.models.diagnostics import Document, DtdlParseError
from twinsight.models.dtdl import parse

DATA = Path(
    os.environ.get("TWINSIGHT_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared/data")
)


def cases(quick: bool = False) -> list[tuple[str, str, str, int, dict[str, Any]]]:
    out = []
    for version in ("v2", "v3"):
        files = sorted((DATA / "dtdl-spec" / version / "spec").glob("*.json"))
        if quick:
            files = files[::10]
        for path in files:
            category = path.name.split("-", 1)[0]
            for index, case in enumerate(json.loads(path.read_text(encoding="utf-8-sig"))):
                out.append((version, category, path.name, index, case))
    return out


def run_case(case: dict[str, Any]) -> tuple[bool, list[str], list[str]]:
    allow = "AllowUndefinedExtensions" in case.get("options", [])
    docs = [Document(f"input[{i}]", d) for i, d in enumerate(case["input"])]
    try:
        parse(docs, allow_undefined_extensions=allow)
    except DtdlParseError as err:
        errors = [str(e) for e in err.errors]
        want = case.get("expect", {}).get("unresolvedIdentifiers")
        if want is not None:
            return (
                sorted(want) == sorted(err.unresolved) and not case["valid"],
                errors,
                list(err.unresolved),
            )
        return not case["valid"], errors, list(err.unresolved)
    return bool(case["valid"]) and "expect" not in case, [], []


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--failures", type=int, default=0, metavar="N")
    ap.add_argument("--filter", default="", help="only case files whose name contains this")
    ap.add_argument("--category", default="", help="Requirement, Recommendation, ...")
    ap.add_argument("--version", default="", choices=("", "v2", "v3"))
    args = ap.parse_args()
    total: Counter[tuple[str, str, bool]] = Counter()
    passed: Counter[tuple[str, str, bool]] = Counter()
    failures = []
    start = time.perf_counter()
    for version, category, name, index, case in cases(args.quick):
        if args.filter and args.filter not in name:
            continue
        if (args.category and category != args.category) or (
            args.version and version != args.version
        ):
            continue
        key = (version, category, bool(case["valid"]))
        total[key] += 1
        ok, errors, unresolved = run_case(case)
        if ok:
            passed[key] += 1
        else:
            failures.append((name, index, case, errors, unresolved))
    elapsed = time.perf_counter() - start
    for name, index, case, errors, _unresolved in failures[: args.failures]:
        print(f"FAIL {name}[{index}] valid={case['valid']} {json.dumps(case)[:600]}")
        for e in errors[:4]:
            print("    ", e[:300])
    byfile = Counter(f[0] for f in failures)
    if args.failures:
        for name, n in byfile.most_common(40):
            print(f"  {n:4d} {name}")
    print(f"{'version':8} {'category':15} {'valid':>14} {'invalid':>14}")
    figures: dict[str, Any] = {}
    for version in ("v2", "v3"):
        for category in ("Requirement", "Recommendation", "Allowance", "Completion"):
            cells = []
            for valid in (True, False):
                t = total[(version, category, valid)]
                p = passed[(version, category, valid)]
                cells.append(f"{p}/{t}")
                figures[f"{version}.{category}.{'valid' if valid else 'invalid'}"] = [p, t]
            print(f"{version:8} {category:15} {cells[0]:>14} {cells[1]:>14}")
    figures["passed"] = sum(passed.values())
    figures["total"] = sum(total.values())
    figures["seconds"] = round(elapsed, 2)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
