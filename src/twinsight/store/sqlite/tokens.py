"""SQLite implementation of :class:`twinsight.core.ports.TokenStore`.

Only SHA-256 hashes of tokens are stored. Tokens are created and revoked by the command
line, usually while a server runs in another process on the same file, so the store also
reports a *generation* that changes whenever another connection commits: the token service
drops its in-memory cache when it moves, and a revocation takes effect on the next request
without the server reading the table on every request.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime

from twinsight.core.errors import Conflict, NotFound, StorageError
from twinsight.core.ports import StoredToken
from twinsight.store.sqlite.database import Database, Migration


def _create_tokens_table(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE api_tokens (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL UNIQUE,
            token_hash TEXT NOT NULL UNIQUE,
            scopes TEXT NOT NULL,
            created TEXT NOT NULL,
            revoked INTEGER NOT NULL DEFAULT 0
        )"""
    )


MIGRATIONS: list[Migration] = [_create_tokens_table]

_COLUMNS = "name, token_hash, scopes, created, revoked"


def _row(row: tuple[str, str, str, str, int]) -> StoredToken:
    return StoredToken(
        name=row[0],
        token_hash=row[1],
        scopes=frozenset(s for s in row[2].split(",") if s),
        created=datetime.fromisoformat(row[3]),
        revoked=bool(row[4]),
    )


class SqliteTokenStore:
    """API tokens in the hub's database file."""

    def __init__(self, db: Database) -> None:
        self._db = db
        db.migrate("tokens", MIGRATIONS)
        # A second connection only to watch for commits by other processes: PRAGMA
        # data_version changes when *another* connection commits, and polling it on its own
        # connection never waits for the main connection's lock.
        self._watch: sqlite3.Connection | None = None
        self._watch_lock = threading.Lock()
        if db.path != ":memory:":
            try:
                self._watch = sqlite3.connect(db.path, check_same_thread=False, timeout=30)
            except sqlite3.Error as exc:
                raise StorageError(f"cannot open the database {db.path}: {exc}") from exc

    def insert_token(self, token: StoredToken) -> None:
        with self._db.transaction() as conn:
            taken = conn.execute(
                "SELECT 1 FROM api_tokens WHERE name = ?", (token.name,)
            ).fetchone()
            if taken:
                raise Conflict(
                    f"a token named {token.name!r} already exists; revoke it or pick another name",
                    code="TokenAlreadyExists",
                )
            try:
                conn.execute(
                    f"INSERT INTO api_tokens ({_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                    (
                        token.name,
                        token.token_hash,
                        ",".join(sorted(token.scopes)),
                        token.created.isoformat(),
                        int(token.revoked),
                    ),
                )
            except sqlite3.Error as exc:
                raise StorageError(f"cannot store the token {token.name!r}: {exc}") from exc

    def revoke_token(self, name: str) -> None:
        with self._db.transaction() as conn:
            cur = conn.execute("UPDATE api_tokens SET revoked = 1 WHERE name = ?", (name,))
            if cur.rowcount == 0:
                raise NotFound(f"there is no token named {name!r}", code="TokenNotFound")

    def list_tokens(self) -> list[StoredToken]:
        rows = self._db.read(
            lambda c: c.execute(f"SELECT {_COLUMNS} FROM api_tokens ORDER BY seq").fetchall()
        )
        return [_row(r) for r in rows]

    def find_by_hash(self, token_hash: str) -> StoredToken | None:
        row = self._db.read(
            lambda c: c.execute(
                f"SELECT {_COLUMNS} FROM api_tokens WHERE token_hash = ?", (token_hash,)
            ).fetchone()
        )
        return _row(row) if row else None

    def generation(self) -> int:
        """A number that changes when another connection (another process) commits."""
        if self._watch is None:
            return 0
        with self._watch_lock:
            try:
                return int(self._watch.execute("PRAGMA data_version").fetchone()[0])
            except sqlite3.Error as exc:
                raise StorageError(f"cannot read from {self._db.path}: {exc}") from exc

    def close(self) -> None:
        if self._watch is not None:
            with self._watch_lock:
                self._watch.close()
