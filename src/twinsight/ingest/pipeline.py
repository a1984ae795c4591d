"""The ingest pipeline: raw messages in; history, twin state and dead letters out.

For each batch (see :class:`~twinsight.core.messages.MessageSink`):

1. each message is matched to a mapping rule and its payload read into values;
2. each value is checked: the twin exists, the target property/telemetry exists in its
   model, the unit converts into the model's unit, the value fits the DTDL schema, the
   source time is plausible;
3. every accepted value is appended to history (duplicates by twin, name and time are
   recorded once), properties become current state where they are the newest by source
   time, and telemetry goes onto the event bus;
4. every message with a problem is kept as a dead letter with all its reasons — its good
   values are applied too, which is safe because replaying it later is idempotent.

``submit`` returns only when all of that is durable, so connectors acknowledge after it.

A SenML pack of many samples takes a shorter road with the same outcome: it is decoded as
columns (one per record name), its target, unit conversion and checks are done once per
column, history gets the columns, and subscribers get one event per pack
(:class:`~twinsight.core.events.TelemetrySeries`) instead of one per sample time. Whatever
that road does not handle exactly like the general one (an error to report, a value that
is not a finite number for a ``double``, an odd pack) goes the general way.

Small JSON messages take the same road together: in a batch, the messages of one address
whose rule reads top-level fields with an epoch time are decoded as one set of columns
(``Rule.json_columns``), checked once per column, and become one series event per twin
and one history column per value; a property's column is decided with a binary search
(:class:`~twinsight.graph.ingested.IngestedColumn`). A group with any problem goes message
by message, so each dead letter names its own message.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from twinsight.core.clock import Clock
from twinsight.core.columns import NumberColumn
from twinsight.core.errors import TwinsightError
from twinsight.core.events import EventBus, IngestBatch, TelemetryReceived, TelemetrySeries
from twinsight.core.messages import IngestResult, RawMessage
from twinsight.core.ports import DeadLetter, DeadLetterStore, HistoryKind
from twinsight.graph.ingested import IngestedColumn, IngestedProperty, ValueTarget
from twinsight.graph.service import TwinGraph
from twinsight.history import History
from twinsight.ingest.flood import FloodGuard
from twinsight.ingest.mapping import MappedColumn, MappedValue, Mapping, Rule
from twinsight.ingest.mapping.decode import Floats, Times
from twinsight.ingest.units import UnitError, convert_array, converter
from twinsight.models.dtdl import EnumSchema, PrimitiveSchema, Schema, validate_value

log = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 1024 * 1024
COLUMN_MIN = 4
_ARRAY_CHECK = 64
"""Longer time columns are checked for order with numpy."""
"""Fewest messages of one address in a batch that are read together as columns: below
that, one at a time costs no more."""
_INTEGERS = frozenset(
    {
        "integer",
        "long",
        "short",
        "byte",
        "unsignedInteger",
        "unsignedLong",
        "unsignedShort",
        "unsignedByte",
    }
)
_FLOATS = frozenset({"double", "float", "decimal"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def describe_problems(problems: Sequence[str]) -> str:
    """One dead letter's reason: each distinct problem once, in the order met, with how
    often it came up — a pack of 100 records with the same wrong name says so once, not
    100 times."""
    counts: dict[str, int] = {}
    for problem in problems:
        counts[problem] = counts.get(problem, 0) + 1
    return "; ".join(p if n == 1 else f"{p} (×{n})" for p, n in counts.items())


class Column(NamedTuple):
    """Accepted values of one target from one message, as columns (see the module doc).

    Arrays from decoding to history, data quality and the events: a column becomes
    Python numbers only where a consumer reads it so (a
    :class:`~twinsight.core.columns.NumberColumn` in events and state updates)."""

    twin_id: str
    kind: str
    name: str
    target: ValueTarget
    times: Times
    """Source times, microseconds since the epoch."""
    values: Floats


@dataclass
class Outcome:
    """What became of one message: its accepted values and its problems."""

    message: RawMessage
    rule: str = ""
    values: list[tuple[MappedValue, ValueTarget, Any, datetime]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    columns: list[Column] = field(default_factory=list)
    """Accepted values that came as columns (a SenML pack), instead of in ``values``."""

    @property
    def accepted(self) -> int:
        """How many values were accepted."""
        return len(self.values) + sum(len(c.values) for c in self.columns)


class IngestPipeline:
    """Map, validate and store live data (a :class:`~twinsight.core.messages.MessageSink`)."""

    def __init__(
        self,
        graph: TwinGraph,
        history: History,
        dead_letters: DeadLetterStore,
        bus: EventBus,
        clock: Clock,
        *,
        mapping: Mapping | None = None,
        max_payload_bytes: int = MAX_PAYLOAD_BYTES,
        flood: FloodGuard | None = None,
    ) -> None:
        self._graph = graph
        self._history = history
        self._dead_letters = dead_letters
        self._bus = bus
        self._clock = clock
        self.mapping = mapping
        self.max_payload_bytes = max_payload_bytes
        self.flood = flood or FloodGuard()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ public

    def submit(self, messages: list[RawMessage]) -> IngestResult:
        """Process a batch; durable when this returns."""
        outcomes, stats = self._process(messages, together=True)
        self._publish_batch(outcomes)
        letters = [
            DeadLetter(
                0,
                o.message.source,
                o.message.address,
                o.message.payload,
                o.message.received,
                describe_problems(o.problems),
                o.message.client,
                o.rule,
            )
            for o in outcomes
            if o.problems
        ]
        if letters:
            self._dead_letters.add(letters)
            log.debug("ingest: %d message(s) kept as dead letters", len(letters))
        return IngestResult(
            messages=len(messages),
            values=sum(o.accepted for o in outcomes),
            dead_letters=len(letters),
            late_values=stats[0],
            duplicate_values=stats[1],
        )

    def process(self, messages: Sequence[RawMessage]) -> list[Outcome]:
        """Like :meth:`submit` but hands back each message's outcome instead of storing dead
        letters: replay uses it to update the letters it re-submitted."""
        return self._process(messages)[0]

    # ---------------------------------------------------------------- internals

    def _publish_batch(self, outcomes: list[Outcome]) -> None:
        self._bus.publish(
            IngestBatch(
                self._clock.now(),
                tuple(
                    (value.twin_id, value.name, value.kind, time, o.message.received, raw)
                    for o in outcomes
                    for value, _, raw, time in o.values
                ),
                tuple(
                    (
                        o.message.source,
                        o.message.address,
                        o.message.client,
                        describe_problems(o.problems),
                    )
                    for o in outcomes
                    if o.problems
                ),
                tuple(
                    (
                        c.twin_id,
                        c.name,
                        c.kind,
                        o.message.received,
                        NumberColumn[int](c.times),
                        NumberColumn[float](c.values),
                    )
                    for o in outcomes
                    for c in o.columns
                ),
            )
        )

    def _process(
        self, messages: Sequence[RawMessage], *, together: bool = False
    ) -> tuple[list[Outcome], tuple[int, int]]:
        """Map, check and store ``messages``. ``together``: messages of one address may be
        read as columns and share one outcome (see :meth:`_map_together`); otherwise each
        message has its own outcome, in order, as replay needs."""
        now = self._clock.now()
        limits = rule_limits(self.mapping)
        # Each (twin, kind, name) is resolved once a batch: a batch is mostly the same few
        # series again and again. Only within a batch, so a model or twin changed between
        # batches is seen by the next one.
        targets: dict[tuple[str, str, str], ValueTarget | str] = {}
        with self._lock:
            if together and len(messages) >= COLUMN_MIN:
                outcomes = self._map_together(messages, now, limits, targets)
            else:
                outcomes = [self._map(message, now, limits, targets) for message in messages]
            late, duplicates = self._store(outcomes, now)
        return outcomes, (late, duplicates)

    def _map_together(
        self,
        messages: Sequence[RawMessage],
        now: datetime,
        limits: tuple[float, float],
        targets: dict[tuple[str, str, str], ValueTarget | str],
    ) -> list[Outcome]:
        """Like :meth:`_map` for each message, except that the messages of one address
        whose rule reads JSON as columns (:meth:`~twinsight.ingest.mapping.Rule.json_columns`)
        are read together: one outcome holds their values as columns, so their checks,
        history and events cost per column, not per message. A group with anything
        uncommon or wrong in it goes message by message, which names each problem."""
        slots: list[Outcome | None] = [None] * len(messages)
        groups: dict[tuple[str, str], tuple[Rule, dict[str, str], list[int]]] = {}
        mapping = self.mapping
        for index, message in enumerate(messages):
            refused = self._refuse(message, now)
            if refused is not None:
                slots[index] = refused
                continue
            found = mapping.find(message) if mapping is not None else None
            if found is None or not (found[0].json_columnar or found[0].spec.format == "senml"):
                slots[index] = self._map_found(message, found, limits, targets)
                continue
            group = groups.get((message.source, message.address))
            if group is None:
                groups[(message.source, message.address)] = (*found, [index])
            else:
                group[2].append(index)
        for rule, captures, indices in groups.values():
            together = None
            if len(indices) >= COLUMN_MIN:
                together = self._read_together(
                    rule, captures, [messages[i] for i in indices], limits, targets
                )
            if together is not None:
                slots[indices[-1]] = together
                continue
            for i in indices:
                slots[i] = self._map_found(messages[i], (rule, captures), limits, targets)
        # in the order the messages came: dead letters are listed as they arrived
        return [outcome for outcome in slots if outcome is not None]

    def _read_together(
        self,
        rule: Rule,
        captures: dict[str, str],
        group: list[RawMessage],
        limits: tuple[float, float],
        targets: dict[tuple[str, str, str], ValueTarget | str],
    ) -> Outcome | None:
        """One outcome for messages of one address read together, or ``None`` when any of
        their values has a problem (they then go one by one, so each is named on its own
        message)."""
        singles: list[MappedValue] = []
        if rule.spec.format == "senml":
            packs = rule.senml_packs_columns([m.payload for m in group], captures)
            if packs is None:
                return None
            mapped_columns = packs
        else:
            mapped = rule.json_columns([m.payload for m in group], captures)
            if mapped is None:
                return None
            mapped_columns, singles = [], mapped[1]
            # Numbers for a floating-point target stay a column (an integer stored as that
            # float); for any other target (a count, an enum) they are checked one by one.
            for column in mapped[0]:
                target = self._target((column.twin_id, column.kind, column.name), targets)
                if isinstance(target, str):
                    return None
                if target.schema.__class__ is PrimitiveSchema and target.schema.name in _FLOATS:
                    try:  # an integer becomes that float, as float() makes it
                        values = np.asarray(column.values, dtype=np.float64)
                    except OverflowError:  # beyond a double: named message by message
                        return None
                    mapped_columns.append(column._replace(values=values))
                else:
                    singles.extend(
                        MappedValue(
                            column.twin_id,
                            column.kind,
                            column.name,
                            v,
                            _EPOCH + _US * us,
                            column.unit,
                        )
                        for us, v in zip(column.times.tolist(), column.values, strict=True)
                    )
        newest = group[-1]  # the latest arrival: its plausibility limits are the group's widest
        columns = self._check_columns(mapped_columns, newest, limits, targets)
        if columns is None:
            return None
        outcome = Outcome(newest, rule.name, columns=columns)
        for value in singles:
            checked = self._check(value, newest, limits, targets)
            if isinstance(checked, str):
                return None
            outcome.values.append(checked)
        return outcome

    def _refuse(self, message: RawMessage, now: datetime) -> Outcome | None:
        """The outcome of a message refused before it is read (too big, a flooding
        client), or ``None``."""
        if len(message.payload) > self.max_payload_bytes:
            return Outcome(
                message,
                problems=[
                    f"payload of {len(message.payload):,} bytes exceeds the limit of "
                    f"{self.max_payload_bytes:,}"
                ],
            )
        if not self.flood.allow(message.client, now):
            return Outcome(
                message,
                problems=[
                    f"client {message.client!r} sent more than {self.flood.rate:g} "
                    "messages/s; kept here unprocessed (replay it once the flood is over)"
                ],
            )
        return None

    def _map(
        self,
        message: RawMessage,
        now: datetime,
        limits: tuple[float, float],
        targets: dict[tuple[str, str, str], ValueTarget | str],
    ) -> Outcome:
        refused = self._refuse(message, now)
        if refused is not None:
            return refused
        found = self.mapping.find(message) if self.mapping is not None else None
        return self._map_found(message, found, limits, targets)

    def _map_found(
        self,
        message: RawMessage,
        found: tuple[Rule, dict[str, str]] | None,
        limits: tuple[float, float],
        targets: dict[tuple[str, str, str], ValueTarget | str],
    ) -> Outcome:
        outcome = Outcome(message)
        if found is None:
            outcome.problems.append(
                f"no mapping rule matches {message.source} address {message.address!r}"
            )
            return outcome
        rule, captures = found
        outcome.rule = rule.name
        if rule.spec.format == "senml":
            mapped = rule.senml_columns(message, captures)
            if mapped is not None:
                columns = self._check_columns(mapped, message, limits, targets)
                if columns is not None:
                    outcome.columns = columns
                    return outcome
        values, problems = rule.extract(message, captures)
        outcome.problems.extend(problems)
        for value in values:
            checked = self._check(value, message, limits, targets)
            if isinstance(checked, str):
                outcome.problems.append(f"{value.twin_id}/{value.name}: {checked}")
            else:
                outcome.values.append(checked)
        return outcome

    def _check(
        self,
        value: MappedValue,
        message: RawMessage,
        limits: tuple[float, float],
        targets: dict[tuple[str, str, str], ValueTarget | str],
    ) -> tuple[MappedValue, ValueTarget, Any, datetime] | str:
        target = self._target((value.twin_id, value.kind, value.name), targets)
        if isinstance(target, str):
            return target
        raw = value.value
        if value.from_text:
            raw = coerce_text(raw, target.schema)
            if isinstance(raw, _Refused):
                return raw.reason
        if value.unit is not None and target.unit is not None and value.unit != target.unit:
            if isinstance(raw, bool) or not isinstance(raw, int | float):
                return f"a value in {value.unit!r} must be a number, not {raw!r}"
            try:
                raw = converter(value.unit, target.unit)(float(raw))
            except UnitError as exc:
                return exc.message
            if _is_integer_schema(target.schema):
                raw = round(raw)
        schema = target.schema
        if raw.__class__ is int and schema.__class__ is PrimitiveSchema and schema.name in _FLOATS:
            # that float, as a column read together makes it (and SQLite, which history is
            # kept in, holds no integer beyond 2**63: such a value failed the whole batch)
            raw = float(raw)
        if not (  # the common case, a finite float for a double, without the general check
            raw.__class__ is float
            and schema.__class__ is PrimitiveSchema
            and schema.name in _FLOATS
            and math.isfinite(raw)
        ):
            problems = validate_value(schema, raw)
            if problems:
                return problems[0].removeprefix("(root): ")
        time = value.time or message.received
        if value.time is not None:
            max_future, max_age_days = limits
            if (time - message.received).total_seconds() > max_future:
                return f"source time {time.isoformat()} is in the future (clock skew?)"
            if (message.received - time).days > max_age_days:
                return f"source time {time.isoformat()} is implausibly old"
        return value, target, raw, time

    def _target(
        self, key: tuple[str, str, str], targets: dict[tuple[str, str, str], ValueTarget | str]
    ) -> ValueTarget | str:
        target = targets.get(key)
        if target is None:
            try:
                target = self._graph.value_target(*key)
            except TwinsightError as exc:
                target = exc.message
            targets[key] = target
        return target

    def _check_columns(
        self,
        mapped: list[MappedColumn],
        message: RawMessage,
        limits: tuple[float, float],
        targets: dict[tuple[str, str, str], ValueTarget | str],
    ) -> list[Column] | None:
        """:meth:`_check` once per column: the columns if every value passes as a finite
        float for a floating-point target with plausible times, else ``None`` (the message
        then goes value by value, which names each problem)."""
        received = message.received
        received_us = (
            (received - _EPOCH) // _US
            if received.tzinfo is not None
            else (received.replace(tzinfo=UTC) - _EPOCH) // _US
        )
        max_future, max_age_days = limits
        columns: list[Column] = []
        for column in mapped:
            target = self._target((column.twin_id, column.kind, column.name), targets)
            if isinstance(target, str):
                return None
            schema = target.schema
            if schema.__class__ is not PrimitiveSchema or schema.name not in _FLOATS:
                return None
            values = np.asarray(column.values, dtype=np.float64)  # an array already
            if column.unit is not None and target.unit is not None and column.unit != target.unit:
                try:
                    values = convert_array(column.unit, target.unit, values)
                except UnitError:
                    return None
                if not np.isfinite(values).all():
                    return None
            times = column.times
            if (int(times.max()) - received_us) / 1_000_000 > max_future:
                return None
            if (received_us - int(times.min())) // 86_400_000_000 > max_age_days:
                return None
            # read-only: subscribers share these arrays (np.asarray of a NumberColumn)
            times.setflags(write=False)
            values.setflags(write=False)
            columns.append(Column(column.twin_id, column.kind, column.name, target, times, values))
        return columns

    def _store(self, outcomes: list[Outcome], now: datetime) -> tuple[int, int]:
        points: list[tuple[str, str, HistoryKind, datetime, Any]] = []
        columns: list[tuple[str, str, HistoryKind, Times, Floats]] = []
        properties: list[IngestedProperty] = []
        property_columns: list[IngestedColumn] = []
        # Telemetry per message, twin, component and source time, or for columns per
        # message, twin and component. One event per message, twin and component: a
        # TelemetryReceived when there is one sample time, a TelemetrySeries when several.
        telemetry: dict[tuple[int, str, str | None, datetime | None], dict[str, Any]] = {}
        series: dict[tuple[int, str, str | None], list[tuple[str, Times, Floats]]] = {}
        for index, outcome in enumerate(outcomes):
            for value, target, raw, time in outcome.values:
                points.append((value.twin_id, value.name, value.kind, time, raw))
                if value.kind == "property":
                    properties.append(
                        IngestedProperty(
                            value.twin_id,
                            target.component,
                            target.name,
                            raw,
                            time,
                            value.time is not None,
                        )
                    )
                else:
                    key = (index, value.twin_id, target.component, value.time)
                    telemetry.setdefault(key, {})[target.name] = raw
            for column in outcome.columns:
                target = column.target
                kind: HistoryKind = "property" if column.kind == "property" else "telemetry"
                columns.append((column.twin_id, column.name, kind, column.times, column.values))
                if kind == "property":
                    property_columns.append(
                        IngestedColumn(
                            column.twin_id,
                            target.component,
                            target.name,
                            NumberColumn[int](column.times),
                            NumberColumn[float](column.values),
                        )
                    )
                else:
                    series.setdefault((index, column.twin_id, target.component), []).append(
                        (target.name, column.times, column.values)
                    )
        if points or columns:
            self._history.append_rows(points, columns)
        stats = (
            self._graph.apply_ingested(properties, property_columns)
            if properties or property_columns
            else None
        )
        if telemetry:
            self._publish_telemetry(outcomes, telemetry, now)
        for (index, twin_id, component), named in series.items():
            self._publish_series(outcomes[index].message, twin_id, component, named, now)
        return (stats.late, stats.duplicates) if stats else (0, 0)

    def _model(self, twin_id: str) -> str:
        twin = self._graph.index.twin(twin_id)
        return str(twin["$metadata"]["$model"]) if twin is not None else ""

    def _publish_telemetry(
        self,
        outcomes: list[Outcome],
        telemetry: dict[tuple[int, str, str | None, datetime | None], dict[str, Any]],
        now: datetime,
    ) -> None:
        """Values read one by one: one event per message, twin, component and source time,
        except that samples of several source times in one message (a pack the column
        road did not take) are one series, as they would have been by that road."""
        groups: dict[tuple[int, str, str | None], int] = {}
        for index, twin_id, component, _ in telemetry:
            key = (index, twin_id, component)
            groups[key] = groups.get(key, 0) + 1
        gathered: dict[
            tuple[int, str, str | None], list[tuple[str, Sequence[int], Sequence[Any]]]
        ] = {}
        models: dict[str, str] = {}
        for (index, twin_id, component, source_time), payload in telemetry.items():
            message = outcomes[index].message
            if source_time is not None and groups[(index, twin_id, component)] > 1:
                named = gathered.setdefault((index, twin_id, component), [])
                us = (source_time - _EPOCH) // _US
                named.extend((name, [us], [raw]) for name, raw in payload.items())
                continue
            model = models.get(twin_id)
            if model is None:
                model = models[twin_id] = self._model(twin_id)
            self._bus.publish(
                TelemetryReceived(
                    twin_id,
                    model,
                    component,
                    f"{message.source}:{message.address}",
                    payload,
                    now,
                    source_time,
                    recorded=True,
                )
            )
        for (index, twin_id, component), named in gathered.items():
            self._publish_series(outcomes[index].message, twin_id, component, named, now)

    def _publish_series(
        self,
        message: RawMessage,
        twin_id: str,
        component: str | None,
        named: Sequence[_Named],
        now: datetime,
    ) -> None:
        times, values = align(named)
        model = self._model(twin_id)
        message_id = f"{message.source}:{message.address}"
        if len(times) == 1:
            payload = {name: column[0] for name, column in values.items()}
            self._bus.publish(
                TelemetryReceived(
                    twin_id,
                    model,
                    component,
                    message_id,
                    payload,
                    now,
                    _EPOCH + timedelta(microseconds=times[0]),
                    recorded=True,
                )
            )
            return
        self._bus.publish(
            TelemetrySeries(twin_id, model, component, message_id, now, times, values, True)
        )


_Named = tuple[str, Sequence[int] | Times, Sequence[Any] | Floats]
"""A name's samples: its times (µs) and values, as lists or as arrays."""


