"""Storage ports: the interfaces services use, implemented by backends in ``twinsight.store``.

Services depend on these protocols only; the hub picks the concrete backend (SQLite by
default). Every backend is run through the same parity tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol


@dataclass(frozen=True, slots=True)
class StoredModel:
    """One DTDL interface as the model repository keeps it.

    ``document`` is the interface's JSON exactly as uploaded (so it can be served back
    unchanged); everything else the repository needs is derived from it by parsing.
    """

    id: str
    document: dict[str, Any]
    upload_time: datetime
    decommissioned: bool = False


class ModelStore(Protocol):
    """Durable home of the model repository."""

    def load_models(self) -> list[StoredModel]:
        """Every stored model, oldest upload first."""
        ...

    def insert_models(self, models: Sequence[StoredModel]) -> None:
        """Store all of ``models`` in one transaction, or none of them.

        Raises :class:`~twinsight.core.errors.Conflict` with code ``ModelAlreadyExists`` when
        any id is already stored.
        """
        ...

    def set_decommissioned(self, model_id: str, decommissioned: bool) -> None:
        """Mark a stored model (not) decommissioned."""
        ...

    def delete_model(self, model_id: str) -> None:
        """Remove a stored model."""
        ...

    def close(self) -> None:
        """Release files and connections."""
        ...


class TwinStore(Protocol):
    """Durable home of twins and relationships.

    Each method is one transaction: when it returns, the change is in the log and survives
    the process being killed. The graph service keeps the live copy in memory and calls these
    before acknowledging a write.
    """

    def load(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Every stored twin document and every relationship document."""
        ...

    def put_twin(self, twin: dict[str, Any]) -> None: ...

    def put_twins(self, twins: Sequence[dict[str, Any]]) -> None:
        """Store many twin documents in one transaction (the ingest path batches)."""
        ...

    def delete_twin(self, twin_id: str) -> None: ...

    def put_relationship(self, relationship: dict[str, Any]) -> None: ...

    def delete_relationship(self, source_id: str, relationship_id: str) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class StoredToken:
    """One API token as the token store keeps it: never the token, only its SHA-256 hash.

    A leaked database therefore cannot be replayed against the server; the plaintext is shown
    once, when the token is created.
    """

    name: str
    token_hash: str
    scopes: frozenset[str]
    created: datetime
    revoked: bool = False


class TokenStore(Protocol):
    """Durable home of API bearer tokens (hashes, names and scopes)."""

    def insert_token(self, token: StoredToken) -> None:
        """Store a new token; raises :class:`~twinsight.core.errors.Conflict` with code
        ``TokenAlreadyExists`` when its name is taken."""
        ...

    def revoke_token(self, name: str) -> None:
        """Mark a token revoked; raises :class:`~twinsight.core.errors.NotFound` with code
        ``TokenNotFound`` when there is no token of that name."""
        ...

    def list_tokens(self) -> list[StoredToken]:
        """Every token, oldest first, revoked ones included."""
        ...

    def find_by_hash(self, token_hash: str) -> StoredToken | None:
        """The token whose hash is ``token_hash``, or ``None``."""
        ...

    def generation(self) -> int:
        """A number that changes whenever tokens may have been changed by someone else (for
        example the command line in another process), so callers can cache safely."""
        ...

    def close(self) -> None:
        """Release files and connections."""
        ...


# ----------------------------------------------------------------------------- history

HistoryValue = float | int | bool | str | dict[str, Any] | list[Any]
"""A recorded value: numbers (and booleans, counted as 0/1 by aggregates), text, or a JSON
object/array for object-typed properties."""

HistoryKind = Literal["property", "telemetry"]

AGGREGATE_FUNCTIONS = ("avg", "min", "max", "sum", "count", "first", "last")
"""What :meth:`HistoryStore.aggregate` computes per bucket. ``avg``/``min``/``max``/``sum``
use numeric values only (booleans as 0/1); ``count`` counts every point; ``first``/``last``
are the values at the earliest/latest time in the bucket, of any type."""


@dataclass(frozen=True, slots=True)
class SeriesKey:
    """One time series: a property or telemetry field of one twin.

    ``name`` is a path: ``temperature``, or ``bearing.wear`` for a property of the
    component ``bearing``, or ``gps.lat`` for a field nested in a telemetry payload.
    """

    twin_id: str
    name: str

    def __str__(self) -> str:
        return f"{self.twin_id}/{self.name}"


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    """One recorded value. ``time`` is the source time when the writer gave one, else the
    arrival time: the history is ordered by when things happened, not when we heard."""

    twin_id: str
    name: str
    kind: HistoryKind
    time: datetime
    value: HistoryValue


