"""Checking a JSON value against a DTDL schema.

The twin graph calls :func:`validate_value` on every property write, so the common cases
(primitive schemas) take a dictionary-dispatched fast path with no allocation when the value
is fine.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any

from twinsight.models.dtdl.types import (
    ArraySchema,
    EnumSchema,
    MapSchema,
    ObjectSchema,
    PrimitiveSchema,
    Schema,
)

_INT_RANGES: dict[str, tuple[int, int]] = {
    "byte": (-(2**7), 2**7 - 1),
    "short": (-(2**15), 2**15 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "long": (-(2**63), 2**63 - 1),
    "unsignedByte": (0, 2**8 - 1),
    "unsignedShort": (0, 2**16 - 1),
    "unsignedInteger": (0, 2**32 - 1),
    "unsignedLong": (0, 2**64 - 1),
}

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_TIME_RE = re.compile(r"(\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?\Z")
_DATETIME_RE = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2}(?:\.\d+)?)([Zz]|[+-]\d{2}:\d{2})\Z"
)
_DURATION_RE = re.compile(
    r"P(?!\Z)(?:\d+(?:[.,]\d+)?Y)?(?:\d+(?:[.,]\d+)?M)?(?:\d+(?:[.,]\d+)?W)?"
    r"(?:\d+(?:[.,]\d+)?D)?(?:T(?=\d)(?:\d+(?:[.,]\d+)?H)?(?:\d+(?:[.,]\d+)?M)?"
    r"(?:\d+(?:[.,]\d+)?S)?)?\Z"
)
_UUID_RE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z"
)
_BASE64_RE = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?\Z")


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {shown!r}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def _where(pointer: str) -> str:
    return pointer or "(root)"


def _expected(pointer: str, what: str, value: Any) -> list[str]:
    return [f"{_where(pointer)}: expected {what}, got {_describe(value)}"]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value)


def _check_datetime(value: str) -> bool:
    m = _DATETIME_RE.match(value)
    if not m:
        return False
    try:
        date.fromisoformat(m.group(1))
        text = value.replace("z", "Z").replace("t", "T").replace(" ", "T")
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _check_date(value: str) -> bool:
    if not _DATE_RE.match(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _check_time(value: str) -> bool:
    m = _TIME_RE.match(value)
    if not m:
        return False
    try:
        time(int(m.group(1)), int(m.group(2)), min(int(m.group(3)), 59))
    except ValueError:
        return False
    return int(m.group(3)) <= 60


def _string_check(check: Callable[[str], bool], what: str) -> Callable[[Any, str], list[str]]:
    def run(value: Any, pointer: str) -> list[str]:
        if isinstance(value, str) and check(value):
            return []
        return _expected(pointer, what, value)

    return run


def _int_check(name: str) -> Callable[[Any, str], list[str]]:
    low, high = _INT_RANGES[name]
    article = "an" if name[0] in "aeiou" else "a"

    def run(value: Any, pointer: str) -> list[str]:
        if _is_int(value):
            if low <= value <= high:
                return []
            return [f"{_where(pointer)}: {value} is out of range for {name} ({low}..{high})"]
        if isinstance(value, float) and value.is_integer() and low <= value <= high:
            return []
        return _expected(pointer, f"{article} {name}", value)

    return run


def _number_check(name: str) -> Callable[[Any, str], list[str]]:
    def run(value: Any, pointer: str) -> list[str]:
        if _is_number(value):
            return []
        return _expected(pointer, f"a {name}", value)

    return run


def _position_ok(value: Any) -> bool:
    return (
        isinstance(value, list)
        and 2 <= len(value) <= 3
        and all(_is_number(coordinate) for coordinate in value)
    )


def _line_ok(value: Any) -> bool:
    return isinstance(value, list) and len(value) >= 2 and all(_position_ok(p) for p in value)


def _ring_ok(value: Any) -> bool:
    return _line_ok(value) and len(value) >= 4 and value[0] == value[-1]


def _polygon_ok(value: Any) -> bool:
    return isinstance(value, list) and len(value) >= 1 and all(_ring_ok(r) for r in value)


def _many(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, list) and all(check(item) for item in value)


_GEO: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "point": ("Point", _position_ok),
    "lineString": ("LineString", _line_ok),
    "polygon": ("Polygon", _polygon_ok),
    "multiPoint": ("MultiPoint", _many(_position_ok)),
    "multiLineString": ("MultiLineString", _many(_line_ok)),
    "multiPolygon": ("MultiPolygon", _many(_polygon_ok)),
}


def _geo_check(name: str) -> Callable[[Any, str], list[str]]:
    geo_type, coordinates_ok = _GEO[name]

    def run(value: Any, pointer: str) -> list[str]:
        if not isinstance(value, dict):
            return _expected(pointer, f"a GeoJSON {geo_type} object", value)
        problems = []
        if value.get("type") != geo_type:
            problems.append(f"{pointer}/type: expected the string {geo_type!r}")
        if not coordinates_ok(value.get("coordinates")):
            problems.append(f"{pointer}/coordinates: not valid {geo_type} coordinates")
        return problems

    return run


def _boolean(value: Any, pointer: str) -> list[str]:
    return [] if isinstance(value, bool) else _expected(pointer, "a boolean", value)


def _string(value: Any, pointer: str) -> list[str]:
    return [] if isinstance(value, str) else _expected(pointer, "a string", value)


_PRIMITIVES: dict[str, Callable[[Any, str], list[str]]] = {
    "boolean": _boolean,
    "string": _string,
    "double": _number_check("double"),
    "float": _number_check("float"),
    "decimal": _number_check("decimal"),
    "dateTime": _string_check(_check_datetime, "an RFC 3339 dateTime with a time zone"),
    "date": _string_check(_check_date, "a date (YYYY-MM-DD)"),
    "time": _string_check(_check_time, "a time (hh:mm:ss)"),
    "duration": _string_check(lambda v: bool(_DURATION_RE.match(v)), "an ISO 8601 duration"),
    "uuid": _string_check(lambda v: bool(_UUID_RE.match(v)), "a UUID string"),
    "bytes": _string_check(lambda v: bool(_BASE64_RE.match(v)), "a base64 string"),
    **{name: _int_check(name) for name in _INT_RANGES},
    **{name: _geo_check(name) for name in _GEO},
}


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def validate_value(schema: Schema, value: Any, pointer: str = "") -> list[str]:
    """Every way ``value`` fails to conform to ``schema``; an empty list when it conforms.

    Each message starts with the JSON pointer of the offending part of the value
    (``"(root)"`` for the value itself).

    >>> from twinsight.models.dtdl import PrimitiveSchema, validate_value
    >>> validate_value(PrimitiveSchema("double"), 21.5)
    []
    >>> validate_value(PrimitiveSchema("double"), "fast", "/speed")
    ["/speed: expected a double, got the string 'fast'"]
    >>> validate_value(PrimitiveSchema("integer"), True)
    ['(root): expected an integer, got the boolean true']
    """
    if type(schema) is PrimitiveSchema:
        check = _PRIMITIVES.get(schema.name)
        if check is None:
            return [f"{_where(pointer)}: unknown schema {schema.name!r}"]
        return check(value, pointer)
    if isinstance(schema, EnumSchema):
        for enum_value in schema.values:
            if enum_value.value == value and type(enum_value.value) is type(value):
                return []
        allowed = ", ".join(repr(v.value) for v in schema.values)
        return [f"{_where(pointer)}: {_describe(value)} is not one of the enum values ({allowed})"]
    if isinstance(schema, ObjectSchema):
        if not isinstance(value, dict):
            return _expected(pointer, "an object", value)
        fields = {f.name: f for f in schema.fields}
        problems: list[str] = []
        for key, item in value.items():
            field = fields.get(key)
            if field is None:
                problems.append(f"{pointer}/{_escape(key)}: unknown field {key!r}")
            else:
                problems.extend(validate_value(field.schema, item, f"{pointer}/{_escape(key)}"))
        return problems
    if isinstance(schema, MapSchema):
        if not isinstance(value, dict):
            return _expected(pointer, "an object (map)", value)
        problems = []
        key_schema = schema.map_key.schema
        for key, item in value.items():
            where = f"{pointer}/{_escape(key)}"
            if isinstance(key_schema, EnumSchema):
                if not any(v.value == key for v in key_schema.values):
                    problems.append(f"{where}: map key {key!r} is not one of the enum values")
            elif not key or not isinstance(key, str):
                problems.append(f"{where}: map keys must be non-empty strings")
            problems.extend(validate_value(schema.map_value.schema, item, where))
        return problems
    if isinstance(schema, ArraySchema):
        if not isinstance(value, list):
            return _expected(pointer, "an array", value)
        problems = []
        for index, item in enumerate(value):
            problems.extend(validate_value(schema.element_schema, item, f"{pointer}/{index}"))
        return problems
    return validate_value(PrimitiveSchema(schema.name), value, pointer)
