"""SQLite implementation of :class:`twinsight.core.ports.TwinStore`.

Documents are stored as orjson blobs keyed by id: the graph service owns the structure and
the in-memory index answers queries, so the table is a durable log of current documents.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson

from twinsight.store.sqlite.database import Database, Migration


def _create_tables(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE twins (id TEXT PRIMARY KEY, document BLOB NOT NULL)")
    conn.execute(
        """CREATE TABLE relationships (
            source TEXT NOT NULL,
            id TEXT NOT NULL,
            document BLOB NOT NULL,
            PRIMARY KEY (source, id)
        )"""
    )


MIGRATIONS: list[Migration] = [_create_tables]


class SqliteTwinStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        db.migrate("twins", MIGRATIONS)

    def load(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        def read(conn: sqlite3.Connection) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
            twins = [orjson.loads(r[0]) for r in conn.execute("SELECT document FROM twins")]
            rels = [orjson.loads(r[0]) for r in conn.execute("SELECT document FROM relationships")]
            return twins, rels

        return self._db.read(read)

    def put_twin(self, twin: dict[str, Any]) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO twins (id, document) VALUES (?, ?)",
                (twin["$dtId"], orjson.dumps(twin)),
            )

    def put_twins(self, twins: Sequence[dict[str, Any]]) -> None:
        with self._db.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO twins (id, document) VALUES (?, ?)",
                [(twin["$dtId"], orjson.dumps(twin)) for twin in twins],
            )

    def delete_twin(self, twin_id: str) -> None:
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM twins WHERE id = ?", (twin_id,))

    def put_relationship(self, relationship: dict[str, Any]) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO relationships (source, id, document) VALUES (?, ?, ?)",
                (
                    relationship["$sourceId"],
                    relationship["$relationshipId"],
                    orjson.dumps(relationship),
                ),
            )

    def delete_relationship(self, source_id: str, relationship_id: str) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "DELETE FROM relationships WHERE source = ? AND id = ?",
                (source_id, relationship_id),
            )

    def close(self) -> None:
        """The database is shared and closed by its owner."""