@dataclass(frozen=True, slots=True)
class SeriesInfo:
    """A series as listed: its key, its kind and how many points it holds (``count``,
    ``first`` and ``last`` are ``None`` when listed without statistics)."""

    twin_id: str
    name: str
    kind: HistoryKind
    count: int | None
    first: datetime | None
    last: datetime | None

    @property
    def key(self) -> SeriesKey:
        return SeriesKey(self.twin_id, self.name)


@dataclass(frozen=True, slots=True)
class Bucket:
    """The aggregates of one time bucket: ``start`` plus one value per asked function."""

    start: datetime
    values: dict[str, HistoryValue | None]


class HistoryStore(Protocol):
    """Durable home of the time series (see :mod:`twinsight.history`).

    Times are stored as integer microseconds since the epoch; a point is unique per
    (series, time), so a duplicate (same twin, name and time) is recorded once: the first
    write wins. Every backend is run through ``tests/history/test_store_parity.py``.
    """

    def append(self, points: Sequence[HistoryPoint]) -> int:
        """Record ``points`` in one transaction: durable when this returns. Returns how many
        were new (duplicates are skipped)."""
        ...

    def range(
        self,
        series: SeriesKey,
        start: datetime | None,
        end: datetime | None,
        *,
        limit: int,
        descending: bool = False,
    ) -> list[HistoryPoint]:
        """Points with ``start <= time < end`` in time order (newest first if
        ``descending``), at most ``limit``; an unknown series has none."""
        ...

    def latest(self, series: Sequence[SeriesKey]) -> list[HistoryPoint]:
        """The point with the newest time of each series that has one (in the given order)."""
        ...

    def aggregate(
        self,
        series: SeriesKey,
        start: datetime,
        end: datetime,
        bucket_seconds: float,
        functions: Sequence[str],
    ) -> list[Bucket]:
        """Per bucket of ``bucket_seconds`` aligned to the epoch, the ``functions`` (from
        :data:`AGGREGATE_FUNCTIONS`) of the points in ``[start, end)``; empty buckets are
        left out."""
        ...

    def list_series(
        self,
        *,
        twin_id: str | None = None,
        prefix: str | None = None,
        kind: HistoryKind | None = None,
        stats: bool = True,
    ) -> list[SeriesInfo]:
        """Known series, by twin then name, optionally of one twin, with names starting with
        ``prefix``, of one kind. ``stats=False`` skips counting points (which reads every
        point of every series listed), for callers that only need the keys."""
        ...

    def delete_before(self, cutoff: datetime, series: Sequence[SeriesKey] | None = None) -> int:
        """Remove points older than ``cutoff`` (of ``series``, or of all); returns how many."""
        ...

    def count(self, series: SeriesKey | None = None) -> int:
        """How many points are stored (in one series, or in all)."""
        ...

    def close(self) -> None:
        """Release files and connections."""
        ...


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message that could not be mapped or validated, kept with the reason."""

    id: int
    source: str
    address: str
    payload: bytes
    received: datetime
    reason: str
    client: str = ""
    mapping: str = ""
    status: str = "pending"
    """``pending``, ``replayed`` (re-submitted and accepted) or ``discarded``."""
    attempts: int = 0


class DeadLetterStore(Protocol):
    """Durable store of dead letters."""

    def add(self, letters: Sequence[DeadLetter]) -> list[int]:
        """Store letters (their ``id`` is ignored) in one transaction; return the new ids."""
        ...

    def get(self, letter_id: int) -> DeadLetter | None: ...

    def list_letters(
        self,
        *,
        status: str | None = None,
        source: str | None = None,
        address_prefix: str | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[DeadLetter]:
        """Letters in id order, filtered; page with ``after_id``."""
        ...

    def set_status(self, letter_ids: Sequence[int], status: str, reason: str | None = None) -> None:
        """Mark letters (and count an attempt); a new ``reason`` replaces the old one."""
        ...

    def count(self, status: str | None = None) -> int: ...

    def close(self) -> None: ...


# ----------------------------------------------------------------------------- webhooks


@dataclass(frozen=True, slots=True)
class WebhookRoute:
    """A declarative webhook: stream events passing ``filter`` are POSTed to ``url``.

    ``filter`` is the normalized JSON form of a stream filter (see ``twinsight.streams``);
    ``secret``, when set, signs each body with HMAC-SHA256. It is kept in clear because it
    is needed to sign, and never shown back by the API.
    """

    id: str
    url: str
    filter: dict[str, list[str]]
    secret: str | None
    enabled: bool
    created: datetime
    description: str = ""


@dataclass(frozen=True, slots=True)
class WebhookFailure:
    """A delivery that failed on every attempt (the webhook dead letter): the exact body
    that was sent, so re-sending it delivers the same events, and the last error."""

    id: int
    route_id: str
    body: bytes
    events: int
    attempts: int
    error: str
    status_code: int | None
    first_failed: datetime
    last_failed: datetime
    status: str = "pending"
    """``pending`` or ``delivered`` (re-sent successfully)."""


class WebhookStore(Protocol):
    """Durable home of webhook routes and their failed deliveries."""

    def put_route(self, route: WebhookRoute) -> None:
        """Insert or replace a route."""
        ...

    def get_route(self, route_id: str) -> WebhookRoute | None: ...

    def list_routes(self) -> list[WebhookRoute]:
        """Every route, oldest first."""
        ...

    def delete_route(self, route_id: str) -> bool:
        """Remove a route and its failures; ``False`` if there was none."""
        ...

    def add_failure(self, failure: WebhookFailure) -> int:
        """Store a failed delivery (its ``id`` is ignored); return the new id."""
        ...

    def get_failure(self, failure_id: int) -> WebhookFailure | None: ...

    def list_failures(
        self, route_id: str, *, status: str | None = None, after_id: int = 0, limit: int = 100
    ) -> list[WebhookFailure]:
        """A route's failures in id order, optionally of one status; page with ``after_id``."""
        ...

    def update_failure(self, failure: WebhookFailure) -> None:
        """Replace the stored failure with the same id (status, attempts, last error)."""
        ...

    def count_failures(self, route_id: str, status: str | None = None) -> int: ...

    def close(self) -> None: ...


