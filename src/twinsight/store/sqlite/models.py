"""SQLite implementation of :class:`twinsight.core.ports.ModelStore`."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

import orjson

from twinsight.core.errors import Conflict, NotFound, StorageError
from twinsight.core.ports import StoredModel
from twinsight.store.sqlite.database import Database, Migration


def _create_models_table(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE models (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            document BLOB NOT NULL,
            upload_time TEXT NOT NULL,
            decommissioned INTEGER NOT NULL DEFAULT 0
        )"""
    )


MIGRATIONS: list[Migration] = [_create_models_table]


class SqliteModelStore:
    """Models kept as their original JSON, in upload order."""

    def __init__(self, db: Database) -> None:
        self._db = db
        db.migrate("models", MIGRATIONS)

    def load_models(self) -> list[StoredModel]:
        rows = self._db.read(
            lambda c: c.execute(
                "SELECT id, document, upload_time, decommissioned FROM models ORDER BY seq"
            ).fetchall()
        )
        return [
            StoredModel(
                id=row[0],
                document=orjson.loads(row[1]),
                upload_time=datetime.fromisoformat(row[2]),
                decommissioned=bool(row[3]),
            )
            for row in rows
        ]

    def insert_models(self, models: Sequence[StoredModel]) -> None:
        with self._db.transaction() as conn:
            try:
                conn.executemany(
                    "INSERT INTO models (id, document, upload_time, decommissioned)"
                    " VALUES (?, ?, ?, ?)",
                    [
                        (
                            m.id,
                            orjson.dumps(m.document),
                            m.upload_time.isoformat(),
                            int(m.decommissioned),
                        )
                        for m in models
                    ],
                )
            except sqlite3.IntegrityError as exc:
                taken = self._existing(conn, [m.id for m in models])
                raise Conflict(
                    f"model(s) already exist: {', '.join(taken) or exc}",
                    code="ModelAlreadyExists",
                ) from exc
            except sqlite3.Error as exc:
                raise StorageError(f"cannot store models: {exc}") from exc

    @staticmethod
    def _existing(conn: sqlite3.Connection, ids: list[str]) -> list[str]:
        return [
            i for i in ids if conn.execute("SELECT 1 FROM models WHERE id = ?", (i,)).fetchone()
        ]

    def set_decommissioned(self, model_id: str, decommissioned: bool) -> None:
        with self._db.transaction() as conn:
            cur = conn.execute(
                "UPDATE models SET decommissioned = ? WHERE id = ?",
                (int(decommissioned), model_id),
            )
            if cur.rowcount == 0:
                raise NotFound(f"there is no model {model_id}", code="ModelNotFound")

    def delete_model(self, model_id: str) -> None:
        with self._db.transaction() as conn:
            cur = conn.execute("DELETE FROM models WHERE id = ?", (model_id,))
            if cur.rowcount == 0:
                raise NotFound(f"there is no model {model_id}", code="ModelNotFound")

    def close(self) -> None:
        """The database is shared and closed by its owner."""
