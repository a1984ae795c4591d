"""Real-world ontologies parse with zero errors and zero unresolved references."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from twinsight.models.diagnostics import Document
from twinsight.models.dtdl import parse

DATA = Path(os.environ.get("TWINSIGHT_SHARED_DATA", Path(__file__).parents[3] / "shared" / "data"))


def _load(name: str) -> list[Document]:
    root = DATA / "dtdl" / name
    if not root.exists():
        pytest.skip(f"{root} not available")
    return [
        Document(str(path.relative_to(root)), json.loads(path.read_text(encoding="utf-8-sig")))
        for path in sorted(root.rglob("*.json"))
    ]


def test_realestatecore_v3() -> None:
    models = parse(_load("realestatecore"))
    # The shared copy holds 767 interfaces (one per file).
    assert len(models.interfaces) == 767
    assert {models.language_version(i) for i in models.interfaces} == {3}


def test_smartcities_v2() -> None:
    models = parse(_load("smartcities"))
    assert len(models.interfaces) == 63
    assert {models.language_version(i) for i in models.interfaces} == {2}
