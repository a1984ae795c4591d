"""Every mapping example in docs/ingest.md is a valid mapping file."""

from __future__ import annotations

import re

from support import REPO
from twinsight.ingest.mapping import parse_mapping


def test_yaml_examples_in_the_docs_are_valid() -> None:
    text = (REPO / "docs" / "ingest.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL)
    assert blocks
    for block in blocks:
        mapping = parse_mapping(block, "docs/ingest.md")
        assert mapping.rules
