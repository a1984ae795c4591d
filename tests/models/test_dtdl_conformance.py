"""The official DTDL v2/v3 conformance cases, one test per case file.

Every error reported for a rejected case must name its document, rule, message and fix.

Every case of every file must give the expected outcome, except the cases listed in
``KNOWN_FAILURES``: those are cases the parser does not yet get right (see
docs/benchmarks.md for the reasons). Anything else that fails is a regression. A case
listed here that starts passing also fails the test, so the list only ever shrinks.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from twinsight.models.diagnostics import Document, DtdlParseError
from twinsight.models.dtdl import parse

DATA = Path(os.environ.get("TWINSIGHT_SHARED_DATA", Path(__file__).parents[3] / "shared" / "data"))
SPEC = DATA / "dtdl-spec"
FILES = sorted(
    f"{version}/{path.name}"
    for version in ("v2", "v3")
    for path in (SPEC / version / "spec").glob("*.json")
)

# file -> indices of cases not yet handled, with the reason in a comment (and in
# docs/benchmarks.md). Every case of every category passes today, so this is empty; keep it
# empty unless a new case file arrives that the parser cannot handle yet.
KNOWN_FAILURES: dict[str, list[int]] = {}


def _run(case: dict[str, Any]) -> tuple[bool, str]:
    allow = "AllowUndefinedExtensions" in case.get("options", [])
    docs = [Document(f"input[{i}]", d) for i, d in enumerate(case["input"])]
    try:
        parse(docs, allow_undefined_extensions=allow)
    except DtdlParseError as err:
        errors = "\n  ".join(str(e) for e in err.errors[:10])
        vague = [e for e in err.errors if not (e.document and e.rule and e.message and e.fix)]
        if vague:
            return False, f"errors without document, rule, message or fix: {vague}"
        want = case.get("expect", {}).get("unresolvedIdentifiers")
        if want is not None:
            ok = sorted(want) == sorted(err.unresolved)
            return ok, f"unresolved={list(err.unresolved)}\n  {errors}"
        return not case["valid"], errors
    return bool(case["valid"]) and "expect" not in case, "(parsed without errors)"


@pytest.mark.skipif(not SPEC.exists(), reason="shared DTDL conformance data not available")
@pytest.mark.parametrize("name", FILES)
def test_conformance_file(name: str) -> None:
    version, _, file_name = name.partition("/")
    cases = json.loads((SPEC / version / "spec" / file_name).read_text(encoding="utf-8-sig"))
    known = set(KNOWN_FAILURES.get(name, ()))
    problems = []
    for index, case in enumerate(cases):
        ok, detail = _run(case)
        if not ok and index not in known:
            problems.append(
                f"case {index} (expected valid={case['valid']}): "
                f"{json.dumps(case)[:800]}\n  ours: {detail}"
            )
        if ok and index in known:
            problems.append(f"case {index} now passes: remove it from KNOWN_FAILURES")
    assert not problems, "\n".join(problems)
