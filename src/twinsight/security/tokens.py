"""API bearer tokens: created and revoked from the command line, checked on every request.

Why it looks like this:

- Tokens are long random strings (``secrets.token_urlsafe(32)``, 256 bits) with a ``tws_``
  prefix so they are recognisable in logs and secret scanners. Only their SHA-256 hash is
  stored: random tokens need no slow password hash, and a copied database cannot be used to
  call the API.
- Scopes nest: ``admin`` implies ``write`` implies ``read``; :func:`expand_scopes` turns the
  granted scopes into the full set once, so a request checks one set membership.
- The API must serve thousands of requests a second, so verified hashes are cached in
  memory and a request costs one hash and one dict lookup. The cache is dropped whenever the
  store's generation moves (another process revoked or created a token), so revocation takes
  effect on the next request.

>>> sorted(expand_scopes({"write"}))
['read', 'write']
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from twinsight.core.clock import Clock
from twinsight.core.errors import BadRequest, Unauthorized
from twinsight.core.ports import StoredToken, TokenStore

SCOPES: tuple[str, ...] = ("read", "write", "admin")
"""Every scope, weakest first: each one implies the ones before it."""

TOKEN_PREFIX = "tws_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_IMPLIES: dict[str, frozenset[str]] = {
    scope: frozenset(SCOPES[: i + 1]) for i, scope in enumerate(SCOPES)
}


def expand_scopes(scopes: Iterable[str]) -> frozenset[str]:
    """The granted scopes plus every scope they imply."""
    result: set[str] = set()
    for scope in scopes:
        if scope not in _IMPLIES:
            raise BadRequest(
                f"unknown scope {scope!r}; use one of: {', '.join(SCOPES)}",
                code="InvalidArgument",
            )
        result |= _IMPLIES[scope]
    return frozenset(result)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What may be shown about a token: never the token or its hash."""

    name: str
    scopes: frozenset[str]
    created: datetime
    revoked: bool


class TokenService:
    """Create, revoke, list and check API tokens."""

    def __init__(self, store: TokenStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, frozenset[str]] = {}
        self._generation = store.generation()
        self._epoch = 0  # bumped by local revocations, so a racing lookup is not cached

    def create(self, name: str, scopes: Iterable[str]) -> str:
        """Store a new token named ``name``; return its plaintext (shown only this once)."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise BadRequest(
                f"invalid token name {name!r}: use 1-64 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit",
                code="InvalidArgument",
            )
        granted = frozenset(scopes)
        if not granted:
            raise BadRequest(
                f"a token needs at least one scope ({', '.join(SCOPES)})",
                code="InvalidArgument",
            )
        expand_scopes(granted)  # reject unknown scopes before storing anything
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self._store.insert_token(
            StoredToken(name, hash_token(token), granted, self._clock.now(), False)
        )
        return token

    def revoke(self, name: str) -> None:
        """Revoke the token ``name``: requests carrying it fail from now on."""
        self._store.revoke_token(name)
        with self._lock:
            self._cache.clear()
            self._epoch += 1

    def list(self) -> list[TokenInfo]:
        """Every token, oldest first, revoked ones included."""
        return [
            TokenInfo(t.name, t.scopes, t.created, t.revoked) for t in self._store.list_tokens()
        ]

    def active_count(self) -> int:
        """How many tokens could be used right now (a server needs at least one)."""
        return sum(1 for t in self._store.list_tokens() if not t.revoked)

    def authenticate(self, token: str) -> frozenset[str]:
        """The scopes ``token`` grants (implied ones included); :class:`Unauthorized` when
        it is unknown or revoked."""
        digest = hash_token(token)
        generation = self._store.generation()
        with self._lock:
            if generation != self._generation:
                self._cache.clear()
                self._generation = generation
                self._epoch += 1
            epoch = self._epoch
            scopes = self._cache.get(digest)
        if scopes is not None:
            return scopes
        stored = self._store.find_by_hash(digest)
        if (
            stored is None
            or stored.revoked
            or not hmac.compare_digest(stored.token_hash.encode(), digest.encode())
        ):
            raise Unauthorized("the bearer token is unknown or has been revoked")
        scopes = expand_scopes(stored.scopes)
        with self._lock:
            if self._epoch == epoch:
                self._cache[digest] = scopes
        return scopes
