"""SQLite implementation of :class:`twinsight.core.ports.RuleStore`: every rule firing,
and the enabled/disabled switches an operator set (so they survive a restart)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from twinsight.core.ports import RuleFiring
from twinsight.store.sqlite.database import Database, Migration


def _create(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE rule_firings (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            rule TEXT NOT NULL,
            twin_id TEXT NOT NULL,
            time TEXT NOT NULL,
            kind TEXT NOT NULL,
            name TEXT NOT NULL,
            value TEXT,
            outcome TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT ''
        )"""
    )
    conn.execute("CREATE INDEX rule_firings_rule ON rule_firings (rule, seq)")
    conn.execute("CREATE INDEX rule_firings_twin ON rule_firings (twin_id, seq)")
    conn.execute("CREATE TABLE rule_switches (rule TEXT PRIMARY KEY, enabled INTEGER NOT NULL)")


MIGRATIONS: list[Migration] = [_create]
_COLUMNS = "id, rule, twin_id, time, kind, name, value, outcome, detail"


def _firing(row: Sequence[Any]) -> RuleFiring:
    return RuleFiring(
        id=row[0],
        rule=row[1],
        twin_id=row[2],
        time=datetime.fromisoformat(row[3]),
        kind=row[4],
        name=row[5],
        value=json.loads(row[6]) if row[6] is not None else None,
        outcome=row[7],
        detail=row[8],
    )


class SqliteRuleStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        db.migrate("rules", MIGRATIONS)

    def put_firing(self, firing: RuleFiring) -> None:
        row = (
            firing.id, firing.rule, firing.twin_id, firing.time.isoformat(), firing.kind,
            firing.name, json.dumps(firing.value), firing.outcome, firing.detail,
        )  # fmt: skip
        with self._db.transaction() as conn:
            conn.execute(
                f"INSERT INTO rule_firings ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row
            )

    def list_firings(
        self, *, rule: str | None = None, twin_id: str | None = None, limit: int = 1000
    ) -> list[RuleFiring]:
        where: list[str] = []
        args: list[object] = []
        if rule is not None:
            where.append("rule = ?")
            args.append(rule)
        if twin_id is not None:
            where.append("twin_id = ?")
            args.append(twin_id)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        args.append(limit)
        rows = self._db.read(
            lambda c: c.execute(
                f"SELECT {_COLUMNS} FROM rule_firings{clause} ORDER BY seq DESC LIMIT ?", args
            ).fetchall()
        )
        return [_firing(r) for r in rows]

    def set_enabled(self, rule: str, enabled: bool) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO rule_switches (rule, enabled) VALUES (?, ?)"
                " ON CONFLICT(rule) DO UPDATE SET enabled = excluded.enabled",
                (rule, int(enabled)),
            )

    def enabled_states(self) -> dict[str, bool]:
        rows = self._db.read(
            lambda c: c.execute("SELECT rule, enabled FROM rule_switches").fetchall()
        )
        return {rule: bool(enabled) for rule, enabled in rows}

    def close(self) -> None:
        pass
