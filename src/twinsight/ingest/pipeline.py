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
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from twinsight.core.clock import Clock
from twinsight.core.errors import TwinsightError
from twinsight.core.events import EventBus, IngestBatch, TelemetryReceived
from twinsight.core.messages import IngestResult, RawMessage
from twinsight.core.ports import DeadLetter, DeadLetterStore, HistoryKind
from twinsight.graph.ingested import IngestedProperty, ValueTarget
from twinsight.graph.service import TwinGraph
from twinsight.history import History
from twinsight.ingest.flood import FloodGuard
from twinsight.ingest.mapping import MappedValue, Mapping
from twinsight.ingest.units import UnitError, converter
from twinsight.models.dtdl import EnumSchema, PrimitiveSchema, Schema, validate_value

log = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 1024 * 1024
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


@dataclass
class Outcome:
    """What became of one message: its accepted values and its problems."""

    message: RawMessage
    rule: str = ""
    values: list[tuple[MappedValue, ValueTarget, Any, datetime]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


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
        outcomes, stats = self._process(messages)
        self._publish_batch(outcomes)
        letters = [
            DeadLetter(
                0,
                o.message.source,
                o.message.address,
                o.message.payload,
                o.message.received,
                "; ".join(o.problems),
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
            values=sum(len(o.values) for o in outcomes),
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
                    (o.message.source, o.message.address, o.message.client, "; ".join(o.problems))
                    for o in outcomes
                    if o.problems
                ),
            )
        )

    def _process(self, messages: Sequence[RawMessage]) -> tuple[list[Outcome], tuple[int, int]]:
        now = self._clock.now()
        limits = rule_limits(self.mapping)
        # Each (twin, kind, name) is resolved once a batch: a batch is mostly the same few
        # series again and again. Only within a batch, so a model or twin changed between
        # batches is seen by the next one.
        targets: dict[tuple[str, str, str], ValueTarget | str] = {}
        with self._lock:
            outcomes = [self._map(message, now, limits, targets) for message in messages]
            late, duplicates = self._store(outcomes, now)
        return outcomes, (late, duplicates)

    def _map(
        self,
        message: RawMessage,
        now: datetime,
        limits: tuple[float, float],
        targets: dict[tuple[str, str, str], ValueTarget | str],
    ) -> Outcome:
        outcome = Outcome(message)
        if len(message.payload) > self.max_payload_bytes:
            outcome.problems.append(
                f"payload of {len(message.payload):,} bytes exceeds the limit of "
                f"{self.max_payload_bytes:,}"
            )
            return outcome
        if not self.flood.allow(message.client, now):
            outcome.problems.append(
                f"client {message.client!r} sent more than {self.flood.rate:g} messages/s; "
                "kept here unprocessed (replay it once the flood is over)"
            )
            return outcome
        found = self.mapping.find(message) if self.mapping is not None else None
        if found is None:
            outcome.problems.append(
                f"no mapping rule matches {message.source} address {message.address!r}"
            )
            return outcome
        rule, captures = found
        outcome.rule = rule.name
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
        key = (value.twin_id, value.kind, value.name)
        target = targets.get(key)
        if target is None:
            try:
                target = self._graph.value_target(value.twin_id, value.kind, value.name)
            except TwinsightError as exc:
                target = exc.message
            targets[key] = target
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

    def _store(self, outcomes: list[Outcome], now: datetime) -> tuple[int, int]:
        points: list[tuple[str, str, HistoryKind, datetime, Any]] = []
        properties: list[IngestedProperty] = []
        # one event per message, twin, component and source time: a SenML pack of timed
        # samples becomes one event per sample time, not one holding only the last sample
        telemetry: dict[tuple[int, str, str | None, datetime | None], dict[str, Any]] = {}
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
        if points:
            self._history.append_rows(points)
        stats = self._graph.apply_ingested(properties) if properties else None
        for (index, twin_id, component, source_time), payload in telemetry.items():
            message = outcomes[index].message
            twin = self._graph.index.twin(twin_id)
            model = twin["$metadata"]["$model"] if twin is not None else ""
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
        return (stats.late, stats.duplicates) if stats else (0, 0)


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
