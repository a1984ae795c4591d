"""Turns query text into tokens, each remembering where it started.

Keywords are recognised case-insensitively by the parser (the lexer only tags words), so a
property that happens to be called ``top`` still works where a name is expected. Escaped
names (``[[Group]]``) are always names, never keywords, as in ADT.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from twinsight.graph.query.errors import QueryError


class Kind(Enum):
    """Token categories."""

    WORD = "word"  # identifier or keyword, may start with '$'
    ESCAPED = "escaped"  # [[name]]
    STRING = "string"
    NUMBER = "number"
    SYMBOL = "symbol"
    END = "end"


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its kind, its value (decoded for strings/numbers), and its offset."""

    kind: Kind
    value: str | int | float
    pos: int
    end: int

    @property
    def upper(self) -> str:
        """The word upper-cased (for keyword matching); ``''`` for non-words."""
        return self.value.upper() if self.kind is Kind.WORD and isinstance(self.value, str) else ""


_SYMBOLS = (
    "<-",
    "->",
    "!=",
    "<=",
    ">=",
    "..",
    "(",
    ")",
    "[",
    "]",
    ",",
    ".",
    "*",
    "=",
    "<",
    ">",
    "-",
    ":",
    "|",
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "/": "/"}


def tokenize(text: str) -> list[Token]:
    """All tokens of ``text``, ending with one ``END`` token.

    >>> [t.value for t in tokenize("SELECT * FROM DIGITALTWINS WHERE T.x >= 2.5")]
    ['SELECT', '*', 'FROM', 'DIGITALTWINS', 'WHERE', 'T', '.', 'x', '>=', 2.5, '']
    """
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        start = i
        if ch.isalpha() or ch in "_$":
            i += 1
            while i < n and (text[i].isalnum() or text[i] in "_$"):
                i += 1
            tokens.append(Token(Kind.WORD, text[start:i], start, i))
        elif ch.isdigit() or (ch == "." and i + 1 < n and text[i + 1].isdigit()):
            i = _number_end(text, i)
            raw = text[start:i]
            try:
                value: int | float = float(raw) if any(c in raw for c in ".eE") else int(raw)
            except ValueError:
                raise QueryError(f"Malformed number '{raw}'", text, start) from None
            tokens.append(Token(Kind.NUMBER, value, start, i))
        elif ch in "'\"":
            value_str, i = _string(text, i)
            tokens.append(Token(Kind.STRING, value_str, start, i))
        elif text.startswith("[[", i):
            close = text.find("]]", i + 2)
            if close == -1:
                raise QueryError("Unterminated escaped name, expected ']]'", text, start)
            name = text[i + 2 : close]
            if not name:
                raise QueryError("Empty escaped name", text, start)
            i = close + 2
            tokens.append(Token(Kind.ESCAPED, name, start, i))
        else:
            for sym in _SYMBOLS:
                if text.startswith(sym, i):
                    i += len(sym)
                    tokens.append(Token(Kind.SYMBOL, sym, start, i))
                    break
            else:
                raise QueryError(f"Unexpected character '{ch}'", text, start)
    tokens.append(Token(Kind.END, "", n, n))
    return tokens


def _number_end(text: str, i: int) -> int:
    n = len(text)
    while i < n and text[i].isdigit():
        i += 1
    # a '..' after digits is a hop range (1..3), not a decimal point
    if i < n and text[i] == "." and not text.startswith("..", i):
        i += 1
        while i < n and text[i].isdigit():
            i += 1
    if i < n and text[i] in "eE":
        j = i + 1
        if j < n and text[j] in "+-":
            j += 1
        if j < n and text[j].isdigit():
            i = j
            while i < n and text[i].isdigit():
                i += 1
    if i < n and (text[i].isalpha() or text[i] == "_"):
        raise QueryError("Malformed number", text, i)
    return i


def _string(text: str, i: int) -> tuple[str, int]:
    quote = text[i]
    out: list[str] = []
    j = i + 1
    n = len(text)
    while j < n:
        ch = text[j]
        if ch == "\\":
            if j + 1 >= n:
                break
            nxt = text[j + 1]
            if nxt == "u" and j + 5 < n + 0 and _is_hex(text[j + 2 : j + 6]):
                out.append(chr(int(text[j + 2 : j + 6], 16)))
                j += 6
                continue
            if nxt not in _ESCAPES:
                raise QueryError(f"Unknown escape sequence '\\{nxt}'", text, j)
            out.append(_ESCAPES[nxt])
            j += 2
            continue
        if ch == quote:
            return "".join(out), j + 1
        out.append(ch)
        j += 1
    raise QueryError("Unterminated string literal", text, i)


def _is_hex(s: str) -> bool:
    return len(s) == 4 and all(c in "0123456789abcdefABCDEF" for c in s)
