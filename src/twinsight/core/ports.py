"""Storage ports: the interfaces services use, implemented by backends in ``twinsight.store``.

Services depend on these protocols only; the hub picks the concrete backend (SQLite by
default). Every backend is run through the same parity tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class StoredModel:
    """One DTDL interface as the model repository keeps it.

    ``document`` is the interface's JSON exactly as uploaded (so it can be served back
    unchanged); everything else the repository needs is derived from it by parsing.
    """

    id: str
    document: dict[str, Any]
    upload_time: datetime
    decommissioned: bool = False


class ModelStore(Protocol):
    """Durable home of the model repository."""

    def load_models(self) -> list[StoredModel]:
        """Every stored model, oldest upload first."""
        ...

    def insert_models(self, models: Sequence[StoredModel]) -> None:
        """Store all of ``models`` in one transaction, or none of them.

        Raises :class:`~twinsight.core.errors.Conflict` with code ``ModelAlreadyExists`` when
        any id is already stored.
        """
        ...

    def set_decommissioned(self, model_id: str, decommissioned: bool) -> None:
        """Mark a stored model (not) decommissioned."""
        ...

    def delete_model(self, model_id: str) -> None:
        """Remove a stored model."""
        ...

    def close(self) -> None:
        """Release files and connections."""
        ...


class TwinStore(Protocol):
    """Durable home of twins and relationships.

    Each method is one transaction: when it returns, the change is in the log and survives
    the process being killed. The graph service keeps the live copy in memory and calls these
    before acknowledging a write.
    """

    def load(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Every stored twin document and every relationship document."""
        ...

    def put_twin(self, twin: dict[str, Any]) -> None: ...

    def delete_twin(self, twin_id: str) -> None: ...

    def put_relationship(self, relationship: dict[str, Any]) -> None: ...

    def delete_relationship(self, source_id: str, relationship_id: str) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class StoredToken:
    """One API token as the token store keeps it: never the token, only its SHA-256 hash.

    A leaked database therefore cannot be replayed against the server; the plaintext is shown
    once, when the token is created.
    """

    name: str
    token_hash: str
    scopes: frozenset[str]
    created: datetime
    revoked: bool = False


class TokenStore(Protocol):
    """Durable home of API bearer tokens (hashes, names and scopes)."""

    def insert_token(self, token: StoredToken) -> None:
        """Store a new token; raises :class:`~twinsight.core.errors.Conflict` with code
        ``TokenAlreadyExists`` when its name is taken."""
        ...

    def revoke_token(self, name: str) -> None:
        """Mark a token revoked; raises :class:`~twinsight.core.errors.NotFound` with code
        ``TokenNotFound`` when there is no token of that name."""
        ...

    def list_tokens(self) -> list[StoredToken]:
        """Every token, oldest first, revoked ones included."""
        ...

    def find_by_hash(self, token_hash: str) -> StoredToken | None:
        """The token whose hash is ``token_hash``, or ``None``."""
        ...

    def generation(self) -> int:
        """A number that changes whenever tokens may have been changed by someone else (for
        example the command line in another process), so callers can cache safely."""
        ...

    def close(self) -> None:
        """Release files and connections."""
        ...
