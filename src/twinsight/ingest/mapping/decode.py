"""Payload decoders: bytes → readings. Each returns values or raises :class:`DecodeError`
with a reason a person can act on (it ends up in the dead-letter store)."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from itertools import chain, repeat
from operator import itemgetter
from typing import Any, NamedTuple

import numpy as np
import orjson
from numpy.typing import NDArray

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
    return epoch(raw / EPOCH_SCALES[fmt])


EPOCH_SCALES = {"epoch_s": 1.0, "epoch_ms": 1e3, "epoch_us": 1e6}
"""The numeric timestamp formats a mapping may name, as units per second."""


Times = NDArray[np.int64]
"""A column's source times: integer microseconds since the epoch."""
Floats = NDArray[np.float64]
"""A column's values."""


class SenmlColumn:
    """The records of a SenML pack with one name and unit, as columns: source times in
    integer microseconds since the epoch and float values, in the pack's order, as arrays
    (they stay arrays through the pipeline's checks, history and data quality)."""

    __slots__ = ("name", "times", "unit", "values")

    def __init__(self, name: str, unit: str | None, times: Times, values: Floats) -> None:
        self.name = name
        self.unit = unit
        self.times = times
        self.values = values


_FIRST_YEAR_S = -62_135_596_800
"""0001-01-01T00:00:00Z, the earliest time a datetime holds (s since 1970)."""
_LAST_YEAR_S = 253_402_300_799
"""9999-12-31T23:59:59Z, the latest."""
NUMBERS = frozenset({float, int})
"""The Python types JSON numbers decode to (``bool`` is not one: its type is its own)."""
_TEXT = frozenset({str, type(None)})


def micros(seconds: Floats) -> Times:
    """Seconds since the epoch (finite, within a datetime's range) as integer microseconds,
    rounded as ``datetime.fromtimestamp`` rounds (half to even), so a column road and the
    record-by-record road store the very same times."""
    whole = np.trunc(seconds)
    exact: Times = whole.astype(np.int64) * 1_000_000 + np.rint((seconds - whole) * 1e6).astype(
        np.int64
    )
    return exact


def in_datetime_range(seconds: np.ndarray) -> bool:
    """Whether every time (seconds since the epoch) is finite and one a datetime can hold."""
    return bool(
        np.isfinite(seconds).all()
        and float(seconds.min()) >= _FIRST_YEAR_S
        and float(seconds.max()) <= _LAST_YEAR_S
    )


def decode_senml_columns(payload: bytes) -> list[SenmlColumn] | None:
    """The common SenML pack, decoded as columns — or ``None`` when it is not that common
    pack, and :func:`decode_senml` must read it record by record.

    Why: a pack of 100 samples decoded as 100 records, each checked, timed and converted
    field by field, cost more per value than everything after it. The common pack (base
    name, time and unit only in the first record; every record a numeric ``v`` with a
    ``t``; absolute times) is checked with a few passes over its fields in C (list
    comprehensions, ``count``, numpy) instead. Anything else — a string or boolean value,
    ``bv``, base fields further down, a record without ``t``, relative times, a field we do
    not read, an error to report — returns ``None``, so :func:`decode_senml` keeps the one
    definition of what a pack means and of every error message. Both give the same times
    to the microsecond (``datetime.fromtimestamp`` rounds half to even, as here).
    """
    raw = senml_raw_columns(payload)
    return None if raw is None else finish_senml_columns(raw)


class SenmlRawColumn(NamedTuple):
    """One record name's samples of one pack before their numbers are checked: the pack's
    base time and each record's time offset and value as JSON gave them."""

    name: str
    unit: str | None
    base: float
    offsets: list[Any]
    values: list[Any]


_T = itemgetter("t")
_V = itemgetter("v")


