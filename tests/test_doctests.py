"""Every example in every docstring of the package runs and prints what it says.

Modules are found by walking the package, so a new module's examples are checked without
anyone remembering to list it.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import twinsight

MODULES = sorted(
    info.name for info in pkgutil.walk_packages(twinsight.__path__, prefix="twinsight.")
)


def test_modules_were_found() -> None:
    assert {"twinsight.hub", "twinsight.models.loader", "twinsight.graph.query"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} doctest example(s) failed in {name}"