# ----------------------------------------------------------------------------- scenarios


@dataclass(frozen=True, slots=True)
class StoredScenario:
    """One what-if scenario as the scenario store keeps it.

    The columns a listing needs are fields; everything else (the fork's model states, the
    changes, the horizon) is the JSON ``document`` the simulation layer writes and reads,
    so the store never has to follow that record's shape.
    """

    id: str
    name: str
    created: datetime
    status: str
    document: dict[str, Any]


class ScenarioStore(Protocol):
    """Durable home of what-if scenarios and their result series.

    Results are kept apart from live history on purpose: a scenario's simulated future must
    never be mistaken for what the plant did. Each run of a scenario (``baseline`` and
    ``scenario``) is a set of named series, each an opaque blob (the simulation layer packs
    float64 arrays), with the run's time offsets stored as one more series.
    """

    def put_scenario(self, scenario: StoredScenario) -> None:
        """Insert or replace a scenario's record."""
        ...

    def get_scenario(self, scenario_id: str) -> StoredScenario | None: ...

    def list_scenarios(self) -> list[StoredScenario]:
        """Every scenario, oldest first."""
        ...

    def delete_scenario(self, scenario_id: str) -> bool:
        """Remove a scenario and its results; ``False`` if there was none."""
        ...

    def put_results(self, scenario_id: str, run: str, series: dict[str, bytes]) -> None:
        """Replace every series of one run of a scenario, in one transaction."""
        ...

    def get_results(self, scenario_id: str, run: str) -> dict[str, bytes]:
        """The series of one run (empty when it has not run)."""
        ...

    def delete_results(self, scenario_id: str) -> None:
        """Remove every run's series of a scenario (the record stays)."""
        ...

    def close(self) -> None: ...


# ----------------------------------------------------------------------- parameter versions


@dataclass(frozen=True, slots=True)
class ParameterVersion:
    """One calibrated parameter set of one model on one twin. Versions count up from 1 per
    (twin, model) and are never changed afterwards, so a result can always name exactly
    the parameters it ran with; ``summary`` is the fit report's summary (or why else the
    values were set) and ``source`` says where they came from (``calibration``, ``manual``)."""

    twin_id: str
    model: str
    version: int
    parameters: dict[str, float]
    summary: dict[str, Any]
    source: str
    created: datetime


