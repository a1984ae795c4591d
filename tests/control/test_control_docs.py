"""docs/control.md's Python example runs as written and prints what the page says."""

from __future__ import annotations

import contextlib
import io
import re

from support import REPO

DOC = (REPO / "docs" / "control.md").read_text(encoding="utf-8")


def test_the_python_example_prints_what_the_page_says() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC, flags=re.DOTALL)
    (code,) = [block for block in blocks if "EmbeddedBroker" in block]
    expected = [line[2:] for line in code.splitlines() if line.startswith("# ")]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "docs/control.md", "exec"), {})
    assert printed.getvalue().splitlines() == expected
