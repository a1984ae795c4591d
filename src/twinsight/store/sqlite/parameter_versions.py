"""SQLite implementation of :class:`twinsight.core.ports.ParameterVersionStore`.

Append-only: there is no statement here that updates or deletes a version, so a version
number, once handed out, names the same parameters for good. The next number is taken
inside the inserting transaction (``BEGIN IMMEDIATE``), so two writers can never get the
same one; the primary key would refuse it anyway.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from twinsight.core.errors import StorageError
from twinsight.core.ports import ParameterVersion
from twinsight.store.sqlite.database import Database, Migration


def _create(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE IF NOT EXISTS parameter_versions (
            twin_id TEXT NOT NULL,
            model TEXT NOT NULL,
            version INTEGER NOT NULL,
            parameters TEXT NOT NULL,
            summary TEXT NOT NULL,
            source TEXT NOT NULL,
            created TEXT NOT NULL,
            PRIMARY KEY (twin_id, model, version)
        )"""
    )


MIGRATIONS: list[Migration] = [_create]
_COLUMNS = "twin_id, model, version, parameters, summary, source, created"


def _version(row: Sequence[Any]) -> ParameterVersion:
    return ParameterVersion(
        twin_id=row[0],
        model=row[1],
        version=int(row[2]),
        parameters={k: float(v) for k, v in json.loads(row[3]).items()},
        summary=json.loads(row[4]),
        source=row[5],
        created=datetime.fromisoformat(row[6]),
    )


class SqliteParameterVersionStore:
    """Parameter versions in the hub's database file, in their own table."""

    def __init__(self, db: Database) -> None:
        self._db = db
        db.migrate("parameter_versions", MIGRATIONS)

    def add_version(
        self,
        twin_id: str,
        model: str,
        parameters: dict[str, float],
        summary: dict[str, Any],
        source: str,
        created: datetime,
    ) -> ParameterVersion:
        try:
            parameters_json = json.dumps(parameters, sort_keys=True)
            summary_json = json.dumps(summary, sort_keys=True, default=str)
        except (TypeError, ValueError) as exc:
            raise StorageError(f"cannot store parameters of {twin_id}/{model}: {exc}") from exc
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT MAX(version) FROM parameter_versions WHERE twin_id = ? AND model = ?",
                (twin_id, model),
            ).fetchone()
            version = (row[0] or 0) + 1
            try:
                conn.execute(
                    f"INSERT INTO parameter_versions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        twin_id,
                        model,
                        version,
                        parameters_json,
                        summary_json,
                        source,
                        created.isoformat(),
                    ),
                )
            except sqlite3.Error as exc:
                raise StorageError(
                    f"cannot store parameter version {version} of {twin_id}/{model}: {exc}"
                ) from exc
        return _version(
            (twin_id, model, version, parameters_json, summary_json, source, created.isoformat())
        )

    def get_version(self, twin_id: str, model: str, version: int) -> ParameterVersion | None:
        row = self._db.read(
            lambda c: c.execute(
                f"SELECT {_COLUMNS} FROM parameter_versions"
                " WHERE twin_id = ? AND model = ? AND version = ?",
                (twin_id, model, version),
            ).fetchone()
        )
        return _version(row) if row else None

    def latest_version(self, twin_id: str, model: str) -> ParameterVersion | None:
        row = self._db.read(
            lambda c: c.execute(
                f"SELECT {_COLUMNS} FROM parameter_versions WHERE twin_id = ? AND model = ?"
                " ORDER BY version DESC LIMIT 1",
                (twin_id, model),
            ).fetchone()
        )
        return _version(row) if row else None

    def list_versions(self, twin_id: str, model: str) -> list[ParameterVersion]:
        rows = self._db.read(
            lambda c: c.execute(
                f"SELECT {_COLUMNS} FROM parameter_versions WHERE twin_id = ? AND model = ?"
                " ORDER BY version",
                (twin_id, model),
            ).fetchall()
        )
        return [_version(r) for r in rows]

    def calibrated(self) -> list[tuple[str, str, int]]:
        rows = self._db.read(
            lambda c: c.execute(
                "SELECT twin_id, model, MAX(version) FROM parameter_versions"
                " GROUP BY twin_id, model ORDER BY twin_id, model"
            ).fetchall()
        )
        return [(r[0], r[1], int(r[2])) for r in rows]

    def close(self) -> None:
        """Nothing of its own: the hub closes the shared database."""