def senml_raw_columns(payload: bytes) -> list[SenmlRawColumn] | None:
    """The first, per-pack half of :func:`decode_senml_columns`: the pack's structure
    checked and its records split by name and unit, numbers not yet checked. Several packs
    of one sender can then be finished as one set of arrays
    (:func:`finish_senml_columns`), so the per-pack cost is little more than the JSON
    decoding.

    The numbers are checked later, when they become a float array, which would take a
    boolean for 1 or 0 and a text such as ``"1.5"`` for a number: so a payload with
    ``true`` or ``false`` anywhere in it is left to the general reader, and so is one
    with more double quotes than its field names and the texts it may hold (names and
    units) account for — looking at the bytes costs far less than looking at the type of
    every number, and also finds a record with a field too many."""
    if b"true" in payload or b"false" in payload:
        return None
    try:
        pack = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    if pack.__class__ is not list or not pack or pack[0].__class__ is not dict:
        return None
    first: dict[str, Any] = pack[0]
    base_keys = ("bn" in first) + ("bt" in first) + ("bu" in first)
    rest = pack[1:]
    quotes = payload.count(b'"')
    names: list[Any] | None = None
    units: list[Any] | None = None
    try:
        # the commonest pack: after the first record, each is {"t": .., "v": ..} (a field
        # more shows in the count of quotes, and then every field is looked at); a null is
        # refused when the numbers become an array
        offsets = [first.get("t"), *map(_T, rest)]
        values = [first.get("v"), *map(_V, rest)]
        texts = (  # the fields of a common pack that hold text; every other is a number
            (first.get("bn").__class__ is str)
            + (first.get("bu").__class__ is str)
            + (first.get("n").__class__ is str)
            + (first.get("u").__class__ is str)
        )
        common = bool(rest) and quotes == 2 * (2 * len(rest) + len(first) + texts)
    except (KeyError, TypeError):
        common = False
    if common:
        name0, unit0 = first.get("n"), first.get("u")
        present = (
            (name0 is not None)
            + (offsets[0] is not None)
            + (values[0] is not None)
            + (unit0 is not None)
        )
        if len(first) != present + base_keys:  # another field or an explicit null
            return None
    else:  # another shape: every field of every record looked at
        try:
            names = [r.get("n") for r in pack]
            offsets = [r.get("t") for r in pack]
            values = [r.get("v") for r in pack]
            units = [r.get("u") for r in pack]
        except AttributeError:  # a record that is not an object
            return None
        known = (
            4 * len(pack)
            - names.count(None)
            - offsets.count(None)
            - values.count(None)
            - units.count(None)
            + base_keys
        )
        if sum(map(len, pack)) != known:  # another field, an explicit null, a base field later
            return None
        texts = (
            len(names)
            - names.count(None)
            + len(units)
            - units.count(None)
            + ("bn" in first)
            + ("bu" in first)
        )
        if quotes != 2 * (known + texts):  # a text where a number belongs
            return None
        name0, unit0 = names[0], units[0]
    base_name = first.get("bn", "")
    base_time: Any = first.get("bt")
    base_unit = first.get("bu")
    if base_name.__class__ is not str or (base_unit is not None and base_unit.__class__ is not str):
        return None
    if values[0] is None and name0 is None and len(pack) > 1:  # base fields only
        del offsets[0], values[0]
        if names is not None and units is not None:
            del names[0], units[0]
            name0, unit0 = names[0], units[0]
        else:
            name0 = unit0 = None
    if values[0] is None or (names is not None and values.count(None)):
        return None
    if base_time is None:
        if offsets[0] is None or (names is not None and offsets.count(None)):
            return None
        base = 0.0
    else:
        if isinstance(base_time, bool) or not isinstance(base_time, int | float):
            return None
        try:
            base = float(base_time)
        except OverflowError:
            return None
        if offsets[0] is None and "bt" in first and len(values) == len(pack):
            offsets[0] = 0.0
        # a record without t gets no time (see decode_senml)
        if offsets[0] is None or (names is not None and offsets.count(None)):
            return None
    if names is None or units is None:  # the common pack: no name or unit after the first
        one_column = name0 is None and unit0 is None
        if not one_column:
            names = [name0, *repeat(None, len(values) - 1)]
            units = [unit0, *repeat(None, len(values) - 1)]
    else:
        one_column = names.count(None) == len(names) and units.count(None) == len(units)
    if one_column:
        return [SenmlRawColumn(base_name, base_unit, base, offsets, values)] if base_name else None
    assert names is not None and units is not None
    if not set(map(type, names)) <= _TEXT or not set(map(type, units)) <= _TEXT:
        return None
    columns: dict[tuple[str, str | None], SenmlRawColumn] = {}
    for name, unit, offset, value in zip(names, units, offsets, values, strict=True):
        full = base_name + name if name is not None else base_name
        if not full:
            return None
        key = (full, unit if unit is not None else base_unit)
        column = columns.get(key)
        if column is None:
            columns[key] = SenmlRawColumn(full, key[1], base, [offset], [value])
        else:
            column.offsets.append(offset)
            column.values.append(value)
    return list(columns.values())


def finish_senml_columns(raw: Sequence[SenmlRawColumn]) -> list[SenmlColumn] | None:
    """The second half of :func:`decode_senml_columns`, for the raw columns of one pack or
    of several packs of one sender (joined by name and unit, in order): numbers checked,
    times made absolute microseconds — or ``None`` when a value is not a finite number or
    a time is relative or out of range.

    The numbers of every pack of a name go into one float array in one C pass, which is
    also the type check: null or a list is refused, as is an integer beyond a double
    (:func:`senml_raw_columns` has left out every pack with a boolean or a text where a
    number belongs)."""
    joined: dict[tuple[str, str | None], tuple[list[float], list[int], list[Any], list[Any]]] = {}
    for column in raw:
        key = (column.name, column.unit)
        have = joined.get(key)
        if have is None:
            joined[key] = have = ([], [], [], [])
        have[0].append(column.base)
        have[1].append(len(column.offsets))
        have[2].append(column.offsets)
        have[3].append(column.values)
    out: list[SenmlColumn] = []
    for (name, unit), (bases, counts, offsets, values) in joined.items():
        total = sum(counts)
        try:
            seconds = _floats(offsets, total) + np.repeat(
                np.asarray(bases, dtype=np.float64), counts
            )
            numbers = _floats(values, total) + 0.0  # -0.0 + 0.0, as decode_senml
        except (TypeError, ValueError, OverflowError):  # null, a list, beyond a double
            return None
        if not (np.isfinite(seconds).all() and np.isfinite(numbers).all()):
            return None
        if float(seconds.min()) < SENML_RELATIVE_LIMIT or float(seconds.max()) > _LAST_YEAR_S:
            return None  # relative to now, or beyond what a datetime holds
        out.append(SenmlColumn(name, unit, micros(seconds), numbers))
    return out


def _floats(parts: list[list[Any]], count: int) -> Floats:
    """Lists of JSON numbers (no boolean, no text: see :func:`senml_raw_columns`) as one
    float64 array; ``TypeError`` or ``ValueError`` for null or a list, ``OverflowError``
    for an integer beyond a double."""
    joined = parts[0] if len(parts) == 1 else chain.from_iterable(parts)
    return np.fromiter(joined, dtype=np.float64, count=count)
