"""Twin and relationship ids: what characters are allowed, and why.

Ids travel in URL paths, query text and MQTT topics, so they are limited to printable
characters without the separators those use (``/ \\ ? #``) and to a length that keeps keys
and indexes small.

>>> check_id("pump-1.a_b", "twin")
>>> try:
...     check_id("a/b", "twin")
... except BadRequest as e:
...     print(e.message)
the twin id 'a/b' contains '/'; ids may not contain /, \\, ?, # or control characters
"""

from __future__ import annotations

from twinsight.core.errors import BadRequest

MAX_ID_LENGTH = 128
FORBIDDEN = frozenset("/\\?#")


def check_id(value: object, what: str) -> None:
    """Raise ``InvalidArgument`` naming the problem if ``value`` is not a usable id."""
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"the {what} id must be a non-empty string", code="InvalidArgument")
    if len(value) > MAX_ID_LENGTH:
        raise BadRequest(
            f"the {what} id is {len(value)} characters long; the limit is {MAX_ID_LENGTH}",
            code="InvalidArgument",
        )
    for ch in value:
        if ch in FORBIDDEN or ord(ch) < 32 or ord(ch) == 127:
            shown = ch if ch.isprintable() else f"\\x{ord(ch):02x}"
            raise BadRequest(
                f"the {what} id {value!r} contains {shown!r}; ids may not contain "
                "/, \\, ?, # or control characters",
                code="InvalidArgument",
            )
