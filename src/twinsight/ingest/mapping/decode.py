"""Payload decoders: bytes → readings. Each returns values or raises :class:`DecodeError`
with a reason a person can act on (it ends up in the dead-letter store)."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

SENML_RELATIVE_LIMIT = 2**28
"""RFC 8428: times below 2**28 are relative to now, not seconds since the epoch."""


class DecodeError(ValueError):
    """The payload cannot be read as the mapping says it should be."""


def decode_json(payload: bytes) -> Any:
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        if _not_utf8(payload):
            raise DecodeError("the payload is not valid UTF-8") from exc
        raise DecodeError(f"the payload is not valid JSON ({exc})") from exc


def _not_utf8(payload: bytes) -> bool:
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def json_path(document: Any, path: str) -> Any:
    """The value at a dotted path (``meta.ts``, ``values.0.t``); ``KeyError`` if absent."""
    current = document
    for part in path.split("."):
        if isinstance(current, dict):
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            raise KeyError(path)
    return current


def decode_number(payload: bytes) -> float | int:
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise DecodeError("the payload is not valid UTF-8") from exc
    try:
        value: float | int = int(text) if text.lstrip("-").isdigit() else float(text)
    except ValueError as exc:
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise DecodeError(f"the payload {shown!r} is not a number") from exc
    if isinstance(value, float) and not math.isfinite(value):
        raise DecodeError(f"the payload {text!r} is not a finite number")
    return value


def decode_csv(payload: bytes, columns: list[str], delimiter: str) -> Iterator[dict[str, str]]:
    """Each line of the payload as ``{column: text}``."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError("the payload is not valid UTF-8") from exc
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    if not any(rows):
        raise DecodeError("the CSV payload is empty")
    for number, row in enumerate(rows, start=1):
        if not row:
            continue
        if len(row) != len(columns):
            raise DecodeError(
                f"CSV line {number} has {len(row)} column(s); the mapping expects "
                f"{len(columns)} ({', '.join(columns)})"
            )
        yield dict(zip(columns, row, strict=True))


class SenmlRecord:
    """One resolved SenML record: full name, value, time and unit."""

    __slots__ = ("name", "time", "unit", "value")

    def __init__(self, name: str, value: Any, time: datetime | None, unit: str | None) -> None:
        self.name = name
        self.value = value
        self.time = time
        self.unit = unit


def decode_senml(payload: bytes, now: datetime) -> list[SenmlRecord]:
    """Resolve a SenML JSON pack (RFC 8428): base name/time/unit/value applied to each record."""
    pack = decode_json(payload)
    if not isinstance(pack, list) or not pack:
        raise DecodeError("a SenML pack must be a non-empty JSON array of records")
    base_name, base_time, base_unit, base_value = "", 0.0, None, 0.0
    records: list[SenmlRecord] = []
    for i, record in enumerate(pack):
        if not isinstance(record, dict):
            raise DecodeError(f"SenML record {i} is not a JSON object")
        try:
            if "bn" in record:
                base_name = _text(record["bn"], "bn")
            if "bt" in record:
                base_time = _number(record["bt"], "bt")
            if "bu" in record:
                base_unit = _text(record["bu"], "bu")
            if "bv" in record:
                base_value = _number(record["bv"], "bv")
            name = base_name + _text(record.get("n", ""), "n")
            if not name:
                raise DecodeError("it has no name (n or bn)")
            value = _senml_value(record, base_value)
            if value is None:
                if i == 0 and not ("n" in record or "v" in record):
                    continue  # a record holding only base fields
                raise DecodeError("it has no value (v, vs, vb or vd)")
            when = base_time + (_number(record["t"], "t") if "t" in record else 0.0)
            time = _senml_time(when, now) if ("t" in record or "bt" in record) else None
            unit = _text(record["u"], "u") if "u" in record else base_unit
        except DecodeError as exc:
            raise DecodeError(f"SenML record {i}: {exc}") from None
        records.append(SenmlRecord(name, value, time, unit))
    return records


def _senml_value(record: dict[str, Any], base_value: float) -> Any:
    if "v" in record:
        return _number(record["v"], "v") + base_value
    if "vs" in record:
        return _text(record["vs"], "vs")
    if "vb" in record:
        if not isinstance(record["vb"], bool):
            raise DecodeError("vb must be true or false")
        return record["vb"]
    if "vd" in record:
        return _text(record["vd"], "vd")
    return None


def _senml_time(seconds: float, now: datetime) -> datetime:
    if abs(seconds) < SENML_RELATIVE_LIMIT:
        return now + timedelta(seconds=seconds)
    return epoch(seconds)


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise DecodeError(f"{field} must be a string, not {orjson.dumps(value).decode()[:40]}")
    return value


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        shown = orjson.dumps(value).decode()[:40]
        raise DecodeError(f"{field} must be a finite number, not {shown}")
    return float(value)


def epoch(seconds: float) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise DecodeError(f"the timestamp {seconds!r} s since 1970 is out of range") from exc


def parse_time(raw: Any, fmt: str) -> datetime:
    """A source timestamp in the mapping's format, as an aware UTC datetime."""
    if fmt == "iso8601":
        if not isinstance(raw, str):
            raise DecodeError(f"the timestamp {raw!r} is not an ISO 8601 string")
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError as exc:
            raise DecodeError(f"the timestamp {raw!r} is not ISO 8601") from exc
        if parsed.tzinfo is None:
            raise DecodeError(f"the timestamp {raw!r} has no time zone (add Z or +00:00)")
        return parsed.astimezone(UTC)
    if isinstance(raw, str):
        try:
            raw = float(raw)
        except ValueError as exc:
            raise DecodeError(f"the timestamp {raw!r} is not a number") from exc
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise DecodeError(f"the timestamp {raw!r} is not a number")
    return epoch(raw / _SCALES[fmt])


_SCALES = {"epoch_s": 1.0, "epoch_ms": 1e3, "epoch_us": 1e6}
