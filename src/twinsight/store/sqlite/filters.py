"""A ``WHERE`` clause built from optional filters, for the stores' list queries.

Why: every listing (alarms, actions, the audit log, history series) takes a few optional
filters, each a condition with its own placeholders; building the clause and its
arguments in one place keeps them in step and every value a bound parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class Where:
    """Conditions joined by ``AND``, with their arguments in order."""

    def __init__(self) -> None:
        self._conditions: list[str] = []
        self.args: list[Any] = []

    def equal(self, column: str, value: Any) -> Where:
        """``column = value``, unless ``value`` is ``None`` (no filter)."""
        if value is not None:
            self.add(f"{column} = ?", value)
        return self

    def any_of(self, column: str, values: Sequence[Any]) -> Where:
        """``column IN (...)``, unless ``values`` is empty (no filter)."""
        if values:
            self.add(f"{column} IN ({', '.join('?' * len(values))})", *values)
        return self

    def add(self, condition: str, *args: Any) -> Where:
        """Any condition, with the arguments of its placeholders."""
        self._conditions.append(condition)
        self.args.extend(args)
        return self

    def sql(self) -> str:
        """`` WHERE ...`` (with its leading space), or nothing when no filter applies."""
        return " WHERE " + " AND ".join(self._conditions) if self._conditions else ""
