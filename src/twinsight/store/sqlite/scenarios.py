"""SQLite implementation of :class:`twinsight.core.ports.ScenarioStore`.

Two tables: one row per scenario (listing columns plus the JSON document), and one row per
result series holding its values as a blob, so a run of 10,000 steps over 20 outputs is 20
rows rather than 200,000.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from twinsight.core.ports import StoredScenario
from twinsight.store.sqlite.database import Database, Migration


def _create(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE scenarios (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            created TEXT NOT NULL,
            status TEXT NOT NULL,
            document TEXT NOT NULL
        )"""
    )
    conn.execute(
        """CREATE TABLE scenario_results (
            scenario_id TEXT NOT NULL REFERENCES scenarios (id) ON DELETE CASCADE,
            run TEXT NOT NULL,
            series TEXT NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY (scenario_id, run, series)
        )"""
    )


MIGRATIONS: list[Migration] = [_create]
_COLUMNS = "id, name, created, status, document"


def _scenario(row: Sequence[Any]) -> StoredScenario:
    return StoredScenario(
        row[0], row[1], datetime.fromisoformat(row[2]), row[3], json.loads(row[4])
    )


class SqliteScenarioStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        db.migrate("scenarios", MIGRATIONS)

    def put_scenario(self, scenario: StoredScenario) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                f"INSERT INTO scenarios ({_COLUMNS}) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET name = excluded.name,"
                " status = excluded.status, document = excluded.document",
                (
                    scenario.id,
                    scenario.name,
                    scenario.created.isoformat(),
                    scenario.status,
                    json.dumps(scenario.document),
                ),
            )

    def get_scenario(self, scenario_id: str) -> StoredScenario | None:
        row = self._db.read(
            lambda c: c.execute(
                f"SELECT {_COLUMNS} FROM scenarios WHERE id = ?", (scenario_id,)
            ).fetchone()
        )
        return _scenario(row) if row else None

    def list_scenarios(self) -> list[StoredScenario]:
        rows = self._db.read(
            lambda c: c.execute(
                f"SELECT {_COLUMNS} FROM scenarios ORDER BY created, rowid"
            ).fetchall()
        )
        return [_scenario(r) for r in rows]

    def delete_scenario(self, scenario_id: str) -> bool:
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM scenario_results WHERE scenario_id = ?", (scenario_id,))
            gone = conn.execute("DELETE FROM scenarios WHERE id = ?", (scenario_id,)).rowcount
        return bool(gone)

    def put_results(self, scenario_id: str, run: str, series: dict[str, bytes]) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "DELETE FROM scenario_results WHERE scenario_id = ? AND run = ?",
                (scenario_id, run),
            )
            conn.executemany(
                "INSERT INTO scenario_results (scenario_id, run, series, data) VALUES (?, ?, ?, ?)",
                [(scenario_id, run, name, data) for name, data in series.items()],
            )

    def get_results(self, scenario_id: str, run: str) -> dict[str, bytes]:
        rows = self._db.read(
            lambda c: c.execute(
                "SELECT series, data FROM scenario_results WHERE scenario_id = ? AND run = ?"
                " ORDER BY rowid",
                (scenario_id, run),
            ).fetchall()
        )
        return {name: bytes(data) for name, data in rows}

    def delete_results(self, scenario_id: str) -> None:
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM scenario_results WHERE scenario_id = ?", (scenario_id,))

    def close(self) -> None:
        """The database belongs to the hub, which closes it."""
