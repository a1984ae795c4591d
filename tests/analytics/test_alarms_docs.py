"""docs/alarms.md's examples hold: its Python example prints what the page says, and the
monitoring file it shows field by field is accepted as it is written there."""

from __future__ import annotations

import contextlib
import io
import re

from support import REPO
from twinsight.analytics.monitoring import parse_monitoring

DOC = (REPO / "docs" / "alarms.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, flags=re.DOTALL)


def test_the_python_example_prints_what_the_page_says() -> None:
    (code,) = _blocks("python")
    expected = [line[2:] for line in code.splitlines() if line.startswith("# ")]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "docs/alarms.md", "exec"), {})
    assert printed.getvalue().splitlines() == expected


def test_the_documented_monitoring_file_is_accepted() -> None:
    (text,) = [block for block in _blocks("yaml") if block.startswith("monitors:")]
    spec = parse_monitoring(text, "docs/alarms.md")
    assert [m.name for m in spec.monitors] == [
        "motor-vibration",
        "motor-condition",
        "motor-winding-residual",
        "tank-level-limits",
    ]
    assert spec.monitors[0].settle == 600
