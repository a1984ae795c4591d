"""Every Python example in docs/forecasts.md runs and its assertions hold."""

from __future__ import annotations

import re

import pytest

from support import REPO

DOC = REPO / "docs" / "forecasts.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)


def test_the_doc_has_examples() -> None:
    assert BLOCKS


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_doc_example_runs(index: int) -> None:
    exec(compile(BLOCKS[index], f"{DOC.name}[{index}]", "exec"), {})
