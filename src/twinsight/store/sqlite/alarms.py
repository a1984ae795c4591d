"""SQLite implementation of :class:`twinsight.core.ports.AlarmStore`.

A partial unique index allows one *active* alarm per (twin, condition), so de-duplication
holds even if two writers raced past the service's lock (two processes on one file).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from twinsight.core.errors import Conflict
from twinsight.core.ports import Alarm
from twinsight.store.sqlite.database import Database, Migration
from twinsight.store.sqlite.filters import Where


def _create(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE alarms (
            id TEXT PRIMARY KEY,
            twin_id TEXT NOT NULL,
            condition TEXT NOT NULL,
            source TEXT NOT NULL,
            severity TEXT NOT NULL,
            message TEXT NOT NULL,
            value REAL,
            state TEXT NOT NULL,
            raised TEXT NOT NULL,
            last_time TEXT NOT NULL,
            count INTEGER NOT NULL,
            cleared TEXT,
            acknowledged TEXT,
            acknowledged_by TEXT,
            note TEXT NOT NULL DEFAULT ''
        )"""
    )
    conn.execute(
        "CREATE UNIQUE INDEX alarms_one_active ON alarms (twin_id, condition)"
        " WHERE state != 'cleared'"
    )
    conn.execute("CREATE INDEX alarms_twin ON alarms (twin_id, raised)")
    conn.execute("CREATE INDEX alarms_raised ON alarms (raised)")


MIGRATIONS: list[Migration] = [_create]
_COLUMNS = (
    "id, twin_id, condition, source, severity, message, value, state, raised, last_time,"
    " count, cleared, acknowledged, acknowledged_by, note"
)

_UPDATE = ", ".join(f"{c.strip()} = excluded.{c.strip()}" for c in _COLUMNS.split(",")[1:])


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text is not None else None


def _alarm(row: Sequence[Any]) -> Alarm:
    return Alarm(
        id=row[0],
        twin_id=row[1],
        condition=row[2],
        source=row[3],
        severity=row[4],
        message=row[5],
        value=row[6],
        state=row[7],
        raised=datetime.fromisoformat(row[8]),
        last_time=datetime.fromisoformat(row[9]),
        count=row[10],
        cleared=_time(row[11]),
        acknowledged=_time(row[12]),
        acknowledged_by=row[13],
        note=row[14],
    )


def _iso(time: datetime | None) -> str | None:
    return time.isoformat() if time is not None else None


class SqliteAlarmStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        db.migrate("alarms", MIGRATIONS)

    def put_alarm(self, alarm: Alarm) -> None:
        row = (
            alarm.id, alarm.twin_id, alarm.condition, alarm.source, alarm.severity,
            alarm.message, alarm.value, alarm.state, alarm.raised.isoformat(),
            alarm.last_time.isoformat(), alarm.count, _iso(alarm.cleared),
            _iso(alarm.acknowledged), alarm.acknowledged_by, alarm.note,
        )  # fmt: skip
        try:
            with self._db.transaction() as conn:
                # An upsert on the id, not INSERT OR REPLACE: that would silently delete
                # the other active alarm the unique index protects.
                conn.execute(
                    f"INSERT INTO alarms ({_COLUMNS})"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    f" ON CONFLICT(id) DO UPDATE SET {_UPDATE}",
                    row,
                )
        except sqlite3.IntegrityError as exc:
            raise Conflict(
                f"twin {alarm.twin_id!r} already has an active {alarm.condition!r} alarm",
                code="AlarmAlreadyActive",
            ) from exc

    def get_alarm(self, alarm_id: str) -> Alarm | None:
        row = self._db.read(
            lambda c: c.execute(f"SELECT {_COLUMNS} FROM alarms WHERE id = ?", (alarm_id,))
            .fetchone()
        )  # fmt: skip
        return _alarm(row) if row else None

    def active_alarm(self, twin_id: str, condition: str) -> Alarm | None:
        row = self._db.read(
            lambda c: c.execute(
                f"SELECT {_COLUMNS} FROM alarms"
                " WHERE twin_id = ? AND condition = ? AND state != 'cleared'",
                (twin_id, condition),
            ).fetchone()
        )
        return _alarm(row) if row else None

    def list_alarms(
        self,
        *,
        twin_id: str | None = None,
        states: Sequence[str] = (),
        severities: Sequence[str] = (),
        active_only: bool = False,
    ) -> list[Alarm]:
        where = (
            Where().equal("twin_id", twin_id).any_of("state", states).any_of("severity", severities)
        )
        if active_only:
            where.add("state != 'cleared'")
        sql = f"SELECT {_COLUMNS} FROM alarms{where.sql()} ORDER BY raised DESC, id"
        rows = self._db.read(lambda c: c.execute(sql, where.args).fetchall())
        return [_alarm(r) for r in rows]

    def close(self) -> None:
        """The database belongs to the hub, which closes it."""