class ParameterVersionStore(Protocol):
    """Durable, append-only home of calibrated parameter versions."""

    def add_version(
        self,
        twin_id: str,
        model: str,
        parameters: dict[str, float],
        summary: dict[str, Any],
        source: str,
        created: datetime,
    ) -> ParameterVersion:
        """Store the next version (the latest + 1, or 1) in one transaction; return it."""
        ...

    def get_version(self, twin_id: str, model: str, version: int) -> ParameterVersion | None: ...

    def latest_version(self, twin_id: str, model: str) -> ParameterVersion | None: ...

    def list_versions(self, twin_id: str, model: str) -> list[ParameterVersion]:
        """Every version of a twin's model, oldest first."""
        ...

    def calibrated(self) -> list[tuple[str, str, int]]:
        """``(twin_id, model, latest version)`` of every twin model with a version."""
        ...

    def close(self) -> None: ...


# ----------------------------------------------------------------------------- alarms

AlarmState = Literal["raised", "acknowledged", "cleared"]
"""Where an alarm is in its lifecycle: ``raised`` (active, nobody has acknowledged it),
``acknowledged`` (active, an operator has seen it) or ``cleared`` (the condition is gone).
An alarm may clear before anyone acknowledged it: it is then ``cleared`` with no
``acknowledged_by`` ("cleared, unacknowledged") and can still be acknowledged once."""


@dataclass(frozen=True, slots=True)
class Alarm:
    """One alarm: condition ``condition`` (what is wrong, ``anomaly:vibration``,
    ``limit:level:high``) on twin ``twin_id``, reported by ``source`` (a detector and its
    version, or a limit). While active, a repeat of the same condition on the same twin
    updates this alarm (``count``, ``value``, ``last_time``) instead of making another.

    Times: ``raised``/``last_time``/``cleared`` are the data's source times when the
    reporter gave them; ``acknowledged`` is when the operator acknowledged."""

    id: str
    twin_id: str
    condition: str
    source: str
    severity: str
    message: str
    value: float | None
    state: AlarmState
    raised: datetime
    last_time: datetime
    count: int = 1
    cleared: datetime | None = None
    acknowledged: datetime | None = None
    acknowledged_by: str | None = None
    note: str = ""

    @property
    def active(self) -> bool:
        return self.state != "cleared"


class AlarmStore(Protocol):
    """Durable home of alarms. At most one *active* alarm per (twin, condition): the store
    refuses a second with :class:`~twinsight.core.errors.Conflict`."""

    def put_alarm(self, alarm: Alarm) -> None:
        """Insert or replace the alarm with this id, in one transaction."""
        ...

    def get_alarm(self, alarm_id: str) -> Alarm | None: ...

    def active_alarm(self, twin_id: str, condition: str) -> Alarm | None:
        """The active alarm of a condition on a twin, or ``None``."""
        ...

    def list_alarms(
        self,
        *,
        twin_id: str | None = None,
        states: Sequence[str] = (),
        severities: Sequence[str] = (),
        active_only: bool = False,
    ) -> list[Alarm]:
        """Matching alarms, newest raised first (an empty ``states``/``severities`` is any)."""
        ...

    def close(self) -> None: ...


# ---------------------------------------------------------------------------- rules


@dataclass(frozen=True, slots=True)
class RuleFiring:
    """One firing of a rule on a twin: what it asked (``kind`` ``command``, ``property``
    or ``notify``, ``name``, ``value``) and what came of it (``outcome``: ``submitted``,
    ``notified``, ``conflict`` — not sent, another rule set the same property otherwise in
    the same window —, ``failed``), with ``detail`` saying why."""

    id: str
    rule: str
    twin_id: str
    time: datetime
    kind: str
    name: str
    value: Any
    outcome: str
    detail: str = ""


class RuleStore(Protocol):
    """Durable home of rule firings and of which rules an operator disabled."""

    def put_firing(self, firing: RuleFiring) -> None: ...

    def list_firings(
        self, *, rule: str | None = None, twin_id: str | None = None, limit: int = 1000
    ) -> list[RuleFiring]:
        """Matching firings, newest first."""
        ...

    def set_enabled(self, rule: str, enabled: bool) -> None: ...

    def enabled_states(self) -> dict[str, bool]:
        """Rules switched on or off by an operator (others keep their file's setting)."""
        ...

    def close(self) -> None: ...


# ----------------------------------------------------------------------- model registry

