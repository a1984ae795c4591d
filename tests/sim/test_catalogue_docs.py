"""The catalogue example in docs/scenarios.md runs and prints what the page says: list the
factory's models, change a listed parameter, and see a listed fed input refused."""

from __future__ import annotations

import doctest
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "scenarios.md"


def test_the_scenarios_page_catalogue_example_runs() -> None:
    result = doctest.testfile(
        str(DOC), module_relative=False, optionflags=doctest.ELLIPSIS, encoding="utf-8"
    )
    assert result.attempted > 20
    assert result.failed == 0