def align(
    named: Sequence[_Named],
) -> tuple[Sequence[int], dict[str, Sequence[Any]]]:
    """Columns of several names on one ascending time axis without repeats, ``None`` where a
    name has no sample at a time; a name with two samples at one time keeps the later one
    (the event shows what the message said last, as one event per time did).

    The common cases cost no per-sample Python: one name with ascending times, or several
    names sharing the same ascending times. Columns that came as arrays are checked as
    arrays and handed on as :class:`~twinsight.core.columns.NumberColumn`, so nobody turns
    them into Python numbers unless a subscriber reads them."""
    first_times = named[0][1]
    if isinstance(first_times, np.ndarray):
        if bool((first_times[1:] > first_times[:-1]).all()) and all(
            times is first_times
            or (isinstance(times, np.ndarray) and np.array_equal(times, first_times))
            for _, times, _ in named[1:]
        ):
            return NumberColumn[int](first_times), {
                name: _as_sequence(values) for name, _, values in named
            }
    elif len(first_times) > _ARRAY_CHECK:  # one pass in C rather than a Python step per time
        stamps = np.asarray(first_times, dtype=np.int64)
        if bool((stamps[1:] > stamps[:-1]).all()) and all(
            _same(times, first_times) for _, times, _ in named[1:]
        ):
            return first_times, {name: _as_sequence(values) for name, _, values in named}
    elif all(a < b for a, b in pairwise(first_times)) and all(
        _same(times, first_times) for _, times, _ in named[1:]
    ):
        return first_times, {name: _as_sequence(values) for name, _, values in named}
    lists = [(name, _as_sequence(times), _as_sequence(values)) for name, times, values in named]
    axis = sorted({t for _, times, _ in lists for t in times})
    position = {t: i for i, t in enumerate(axis)}
    out: dict[str, list[Any]] = {}
    for name, times, values in lists:
        column = out.get(name) or [None] * len(axis)
        for t, v in zip(times, values, strict=True):
            column[position[t]] = v
        out[name] = column
    return axis, dict(out)


