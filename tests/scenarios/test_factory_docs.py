"""The examples of the discrete-event page (the demo factory's conveyor lines among them)
run and print what the page says."""

from __future__ import annotations

import doctest
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "simulation-des.md"


def test_the_discrete_event_page_examples_run() -> None:
    result = doctest.testfile(
        str(DOC), module_relative=False, optionflags=doctest.ELLIPSIS, encoding="utf-8"
    )
    assert result.attempted >= 4
    assert result.failed == 0
