"""SQLite implementation of :class:`twinsight.core.ports.DeadLetterStore`."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from twinsight.core.ports import DeadLetter
from twinsight.store.sqlite.database import Database, Migration


def _create(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE dead_letters (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            source TEXT NOT NULL,
            address TEXT NOT NULL,
            payload BLOB NOT NULL,
            received TEXT NOT NULL,
            reason TEXT NOT NULL,
            client TEXT NOT NULL DEFAULT '',
            mapping TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0
        )"""
    )
    conn.execute("CREATE INDEX dead_letters_status ON dead_letters (status, id)")


MIGRATIONS: list[Migration] = [_create]
_COLUMNS = "id, source, address, payload, received, reason, client, mapping, status, attempts"


def _letter(row: Sequence[Any]) -> DeadLetter:
    return DeadLetter(
        id=row[0],
        source=row[1],
        address=row[2],
        payload=bytes(row[3]),
        received=datetime.fromisoformat(row[4]),
        reason=row[5],
        client=row[6],
        mapping=row[7],
        status=row[8],
        attempts=row[9],
    )


class SqliteDeadLetterStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        db.migrate("dead_letters", MIGRATIONS)

    def add(self, letters: Sequence[DeadLetter]) -> list[int]:
        ids: list[int] = []
        with self._db.transaction() as conn:
            for letter in letters:
                cursor = conn.execute(
                    "INSERT INTO dead_letters (source, address, payload, received, reason, "
                    "client, mapping, status, attempts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        letter.source,
                        letter.address,
                        letter.payload,
                        letter.received.isoformat(),
                        letter.reason,
                        letter.client,
                        letter.mapping,
                        letter.status,
                        letter.attempts,
                    ),
                )
                ids.append(int(cursor.lastrowid or 0))
        return ids

    def get(self, letter_id: int) -> DeadLetter | None:
        row = self._db.read(
            lambda c: c.execute(
                f"SELECT {_COLUMNS} FROM dead_letters WHERE id = ?", (letter_id,)
            ).fetchone()
        )
        return _letter(row) if row else None

    def list_letters(
        self,
        *,
        status: str | None = None,
        source: str | None = None,
        address_prefix: str | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[DeadLetter]:
        where: list[str] = ["id > ?"]
        args: list[object] = [after_id]
        if status is not None:
            where.append("status = ?")
            args.append(status)
        if source is not None:
            where.append("source = ?")
            args.append(source)
        if address_prefix:
            where.append("substr(address, 1, ?) = ?")
            args.extend([len(address_prefix), address_prefix])
        sql = f"SELECT {_COLUMNS} FROM dead_letters WHERE {' AND '.join(where)} ORDER BY id LIMIT ?"
        rows = self._db.read(lambda c: c.execute(sql, (*args, limit)).fetchall())
        return [_letter(r) for r in rows]

    def set_status(self, letter_ids: Sequence[int], status: str, reason: str | None = None) -> None:
        with self._db.transaction() as conn:
            conn.executemany(
                "UPDATE dead_letters SET status = ?, attempts = attempts + 1, "
                "reason = COALESCE(?, reason) WHERE id = ?",
                [(status, reason, i) for i in letter_ids],
            )

    def count(self, status: str | None = None) -> int:
        if status is None:
            return int(
                self._db.read(
                    lambda c: c.execute("SELECT count(*) FROM dead_letters").fetchone()[0]
                )
            )
        return int(
            self._db.read(
                lambda c: c.execute(
                    "SELECT count(*) FROM dead_letters WHERE status = ?", (status,)
                ).fetchone()[0]
            )
        )

    def close(self) -> None:
        """The database is shared and closed by its owner."""
