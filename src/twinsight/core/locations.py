"""Where in a hand-written file a problem is: a field path and its line.

Why in core: every file an operator writes by hand (payload mappings, monitors, guards,
rules) is checked by pydantic, which names the failing field as a path tuple
(``("guards", 0, "bounds", "min")``); the operator wants that path written as they would
(``guards[0].bounds.min``) and the line it is on. The YAML node tree is walked by shape
(``id``, ``value``, ``start_mark``), so this stays free of the YAML library.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def location(loc: Sequence[Any]) -> str:
    """A pydantic error location as a field path: ``("a", 0, "b")`` → ``a[0].b``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def line_of(root: Any, loc: Sequence[Any]) -> int | None:
    """The 1-based line of the YAML node at ``loc`` in the composed tree ``root`` (or of
    its nearest existing parent); ``None`` without a tree."""
    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        child = None
        kind = getattr(node, "id", None)
        if kind == "mapping" and isinstance(part, str):
            child = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
        elif kind == "sequence" and isinstance(part, int):
            child = node.value[part] if 0 <= part < len(node.value) else None
        if child is None:
            break
        node, line = child, child.start_mark.line + 1
    return line
