"""History: every property and telemetry value of every twin, kept as time series.

:class:`History` is the query API (raw ranges, latest values, time-bucket aggregates,
CSV/Parquet export, retention); :class:`Recorder` feeds it from the event bus in batches.
The storage sits behind :class:`twinsight.core.ports.HistoryStore`, so the hub can pick the
embedded SQLite backend or a server database without this package changing.
"""

from twinsight.history.recorder import (
    Recorder,
    points_from_series,
    points_from_telemetry,
    points_from_twin_change,
)
from twinsight.history.retention import RetentionPolicy
from twinsight.history.service import History, parse_bucket, parse_series, parse_time

__all__ = [
    "History",
    "Recorder",
    "RetentionPolicy",
    "parse_bucket",
    "parse_series",
    "parse_time",
    "points_from_series",
    "points_from_telemetry",
    "points_from_twin_change",
]
