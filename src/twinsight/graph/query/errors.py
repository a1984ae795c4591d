"""The one error every stage of the query language raises.

ADT answers a bad query with HTTP 400 and code ``SqlQueryError``; clients branch on that code,
so the lexer, parser, validator, executor and paging all raise :class:`QueryError`. The
message points at the offending text (line, column, offset, and the line with a caret under
the problem) because a query is usually typed by a person who needs to see where it broke.
"""

from __future__ import annotations

from typing import ClassVar

from twinsight.core.errors import BadRequest


def locate(text: str, position: int) -> tuple[int, int, str]:
    """``(line, column, caret snippet)`` for a 0-based offset into ``text`` (1-based line/col)."""
    position = max(0, min(position, len(text)))
    line_start = text.rfind("\n", 0, position) + 1
    line_end = text.find("\n", position)
    if line_end == -1:
        line_end = len(text)
    line_no = text.count("\n", 0, position) + 1
    column = position - line_start + 1
    line_text = text[line_start:line_end]
    snippet = f"  {line_text}\n  {' ' * (column - 1)}^"
    return line_no, column, snippet


class QueryError(BadRequest):
    """A query that cannot be parsed, violates an ADT rule, or carries a bad token.

    ``position`` is the 0-based offset into the query text the problem is at (``None`` when
    the problem is not in the text, e.g. a corrupt continuation token).
    """

    code: ClassVar[str] = "SqlQueryError"
    status: ClassVar[int] = 400

    def __init__(self, message: str, text: str | None = None, position: int | None = None):
        self.reason = message
        self.position = position
        if text is not None and position is not None:
            line, column, snippet = locate(text, position)
            message = f"{message} (line {line}, column {column}, offset {position}):\n{snippet}"
        super().__init__(message)


class InvalidContinuationToken(BadRequest):
    """A continuation token that is not one of ours, or was altered.

    ADT answers this with HTTP 400 and code ``BadRequest`` (not ``SqlQueryError``), so it
    is not a :class:`QueryError`.
    """

    code: ClassVar[str] = "BadRequest"
    status: ClassVar[int] = 400

    def __init__(self) -> None:
        super().__init__("The continuation token is invalid.")
