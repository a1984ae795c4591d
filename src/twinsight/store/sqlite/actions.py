"""SQLite implementation of :class:`twinsight.core.ports.ActionStore`: actions and the
audit log, written together in one transaction so the log never misses a transition."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from twinsight.core.ports import ActionRecord, AuditEntry
from twinsight.store.sqlite.database import Database, Migration
from twinsight.store.sqlite.filters import Where


def _create(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE actions (
            id TEXT PRIMARY KEY,
            twin_id TEXT NOT NULL,
            state TEXT NOT NULL,
            requested_by TEXT NOT NULL,
            created TEXT NOT NULL,
            document BLOB NOT NULL
        )"""
    )
    conn.execute("CREATE INDEX actions_twin ON actions (twin_id, created)")
    conn.execute("CREATE INDEX actions_created ON actions (created)")
    conn.execute(
        """CREATE TABLE audit (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            time TEXT NOT NULL,
            action_id TEXT NOT NULL,
            twin_id TEXT NOT NULL,
            event TEXT NOT NULL,
            actor TEXT NOT NULL,
            detail TEXT NOT NULL
        )"""
    )
    conn.execute("CREATE INDEX audit_twin ON audit (twin_id, seq)")
    conn.execute("CREATE INDEX audit_action ON audit (action_id, seq)")


MIGRATIONS: list[Migration] = [_create]
_TIMES = ("created", "updated")


def _document(record: ActionRecord) -> bytes:
    body: dict[str, Any] = {
        name: getattr(record, name) for name in ActionRecord.__dataclass_fields__
    }
    for name in _TIMES:
        body[name] = body[name].isoformat()
    return orjson.dumps(body)


def _record(blob: bytes) -> ActionRecord:
    body = orjson.loads(blob)
    for name in _TIMES:
        body[name] = datetime.fromisoformat(body[name])
    return ActionRecord(**body)


def _entry(row: Sequence[Any]) -> AuditEntry:
    return AuditEntry(
        seq=row[0],
        time=datetime.fromisoformat(row[1]),
        action_id=row[2],
        twin_id=row[3],
        event=row[4],
        actor=row[5],
        detail=row[6],
    )


class SqliteActionStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        db.migrate("actions", MIGRATIONS)

    def put_action(self, record: ActionRecord, audit: AuditEntry | None = None) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO actions (id, twin_id, state, requested_by, created, document)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET"
                " state = excluded.state, document = excluded.document",
                (
                    record.id,
                    record.twin_id,
                    record.state,
                    record.requested_by,
                    record.created.isoformat(),
                    _document(record),
                ),
            )
            if audit is not None:
                conn.execute(
                    "INSERT INTO audit (time, action_id, twin_id, event, actor, detail)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        audit.time.isoformat(),
                        audit.action_id,
                        audit.twin_id,
                        audit.event,
                        audit.actor,
                        audit.detail,
                    ),
                )

    def get_action(self, action_id: str) -> ActionRecord | None:
        row = self._db.read(
            lambda c: c.execute("SELECT document FROM actions WHERE id = ?", (action_id,))
            .fetchone()
        )  # fmt: skip
        return _record(row[0]) if row else None

    def list_actions(
        self,
        *,
        twin_id: str | None = None,
        states: Sequence[str] = (),
        requested_by: str | None = None,
    ) -> list[ActionRecord]:
        where = (
            Where()
            .equal("twin_id", twin_id)
            .any_of("state", states)
            .equal("requested_by", requested_by)
        )
        sql = f"SELECT document FROM actions{where.sql()} ORDER BY created DESC, id"
        rows = self._db.read(lambda c: c.execute(sql, where.args).fetchall())
        return [_record(r[0]) for r in rows]

    def list_audit(
        self, *, twin_id: str | None = None, action_id: str | None = None
    ) -> list[AuditEntry]:
        where = Where().equal("twin_id", twin_id).equal("action_id", action_id)
        sql = (
            "SELECT seq, time, action_id, twin_id, event, actor, detail FROM audit"
            f"{where.sql()} ORDER BY seq DESC"
        )
        rows = self._db.read(lambda c: c.execute(sql, where.args).fetchall())
        return [_entry(r) for r in rows]

    def append_audit(self, entry: AuditEntry) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO audit (time, action_id, twin_id, event, actor, detail)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (entry.time.isoformat(), entry.action_id, entry.twin_id, entry.event,
                 entry.actor, entry.detail),
            )  # fmt: skip

    def close(self) -> None:
        """The database belongs to the hub, which closes it."""
