"""Run the doctest examples in the DTDL package's docstrings."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "twinsight.models.dtdl.parser",
    "twinsight.models.dtdl.values",
    "twinsight.models.dtdl.dtmi",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0