ModelKind = Literal["detector", "rul", "forecaster", "physics"]
MODEL_KINDS: tuple[str, ...] = ("detector", "rul", "forecaster", "physics")


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One registered version of a named model (see :mod:`twinsight.analytics.registry`).

    Versions count up from 1 per name and are never changed afterwards; ``artefact`` is the
    trained model's bytes as Twinsight wrote them and ``digest`` their SHA-256, checked
    before they are loaded."""

    name: str
    version: int
    kind: str
    description: str
    training: dict[str, Any]
    metrics: dict[str, float]
    digest: str
    size: int
    created: datetime


@dataclass(frozen=True, slots=True)
class ModelAttachment:
    """A model attached to a twin (``target_kind`` ``twin``) or to every twin of a DTDL
    model (``model``); ``version`` ``None`` follows the model's active version."""

    name: str
    target_kind: Literal["twin", "model"]
    target: str
    version: int | None
    created: datetime


class ModelRegistryStore(Protocol):
    """Durable home of registered model versions, their artefacts, the active version of
    each name and the attachments. Versions are append-only."""

    def add_version(
        self,
        name: str,
        kind: str,
        description: str,
        training: dict[str, Any],
        metrics: dict[str, float],
        artefact: bytes,
        digest: str,
        created: datetime,
    ) -> ModelVersion:
        """Store the next version of ``name`` (the latest + 1, or 1) in one transaction."""
        ...

    def get_version(self, name: str, version: int) -> ModelVersion | None: ...

    def list_versions(self, name: str | None = None) -> list[ModelVersion]:
        """Every version (of ``name``), by name then version."""
        ...

    def artefact(self, name: str, version: int) -> bytes | None: ...

    def set_active(self, name: str, version: int) -> None: ...

    def active(self, name: str) -> int | None: ...

    def attach(self, attachment: ModelAttachment) -> None:
        """Add or replace the attachment of ``name`` to that target."""
        ...

    def detach(self, name: str, target_kind: str, target: str) -> bool: ...

    def attachments(self, name: str | None = None) -> list[ModelAttachment]: ...

    def close(self) -> None: ...


# ----------------------------------------------------------------------------- actions

ActionState = Literal[
    "refused",
    "pending_approval",
    "recommended",
    "rejected",
    "sent",
    "accepted",
    "done",
    "failed",
    "timed_out",
]
"""Where a command or desired-property action is (transitions in docs/control.md)."""


@dataclass(frozen=True, slots=True)
class ActionRecord:
    """One action as the command service keeps it: what was asked (``kind``, ``twin_id``,
    ``component``, ``name``, ``value``), by whom and why, what the guards said (``mode``,
    ``verdict``, ``prediction``), where it is (``state``) and what came back (``response``,
    ``error``). ``correlation_id`` is the id the device sees on every attempt."""

    id: str
    kind: str
    twin_id: str
    name: str
    value: Any
    requested_by: str
    reason: str
    state: ActionState
    created: datetime
    updated: datetime
    component: str | None = None
    mode: str = "auto"
    verdict: str = ""
    guard: str = ""
    prediction: dict[str, Any] | None = None
    decided_by: str | None = None
    attempts: int = 0
    response: Any = None
    error: str = ""
    topic: str = ""
    correlation_id: str = ""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the audit log: at ``time``, ``actor`` (a person, a rule, a device, the
    platform) did ``event`` to action ``action_id`` on twin ``twin_id`` because of
    ``detail``."""

    time: datetime
    action_id: str
    twin_id: str
    event: str
    actor: str
    detail: str = ""
    seq: int = 0


class ActionStore(Protocol):
    """Durable home of actions and the append-only audit log."""

    def put_action(self, record: ActionRecord, audit: AuditEntry | None = None) -> None:
        """Insert or replace the action (and append ``audit``) in one transaction."""
        ...

    def get_action(self, action_id: str) -> ActionRecord | None: ...

    def list_actions(
        self,
        *,
        twin_id: str | None = None,
        states: Sequence[str] = (),
        requested_by: str | None = None,
    ) -> list[ActionRecord]:
        """Matching actions, newest first (an empty ``states`` is any)."""
        ...

    def list_audit(
        self, *, twin_id: str | None = None, action_id: str | None = None
    ) -> list[AuditEntry]:
        """Audit entries, newest first."""
        ...

    def append_audit(self, entry: AuditEntry) -> None:
        """Append a decision that produced no action (``action_id`` empty)."""
        ...

    def close(self) -> None: ...
