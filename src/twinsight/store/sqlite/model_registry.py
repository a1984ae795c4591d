"""SQLite implementation of :class:`twinsight.core.ports.ModelRegistryStore`.

Versions are append-only: nothing here updates or deletes a version, so a name and version
once handed out mean the same artefact for good. The next number is taken inside the
inserting transaction, so two writers can never get the same one. The active version and
the attachments are small mutable tables beside them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal, cast

from twinsight.core.errors import StorageError
from twinsight.core.ports import ModelAttachment, ModelVersion
from twinsight.store.sqlite.database import Database, Migration


def _create(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE IF NOT EXISTS model_versions (
            name TEXT NOT NULL,
            version INTEGER NOT NULL,
            kind TEXT NOT NULL,
            description TEXT NOT NULL,
            training TEXT NOT NULL,
            metrics TEXT NOT NULL,
            artefact BLOB NOT NULL,
            digest TEXT NOT NULL,
            created TEXT NOT NULL,
            PRIMARY KEY (name, version)
        )"""
    )
    conn.execute(
        "CREATE TABLE IF NOT EXISTS model_active (name TEXT PRIMARY KEY, version INTEGER NOT NULL)"
    )
    conn.execute(
        """CREATE TABLE IF NOT EXISTS model_attachments (
            name TEXT NOT NULL,
            target_kind TEXT NOT NULL,
            target TEXT NOT NULL,
            version INTEGER,
            created TEXT NOT NULL,
            PRIMARY KEY (name, target_kind, target)
        )"""
    )


MIGRATIONS: list[Migration] = [_create]
_COLUMNS = "name, version, kind, description, training, metrics, digest, length(artefact), created"


def _version(row: Sequence[Any]) -> ModelVersion:
    return ModelVersion(
        name=row[0],
        version=int(row[1]),
        kind=row[2],
        description=row[3],
        training=json.loads(row[4]),
        metrics={k: float(v) for k, v in json.loads(row[5]).items()},
        digest=row[6],
        size=int(row[7]),
        created=datetime.fromisoformat(row[8]),
    )


def _attachment(row: Sequence[Any]) -> ModelAttachment:
    return ModelAttachment(
        name=row[0],
        target_kind=cast(Literal["twin", "model"], row[1]),
        target=row[2],
        version=None if row[3] is None else int(row[3]),
        created=datetime.fromisoformat(row[4]),
    )


class SqliteModelRegistryStore:
    """The model registry in the hub's database file, in its own tables."""

    def __init__(self, db: Database) -> None:
        self._db = db
        db.migrate("model_registry", MIGRATIONS)

    def add_version(
        self,
        name: str,
        kind: str,
        description: str,
        training: dict[str, Any],
        metrics: dict[str, float],
        artefact: bytes,
        digest: str,
        created: datetime,
    ) -> ModelVersion:
        try:
            training_json = json.dumps(training, sort_keys=True, default=str)
            metrics_json = json.dumps(metrics, sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise StorageError(f"cannot store model {name}: {exc}") from exc
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT MAX(version) FROM model_versions WHERE name = ?", (name,)
            ).fetchone()
            version = (row[0] or 0) + 1
            try:
                conn.execute(
                    "INSERT INTO model_versions (name, version, kind, description, training,"
                    " metrics, artefact, digest, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        name,
                        version,
                        kind,
                        description,
                        training_json,
                        metrics_json,
                        sqlite3.Binary(artefact),
                        digest,
                        created.isoformat(),
                    ),
                )
            except sqlite3.Error as exc:
                raise StorageError(
                    f"cannot store version {version} of model {name}: {exc}"
                ) from exc
        return _version(
            (
                name,
                version,
                kind,
                description,
                training_json,
                metrics_json,
                digest,
                len(artefact),
                created.isoformat(),
            )
        )

    def get_version(self, name: str, version: int) -> ModelVersion | None:
        row = self._db.read(
            lambda c: c.execute(
                f"SELECT {_COLUMNS} FROM model_versions WHERE name = ? AND version = ?",
                (name, version),
            ).fetchone()
        )
        return _version(row) if row else None

    def list_versions(self, name: str | None = None) -> list[ModelVersion]:
        args: tuple[str, ...]
        if name is None:
            sql, args = f"SELECT {_COLUMNS} FROM model_versions ORDER BY name, version", ()
        else:
            sql = f"SELECT {_COLUMNS} FROM model_versions WHERE name = ? ORDER BY version"
            args = (name,)
        rows = self._db.read(lambda c: c.execute(sql, args).fetchall())
        return [_version(r) for r in rows]

    def artefact(self, name: str, version: int) -> bytes | None:
        row = self._db.read(
            lambda c: c.execute(
                "SELECT artefact FROM model_versions WHERE name = ? AND version = ?",
                (name, version),
            ).fetchone()
        )
        return bytes(row[0]) if row else None

    def set_active(self, name: str, version: int) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO model_active (name, version) VALUES (?, ?)"
                " ON CONFLICT(name) DO UPDATE SET version = excluded.version",
                (name, version),
            )

    def active(self, name: str) -> int | None:
        row = self._db.read(
            lambda c: c.execute(
                "SELECT version FROM model_active WHERE name = ?", (name,)
            ).fetchone()
        )
        return int(row[0]) if row else None

    def attach(self, attachment: ModelAttachment) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO model_attachments (name, target_kind, target, version, created)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT(name, target_kind, target)"
                " DO UPDATE SET version = excluded.version, created = excluded.created",
                (
                    attachment.name,
                    attachment.target_kind,
                    attachment.target,
                    attachment.version,
                    attachment.created.isoformat(),
                ),
            )

    def detach(self, name: str, target_kind: str, target: str) -> bool:
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "DELETE FROM model_attachments WHERE name = ? AND target_kind = ? AND target = ?",
                (name, target_kind, target),
            )
            return cursor.rowcount > 0

    def attachments(self, name: str | None = None) -> list[ModelAttachment]:
        columns = "name, target_kind, target, version, created"
        if name is None:
            sql = f"SELECT {columns} FROM model_attachments ORDER BY name, target_kind, target"
            args: tuple[str, ...] = ()
        else:
            sql = (
                f"SELECT {columns} FROM model_attachments WHERE name = ?"
                " ORDER BY target_kind, target"
            )
            args = (name,)
        rows = self._db.read(lambda c: c.execute(sql, args).fetchall())
        return [_attachment(r) for r in rows]

    def close(self) -> None:
        """Nothing of its own: the hub closes the shared database."""
