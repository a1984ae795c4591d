"""The examples in the simulation pages run and print what the pages say: docs/simulation.md,
and docs/scenarios.md (its catalogue example lists the factory's models, changes a listed
parameter and sees a listed fed input refused)."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.mark.parametrize(("page", "examples"), [("simulation.md", 5), ("scenarios.md", 20)])
def test_the_simulation_pages_examples_run(page: str, examples: int) -> None:
    result = doctest.testfile(
        str(DOCS / page), module_relative=False, optionflags=doctest.ELLIPSIS, encoding="utf-8"
    )
    assert result.attempted > examples
    assert result.failed == 0
