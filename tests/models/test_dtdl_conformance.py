"""The official DTDL v2/v3 conformance cases, one test per case file.

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

# file -> indices of cases not yet handled. Reasons (see docs/benchmarks.md):
# - v2 *CotypeRequiresPropertySchemaValue / *Completion: semantic-type schema rules and
#   JSON-LD completion forms not modelled yet;
# - Requirement cases here are open work: the target is that this part of the list is empty.
KNOWN_FAILURES: dict[str, list[int]] = {
    "v2/Allowance-ClassPropertyCotypePropertyDtmiV2.json": [1],
    "v2/Allowance-ClassTelemetryCotypePropertyDtmiV2.json": [1],
    "v2/Completion-ClassArrayTypeIncludesIrrelevantDtmiOrTermV2.json": [0, 2],
    "v2/Completion-ClassCommandPayloadTypeIncludesIrrelevantDtmiOrTermV2.json": [0, 2],
    "v2/Completion-ClassCommandTypeIncludesIrrelevantDtmiOrTermV2.json": [0, 2],
    "v2/Completion-ClassComponentTypeIncludesIrrelevantDtmiOrTermV2.json": [0, 2],
    "v2/Completion-ClassEnumTypeIncludesIrrelevantDtmiOrTermV2.json": [0, 2],
    "v2/Completion-ClassEnumValueTypeIncludesIrrelevantDtmiOrTermV2.json": [0, 2],
    "v2/Completion-ClassFieldTypeIncludesIrrelevantDtmiOrTermV2.json": [0, 2],
    "v2/Completion-ClassInterfaceTypeIncludesIrrelevantDtmiOrTermV2.json": [0, 2],
    "v2/Completion-ClassMapKeyTypeIncludesIrrelevantDtmiOrTermV2.json": [0, 2],
    "v2/Completion-ClassMapTypeIncludesIrrelevantDtmiOrTermV2.json": [0, 2],
    "v2/Completion-ClassMapValueTypeIncludesIrrelevantDtmiOrTermV2.json": [0, 2],
    "v2/Completion-ClassObjectTypeIncludesIrrelevantDtmiOrTermV2.json": [0, 2],
    "v2/Completion-ClassPropertyTypeIncludesIrrelevantDtmiOrTermV2.json": [0, 2],
    "v2/Completion-ClassRelationshipTypeIncludesIrrelevantDtmiOrTermV2.json": [0, 2],
    "v2/Completion-ClassTelemetryTypeIncludesIrrelevantDtmiOrTermV2.json": [0, 2],
    "v2/Recommendation-ClassArrayInvalidKeywordsV2.json": [0, 2],
    "v2/Recommendation-ClassCommandInvalidKeywordsV2.json": [0, 2],
    "v2/Recommendation-ClassCommandPayloadInvalidKeywordsV2.json": [0, 2],
    "v2/Recommendation-ClassComponentInvalidKeywordsV2.json": [0, 2],
    "v2/Recommendation-ClassEnumInvalidKeywordsV2.json": [0, 2],
    "v2/Recommendation-ClassEnumValueInvalidKeywordsV2.json": [0, 2],
    "v2/Recommendation-ClassFieldInvalidKeywordsV2.json": [0, 2],
    "v2/Recommendation-ClassInterfaceInvalidKeywordsV2.json": [0, 2],
    "v2/Recommendation-ClassMapInvalidKeywordsV2.json": [0, 2],
    "v2/Recommendation-ClassMapKeyInvalidKeywordsV2.json": [0, 2],
    "v2/Recommendation-ClassMapValueInvalidKeywordsV2.json": [0, 2],
    "v2/Recommendation-ClassObjectInvalidKeywordsV2.json": [0, 2],
    "v2/Recommendation-ClassPropertyCotypePropertyTermV2.json": [1],
    "v2/Recommendation-ClassPropertyDuplicateSemanticTypesV2.json": [0, 1],
    "v2/Recommendation-ClassPropertyInvalidKeywordsV2.json": [0, 2],
    "v2/Recommendation-ClassPropertySemanticTypeTermAndDtmiV2.json": [0],
    "v2/Recommendation-ClassRelationshipInvalidKeywordsV2.json": [0, 2],
    "v2/Recommendation-ClassTelemetryCotypePropertyTermV2.json": [1],
    "v2/Recommendation-ClassTelemetryDuplicateSemanticTypesV2.json": [0, 1],
    "v2/Recommendation-ClassTelemetryInvalidKeywordsV2.json": [0, 2],
    "v2/Recommendation-ClassTelemetrySemanticTypeTermAndDtmiV2.json": [0],
    "v2/Recommendation-ContextDtdlOnlyOneV2.json": [1, 2, 3],
    "v2/Recommendation-ContextDtdlPrecedesOrOnlyExceptionV2.json": [1],
    "v2/Recommendation-ContextUniqueValuesV2.json": [1],
    "v3/Recommendation-ContextDtdlOnlyOneV3.json": [1, 2, 3],
    "v3/Recommendation-ContextRepeatsDeversionedValueV3.json": [0],
    "v3/Recommendation-ContextUniqueValuesV3.json": [1],
}


def _run(case: dict[str, Any]) -> tuple[bool, str]:
    allow = "AllowUndefinedExtensions" in case.get("options", [])
    docs = [Document(f"input[{i}]", d) for i, d in enumerate(case["input"])]
    try:
        parse(docs, allow_undefined_extensions=allow)
    except DtdlParseError as err:
        errors = "\n  ".join(str(e) for e in err.errors[:10])
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
