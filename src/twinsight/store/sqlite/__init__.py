"""The embedded SQLite backend (one file per data directory, WAL mode)."""

from twinsight.store.sqlite.database import Database
from twinsight.store.sqlite.models import SqliteModelStore
from twinsight.store.sqlite.twins import SqliteTwinStore

__all__ = ["Database", "SqliteModelStore", "SqliteTwinStore"]