def _same(times: Sequence[int] | Times, first: Sequence[int]) -> bool:
    return not isinstance(times, np.ndarray) and times == first


def _as_sequence(values: Sequence[Any] | NDArray[Any]) -> Sequence[Any]:
    """A column as a sequence of Python values (an array wrapped, not converted)."""
    return NumberColumn[Any](values) if isinstance(values, np.ndarray) else values


class _Refused:
    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _is_integer_schema(schema: Schema) -> bool:
    return isinstance(schema, PrimitiveSchema) and schema.name in _INTEGERS


def coerce_text(text: str, schema: Schema) -> Any:
    """Text from a CSV column as the type its target schema wants."""
    name = schema.name if isinstance(schema, PrimitiveSchema) else None
    if isinstance(schema, EnumSchema):
        name = schema.value_schema
    try:
        if name in _INTEGERS:
            return int(text)
        if name in _FLOATS:
            number = float(text)
            return number if math.isfinite(number) else _Refused(f"{text!r} is not finite")
    except ValueError:
        return _Refused(f"{text!r} is not a {name}")
    if name == "boolean":
        lowered = text.strip().lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        return _Refused(f"{text!r} is not a boolean (true/false/1/0)")
    return text


def rule_limits(mapping: Mapping | None) -> tuple[float, float]:
    """(most seconds a source time may be ahead of arrival, most days it may be behind)."""
    if mapping is None:
        return (300.0, 3650.0)
    return (mapping.spec.max_future_seconds, mapping.spec.max_age_days)
