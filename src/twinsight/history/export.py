"""CSV and Parquet export, streamed chunk by chunk.

Why streamed: an export of a year of 1 s data is tens of millions of points; each chunk of
points becomes one CSV block or one Parquet row group and is handed on at once, so memory
stays bounded by the chunk size whatever the export's size.

Both formats carry ``twin_id, name, kind, time, value``: ``time`` is UTC (ISO 8601 in CSV,
``timestamp[us, UTC]`` in Parquet). In Parquet, ``value`` is a float column (booleans as
0/1) and ``value_json`` carries the JSON of every value that is not a plain number, so
types survive the trip.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from twinsight.core.ports import HistoryPoint, HistoryValue

CSV_HEADER = ("twin_id", "name", "kind", "time", "value")


def _csv_value(value: HistoryValue) -> str:
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value) if not isinstance(value, float) else repr(value)
    return orjson.dumps(value).decode()


def _iso(point: HistoryPoint) -> str:
    return point.time.isoformat().replace("+00:00", "Z")


def csv_chunks(chunks: Iterable[list[HistoryPoint]]) -> Iterator[bytes]:
    """A CSV file (UTF-8, header first) as byte chunks."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for points in chunks:
        writer.writerows((p.twin_id, p.name, p.kind, _iso(p), _csv_value(p.value)) for p in points)
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


class _Sink(io.RawIOBase):
    """A write-only file that hands out what was written since the last ``take``."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._pos = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._parts.append(chunk)
        self._pos += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._pos

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


def parquet_chunks(chunks: Iterable[list[HistoryPoint]]) -> Iterator[bytes]:
    """A Parquet file as byte chunks: one row group per chunk of points."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("twin_id", pa.string()),
            ("name", pa.string()),
            ("kind", pa.string()),
            ("time", pa.timestamp("us", tz="UTC")),
            ("value", pa.float64()),
            ("value_json", pa.string()),
        ]
    )
    sink = _Sink()
    writer = pq.ParquetWriter(sink, schema, compression="zstd")
    try:
        for points in chunks:
            numbers: list[float | None] = []
            texts: list[str | None] = []
            for p in points:
                v = p.value
                if v.__class__ is float or v.__class__ is int:
                    numbers.append(float(v))
                    texts.append(None)
                else:
                    numbers.append(float(v) if isinstance(v, bool) else None)
                    texts.append(orjson.dumps(v).decode())
            table = pa.table(
                {
                    "twin_id": [p.twin_id for p in points],
                    "name": [p.name for p in points],
                    "kind": [p.kind for p in points],
                    "time": [p.time for p in points],
                    "value": numbers,
                    "value_json": texts,
                },
                schema=schema,
            )
            writer.write_table(table)
            data = sink.take()
            if data:
                yield data
    finally:
        writer.close()
    yield sink.take()
