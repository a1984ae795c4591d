"""Compiled mapping rules: match a message, read its payload, name each value's target.

A :class:`Rule` is built once from its :class:`~twinsight.ingest.mapping.spec.RuleSpec`
(patterns compiled, templates checked), so the per-message work is a regex match and a few
dictionary look-ups.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, NamedTuple

import numpy as np
import orjson

from twinsight.core.messages import RawMessage
from twinsight.ingest.mapping.decode import (
    EPOCH_SCALES,
    NUMBERS,
    DecodeError,
    Floats,
    SenmlColumn,
    SenmlRawColumn,
    Times,
    decode_csv,
    decode_json,
    decode_number,
    decode_senml,
    decode_senml_columns,
    finish_senml_columns,
    in_datetime_range,
    json_path,
    micros,
    parse_time,
    senml_raw_columns,
)
from twinsight.ingest.mapping.spec import MappingSpec, RuleSpec, ValueSpec
from twinsight.ingest.mapping.topics import compile_topic, template_fields

Kind = Literal["property", "telemetry"]
_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_ABSENT: Any = object()
"""A field a JSON message does not have (``None`` is JSON's null)."""


class MappedValue(NamedTuple):
    """One value read from a message, addressed to a twin property or telemetry.

    A named tuple, not a frozen dataclass: one is built per value on the ingest path, and a
    frozen dataclass's ``__init__`` costs several times a tuple's."""

    twin_id: str
    kind: Kind
    name: str
    """``prop`` or ``component.prop``."""
    value: Any
    time: datetime | None
    """Source time from the payload, if it had one."""
    unit: str | None
    """Unit the value is in, when the mapping or the payload says."""
    from_text: bool = False
    """Read from text (CSV): convert to the target's schema type before validating."""


class MappedColumn(NamedTuple):
    """Values of one twin property or telemetry read together (a SenML pack's samples of
    one record name, a JSON field over several messages): source times in microseconds
    since the epoch, in the messages' order. SenML values are a float array already; a
    JSON field's are the numbers as they came (integers stay integers until the target is
    known)."""

    twin_id: str
    kind: Kind
    name: str
    unit: str | None
    times: Times
    values: Floats | list[Any]


class Template:
    """A ``{capture}`` template compiled once: a constant, a single capture, or a format
    string, so rendering it per message costs a dict look-up rather than a regex pass.
    Capture names are checked identifiers and literal braces are escaped, so the format
    string can reach nothing but the captures."""

    __slots__ = ("_format", "_name", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        whole = _FIELD.fullmatch(text)
        self._name = whole.group(1) if whole else None
        self._format: str | None = None
        if _FIELD.search(text):
            parts, position = [], 0
            for found in _FIELD.finditer(text):
                parts.append(_escape_braces(text[position : found.start()]))
                parts.append("{" + found.group(1) + "}")
                position = found.end()
            parts.append(_escape_braces(text[position:]))
            self._format = "".join(parts)

    def render(self, captures: dict[str, str]) -> str:
        if self._name is not None:
            return captures[self._name]
        if self._format is None:
            return self.text
        return self._format.format_map(captures)


def _json_getter(document: dict[str, Any]) -> Any:
    return lambda path: json_path(document, path)


def _escape_braces(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


class _ValueRule:
    __slots__ = ("field", "kind", "optional", "plain", "record", "target", "unit")

    def __init__(self, spec: ValueSpec) -> None:
        self.field = spec.field
        self.plain = spec.field is not None and "." not in spec.field
        """A top-level JSON field: one dict look-up instead of a path walk."""
        self.kind: Kind = "property" if spec.property is not None else "telemetry"
        self.target = Template(spec.property if spec.property is not None else spec.telemetry or "")
        self.unit = spec.unit
        self.optional = spec.optional
        self.record = _template_regex(spec.record) if spec.record is not None else None


def _template_regex(template: str) -> re.Pattern[str]:
    """``"{name}_raw"`` → a regex capturing ``name``; the rest matches literally."""
    parts: list[str] = []
    position = 0
    for found in _FIELD.finditer(template):
        parts.append(re.escape(template[position : found.start()]))
        parts.append(f"(?P<{found.group(1)}>.+)")
        position = found.end()
    parts.append(re.escape(template[position:]))
    return re.compile("".join(parts))


class Rule:
    """One compiled mapping rule."""

    def __init__(self, spec: RuleSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.source = spec.source
        self.topic = compile_topic(spec.topic)
        self.values = [_ValueRule(v) for v in spec.values]
        self._plain_time = spec.time is not None and "." not in spec.time.field
        self.twin = Template(spec.twin)
        self.json_columnar = (
            spec.format == "json"
            and spec.time is not None
            and self._plain_time
            and spec.time.format in EPOCH_SCALES
            and all(v.plain for v in self.values)
        )
        """Whether messages of one address can be read together as columns
        (:meth:`json_columns`): JSON with top-level fields and an epoch source time."""
        captures = set(self.topic.groupindex)
        self._check_template("twin", spec.twin, captures)
        for i, value in enumerate(self.values):
            extra = set(value.record.groupindex) if value.record is not None else set()
            self._check_template(f"values[{i}]", value.target.text, captures | extra)

    def _check_template(self, where: str, template: str, known: set[str]) -> None:
        unknown = template_fields(template) - known
        if unknown:
            names = ", ".join("{" + u + "}" for u in sorted(unknown))
            raise ValueError(
                f"{where} uses {names}, which neither the topic pattern "
                f"{self.spec.topic!r} nor the record pattern captures"
            )

    def match(self, message: RawMessage) -> dict[str, str] | None:
        if self.source not in ("any", message.source):
            return None
        found = self.topic.fullmatch(message.address.strip("/"))
        return found.groupdict() if found else None

    def extract(
        self, message: RawMessage, captures: dict[str, str]
    ) -> tuple[list[MappedValue], list[str]]:
        """The values of ``message`` and the problems met (a problem names the field)."""
        twin_id = self.twin.render(captures)
        try:
            fmt = self.spec.format
            if fmt == "json":
                return self._json(message.payload, twin_id, captures)
            if fmt == "senml":
                return self._senml(message, twin_id, captures)
            if fmt == "number":
                rule = self.values[0]
                value = decode_number(message.payload)
                return [
                    MappedValue(
                        twin_id, rule.kind, rule.target.render(captures), value, None, rule.unit
                    )
                ], []
            return self._csv(message.payload, twin_id, captures)
        except DecodeError as exc:
            return [], [str(exc)]

    def _time(self, get: Any) -> datetime | None:
        spec = self.spec.time
        if spec is None:
            return None
        try:
            raw = get(spec.field)
        except KeyError:
            raise DecodeError(f"the timestamp field {spec.field!r} is missing") from None
        return parse_time(raw, spec.format)

    def _json(
        self, payload: bytes, twin_id: str, captures: dict[str, str]
    ) -> tuple[list[MappedValue], list[str]]:
        document = decode_json(payload)
        if not isinstance(document, dict):
            raise DecodeError("the JSON payload must be an object")
        time = self._time(document.__getitem__ if self._plain_time else _json_getter(document))
        values: list[MappedValue] = []
        problems: list[str] = []
        for rule in self.values:
            assert rule.field is not None
            try:
                raw = document[rule.field] if rule.plain else json_path(document, rule.field)
            except KeyError:
                if not rule.optional:
                    problems.append(f"field {rule.field!r} is missing")
                continue
            values.append(
                MappedValue(twin_id, rule.kind, rule.target.render(captures), raw, time, rule.unit)
            )
        return values, problems

    def _csv(
        self, payload: bytes, twin_id: str, captures: dict[str, str]
    ) -> tuple[list[MappedValue], list[str]]:
        assert self.spec.csv is not None
        values: list[MappedValue] = []
        for row in decode_csv(payload, self.spec.csv.columns, self.spec.csv.delimiter):
            time = self._time(row.__getitem__)
            for rule in self.values:
                assert rule.field is not None
                text = row.get(rule.field, "")
                if text == "" and rule.optional:
                    continue
                values.append(
                    MappedValue(
                        twin_id,
                        rule.kind,
                        rule.target.render(captures),
                        text,
                        time,
                        rule.unit,
                        from_text=True,
                    )
                )
        return values, []

    def senml_columns(
        self, message: RawMessage, captures: dict[str, str]
    ) -> list[MappedColumn] | None:
        """A SenML message's values as columns, one per record name — or ``None`` when the
        pack is not the common kind (see :func:`decode_senml_columns`) or a record name
        matches no value rule: :meth:`extract` then reads it value by value and says what
        is wrong. The value rule is matched once per record name, not once per record."""
        if self.spec.format != "senml":
            return None
        return self._senml_mapped(decode_senml_columns(message.payload), captures)

    def senml_packs_columns(
        self, payloads: Sequence[bytes], captures: dict[str, str]
    ) -> list[MappedColumn] | None:
        """:meth:`senml_columns` for several packs of one address at once: each record
        name's samples of every pack joined into one column, in message order, their
        numbers checked as one array (see :func:`finish_senml_columns`) — or ``None`` when
        any pack is not the common kind."""
        if self.spec.format != "senml":
            return None
        raw: list[SenmlRawColumn] = []
        for payload in payloads:
            columns = senml_raw_columns(payload)
            if columns is None:
                return None
            raw.extend(columns)
        return self._senml_mapped(finish_senml_columns(raw), captures)

    def _senml_mapped(
        self, columns: list[SenmlColumn] | None, captures: dict[str, str]
    ) -> list[MappedColumn] | None:
        if columns is None:
            return None
        twin_id = self.twin.render(captures)
        out: list[MappedColumn] = []
        for column in columns:
            for rule in self.values:
                assert rule.record is not None
                found = rule.record.fullmatch(column.name)
                if found is None:
                    continue
                names = {**captures, **found.groupdict()} if rule.record.groups else captures
                out.append(
                    MappedColumn(
                        twin_id,
                        rule.kind,
                        rule.target.render(names),
                        column.unit or rule.unit,
                        column.times,
                        column.values,
                    )
                )
                break
            else:
                return None
        return out

    def json_columns(
        self, payloads: Sequence[bytes], captures: dict[str, str]
    ) -> tuple[list[MappedColumn], list[MappedValue]] | None:
        """The values of several JSON messages of one address read together: each numeric
        field as one column (integers as they came), any other field (a state text, a
        flag) as one value per message — or ``None`` when a message is not the common
        kind, and :meth:`extract` must read them one by one and say what is wrong.

        Why: a device sends one small JSON object after another on its topic, and a batch
        holds many of them. Read one at a time, each value cost a mapped value, a check and
        a history row of its own; read together, the decoding is a few passes in C and the
        target, unit conversion and checks run once per column. The common kind is what
        :attr:`json_columnar` rules read: every message an object with every field that is
        not optional, and an epoch time in range."""
        if not self.json_columnar:
            return None
        try:
            documents = [orjson.loads(p) for p in payloads]
        except orjson.JSONDecodeError:
            return None
        if set(map(type, documents)) != {dict}:
            return None
        time_spec = self.spec.time
        assert time_spec is not None
        try:
            raw_times = [d[time_spec.field] for d in documents]
        except KeyError:  # named per message by extract
            return None
        if not set(map(type, raw_times)) <= NUMBERS:
            return None
        try:
            seconds = np.asarray(raw_times, dtype=np.float64) / EPOCH_SCALES[time_spec.format]
        except (OverflowError, ValueError):
            return None
        if not in_datetime_range(seconds):
            return None
        times = micros(seconds)
        twin_id = self.twin.render(captures)
        columns: list[MappedColumn] = []
        singles: list[MappedValue] = []
        for rule in self.values:
            field = rule.field
            assert field is not None
            values = [d.get(field, _ABSENT) for d in documents]
            column_times = times
            if _ABSENT in values:
                if not rule.optional:
                    return None
                present = [i for i, v in enumerate(values) if v is not _ABSENT]
                if not present:
                    continue
                values = [values[i] for i in present]
                column_times = times[present]
            target = rule.target.render(captures)
            if set(map(type, values)) <= NUMBERS:
                columns.append(
                    MappedColumn(twin_id, rule.kind, target, rule.unit, column_times, values)
                )
            else:
                singles.extend(
                    MappedValue(twin_id, rule.kind, target, v, _EPOCH + _US * us, rule.unit)
                    for us, v in zip(column_times.tolist(), values, strict=True)
                )
        return columns, singles

    def _senml(
        self, message: RawMessage, twin_id: str, captures: dict[str, str]
    ) -> tuple[list[MappedValue], list[str]]:
        values: list[MappedValue] = []
        unmatched: list[str] = []
        for record in decode_senml(message.payload, message.received):
            for rule in self.values:
                assert rule.record is not None
                found = rule.record.fullmatch(record.name)
                if found is None:
                    continue
                names = {**captures, **found.groupdict()}
                values.append(
                    MappedValue(
                        twin_id,
                        rule.kind,
                        rule.target.render(names),
                        record.value,
                        record.time,
                        record.unit or rule.unit,
                    )
                )
                break
            else:
                unmatched.append(record.name)
        problems = []
        if unmatched:
            shown = ", ".join(repr(n) for n in unmatched[:5])
            problems.append(
                f"no value rule matches SenML record(s) {shown}"
                + (f" and {len(unmatched) - 5} more" if len(unmatched) > 5 else "")
            )
        return values, problems


_FIND_CACHE_SIZE = 50_000


class Mapping:
    """Every rule of a mapping file, tried in order; the first that matches wins.

    Which rule an address matches, and its captures, depend only on (source, address), and
    devices publish to the same topics over and over: :meth:`find` remembers the answer for
    up to 50,000 addresses (forgetting all when full), so the common case is a dict look-up
    instead of a regex match per rule. Captures are shared between the messages of one
    address and must not be changed by callers."""

    def __init__(self, spec: MappingSpec, rules: Sequence[Rule]) -> None:
        self.spec = spec
        self.rules = list(rules)
        self._found: dict[tuple[str, str], tuple[Rule, dict[str, str]] | None] = {}

    def find(self, message: RawMessage) -> tuple[Rule, dict[str, str]] | None:
        key = (message.source, message.address)
        try:
            return self._found[key]
        except KeyError:
            pass
        found = None
        for rule in self.rules:
            captures = rule.match(message)
            if captures is not None:
                found = rule, captures
                break
        if len(self._found) >= _FIND_CACHE_SIZE:
            self._found.clear()
        self._found[key] = found
        return found
