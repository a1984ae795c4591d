"""One SQLite database file shared by the SQLite stores of a hub.

Why these settings: WAL lets readers run while a writer commits; ``synchronous=NORMAL`` in
WAL mode writes every commit to the log before it returns, so an acknowledged write
survives the process being killed (only a power cut can lose the last commits, which
``durable=True`` -> ``synchronous=FULL`` also covers). One connection is shared behind a
lock because the API serves requests from a thread pool.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from twinsight.core.errors import StorageError

T = TypeVar("T")

Migration = Callable[[sqlite3.Connection], None]


class Database:
    """A SQLite file with migrations and a transaction helper."""

    def __init__(self, path: Path | str, *, durable: bool = False) -> None:
        self.path = str(path)
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=30
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            self._conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open the database {self.path}: {exc}") from exc
        self.lock = threading.RLock()

    @property
    def connection(self) -> sqlite3.Connection:
        return self._conn

    def migrate(self, component: str, migrations: list[Migration]) -> None:
        """Apply the ``migrations`` of ``component`` not applied yet, each in a transaction.

        Every store owns a list of migrations; the position in the list is its version, kept
        in a small table so stores evolve independently.
        """
        with self.transaction() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_versions"
                " (component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
            )
            row = conn.execute(
                "SELECT version FROM schema_versions WHERE component = ?", (component,)
            ).fetchone()
            current = row[0] if row else 0
            for migration in migrations[current:]:
                migration(conn)
            conn.execute(
                "INSERT INTO schema_versions VALUES (?, ?)"
                " ON CONFLICT(component) DO UPDATE SET version = excluded.version",
                (component, len(migrations)),
            )

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run a block in one ``BEGIN IMMEDIATE`` transaction; roll back on any error.

        SQLite errors leave as :class:`StorageError`; Twinsight errors raised inside the block
        pass through unchanged after the rollback.
        """
        with self.lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StorageError(f"cannot start a transaction on {self.path}: {exc}") from exc
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._conn.execute("ROLLBACK")
                raise StorageError(f"cannot commit to {self.path}: {exc}") from exc

    def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run a read-only function under the connection lock."""
        with self.lock:
            try:
                return fn(self._conn)
            except sqlite3.Error as exc:
                raise StorageError(f"cannot read from {self.path}: {exc}") from exc

    def close(self) -> None:
        with self.lock:
            self._conn.close()
