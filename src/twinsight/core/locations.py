"""Where in a hand-written file a problem is: a field path and its line.

Why in core: every file an operator writes by hand (payload mappings, monitors, guards,
rules) is checked by pydantic, which names the failing field as a path tuple
(``("guards", 0, "bounds", "min")``); the operator wants that path written as they would
(``guards[0].bounds.min``) and the line it is on. The YAML node tree is walked by shape
(``id``, ``value``, ``start_mark``), so this stays free of the YAML library.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
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


def validation_problems(errors: Sequence[Mapping[str, Any]], root: Any, name: str) -> list[str]:
    """pydantic's ``ValidationError.errors()`` as ``name: line N: a[0].b: message`` lines.

    Validator functions and the members of a union (``float | str``) add parts of their
    own to an error's location; they are not fields the operator wrote, so they go."""
    problems = []
    for error in errors:
        loc = tuple(p for p in error["loc"] if not str(p).startswith("function-"))
        loc = tuple(p for p in loc if p not in ("float", "str", "int"))
        line = line_of(root, loc)
        where = f": line {line}" if line is not None else ""
        message = str(error["msg"]).removeprefix("Value error, ")
        problems.append(f"{name}{where}: {location(loc) or '(top level)'}: {message}")
    return problems


def read_config_text(
    path: Path | str, max_bytes: int, error: Callable[[list[str]], Exception]
) -> str:
    """A hand-written file's text (UTF-8, a byte-order mark allowed), or ``error`` with the
    reason it cannot be used: unreadable, larger than ``max_bytes``, not UTF-8."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise error([f"{path}: cannot be read: {exc.strerror or exc}"]) from None
    if len(data) > max_bytes:
        raise error([f"{path}: {len(data):,} bytes is larger than {max_bytes:,}"])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error([f"{path}: byte {exc.start} is not valid UTF-8"]) from None
