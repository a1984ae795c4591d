"""Topic patterns: ``factory/{line}/+/motor/#`` compiled once into a regular expression.

>>> match = compile_topic("factory/{line}/{machine}/data").fullmatch
>>> match("factory/l1/m7/data").groupdict()
{'line': 'l1', 'machine': 'm7'}
>>> match("factory/l1/m7/other") is None
True
"""

from __future__ import annotations

import re

_CAPTURE = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)\}$")


def compile_topic(pattern: str) -> re.Pattern[str]:
    """Compile a topic pattern; raises ``ValueError`` saying which level is wrong."""
    levels = pattern.strip("/").split("/")
    parts: list[str] = []
    seen: set[str] = set()
    for i, level in enumerate(levels):
        capture = _CAPTURE.match(level)
        if level == "#":
            if i != len(levels) - 1:
                raise ValueError(f"'#' must be the last level of {pattern!r}")
            parts.append(".*")
        elif level == "+":
            parts.append("[^/]+")
        elif capture:
            name = capture.group(1)
            if name in seen:
                raise ValueError(f"capture {{{name}}} appears twice in {pattern!r}")
            seen.add(name)
            parts.append(f"(?P<{name}>[^/]+)")
        elif any(c in level for c in "{}+#"):
            raise ValueError(
                f"level {level!r} of {pattern!r} mixes text with a wildcard or capture; "
                "a capture or wildcard must be a whole level"
            )
        else:
            parts.append(re.escape(level))
    if len(parts) > 1 and parts[-1] == ".*":
        return re.compile("/".join(parts[:-1]) + "(?:/.*)?")
    return re.compile("/".join(parts))


def template_fields(template: str) -> set[str]:
    """The ``{names}`` a template uses."""
    return set(re.findall(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", template))
