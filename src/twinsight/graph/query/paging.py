"""Stateless continuation tokens.

Results are produced in a deterministic order (ascending *row key*: the ids bound in the
row), so a page can resume "after the last key returned" instead of at an offset. That keeps
paging exact under concurrent writes: an item that survives between two page requests is
returned exactly once, whatever was inserted or deleted meanwhile.

A token carries the query text (some ADT SDKs send only the token for later pages), the last
row key, and how many rows were already returned (for ``TOP``). It is compressed JSON plus a
keyed BLAKE2b tag, base64url-encoded: opaque, URL-safe, and any edit or junk is rejected
cleanly with ADT's ``BadRequest`` ("The continuation token is invalid."). The tag detects
corruption and casual tampering; it is not a secret-keyed security boundary (a token only
ever re-runs a query the caller may run).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import zlib
from dataclasses import dataclass

from twinsight.graph.query.errors import InvalidContinuationToken

_KEY = b"twinsight-query-continuation-v1"
_TAG = 12
_VERSION = 1


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where the next page starts."""

    text: str
    after: tuple[str, ...]
    returned: int


def _tag(payload: bytes) -> bytes:
    return hashlib.blake2b(payload, digest_size=_TAG, key=_KEY).digest()


def encode(cursor: Cursor) -> str:
    """The opaque token for ``cursor``.

    >>> decode(encode(Cursor("SELECT * FROM DIGITALTWINS", ("room9",), 100))).after
    ('room9',)
    """
    body = json.dumps(
        [_VERSION, cursor.text, list(cursor.after), cursor.returned],
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    payload = zlib.compress(body, 6)
    return base64.urlsafe_b64encode(_tag(payload) + payload).decode().rstrip("=")


def decode(token: str) -> Cursor:
    """The cursor inside ``token``; raises :class:`InvalidContinuationToken` for anything
    not ours (ADT's ``BadRequest``)."""
    bad = InvalidContinuationToken()
    if not isinstance(token, str) or not token or len(token) > 64_000:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise bad from None
    tag, payload = raw[:_TAG], raw[_TAG:]
    if len(tag) != _TAG or _tag(payload) != tag:
        raise bad
    try:
        version, text, after, returned = json.loads(zlib.decompress(payload))
    except (zlib.error, ValueError, TypeError):
        raise bad from None
    if (
        version != _VERSION
        or not isinstance(text, str)
        or not isinstance(after, list)
        or not all(isinstance(a, str) for a in after)
        or not isinstance(returned, int)
        or returned < 0
    ):
        raise bad
    return Cursor(text, tuple(after), returned)
