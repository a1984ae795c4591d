"""The examples in docs/streams.md run: YAML blocks are valid ``quality:`` sections, and the
Python blocks run against a real server with the factory world."""

from __future__ import annotations

import contextlib
import io
import re

import yaml

from adt import running_server
from ingest.test_pipeline import make_hub
from support import REPO
from twinsight.core.clock import ManualClock
from twinsight.streams.quality import parse_quality

TEXT = (REPO / "docs" / "streams.md").read_text()


def test_yaml_examples_are_valid_quality_sections() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", TEXT, flags=re.DOTALL)
    assert blocks
    for block in blocks:
        config = parse_quality(yaml.safe_load(block), "docs/streams.md")
        assert config.ranges


def test_python_examples_run_against_a_server(clock: ManualClock) -> None:
    blocks = re.findall(r"```python\n(.*?)```", TEXT, flags=re.DOTALL)
    assert len(blocks) >= 2
    with make_hub(clock) as hub, running_server(hub) as base:
        for block in blocks:
            code = block.replace('BASE = "http://127.0.0.1:8000"', f"BASE = {base!r}")
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                exec(compile(code, "docs/streams.md", "exec"), {})
            if "websockets" in block:
                assert "subscribed" in printed.getvalue()
                assert "telemetry {'windingTemperature': 71.5}" in printed.getvalue()
