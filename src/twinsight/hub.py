"""The one root object: it owns the clock, the storage and the services, and is passed
explicitly to whatever needs them (no module-level state), so tests and what-if runs can
start many hubs side by side.

>>> with Hub() as hub:          # in memory: nothing touches the disk
...     len(hub.models)
0
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping as ReadOnly
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

from twinsight.analytics.alarms import AlarmService
from twinsight.analytics.monitoring import MonitoringRunner, MonitoringSpec
from twinsight.analytics.monitoring.check import check_against_models
from twinsight.analytics.registry import ModelRegistry
from twinsight.analytics.registry_derived import DerivedValues
from twinsight.control.actions import Guard
from twinsight.control.commands import CommandService
from twinsight.control.delivery import Delivery, DeliverySettings, DeviceTopics
from twinsight.control.guards import build_guards
from twinsight.control.guards_config import GuardSpec, check_guards
from twinsight.control.guards_state import TwinState
from twinsight.control.rules import RuleEngine
from twinsight.control.rules_config import LoadedRules, check_rules, refused_by_guards
from twinsight.control.simulate_first import SimulateFirstGuard
from twinsight.core.clock import Clock, WallClock
from twinsight.core.errors import Conflict
from twinsight.core.events import EventBus
from twinsight.graph.service import TwinGraph
from twinsight.history import History, Recorder, RetentionPolicy
from twinsight.ingest.deadletters import DeadLetters
from twinsight.ingest.flood import FloodGuard
from twinsight.ingest.mapping import Mapping
from twinsight.ingest.pipeline import IngestPipeline
from twinsight.models.repository import ModelRepository
from twinsight.security import TokenService
from twinsight.sim.parameters import ParameterVersions
from twinsight.sim.scenarios import ScenarioService
from twinsight.sim.spec import SimulationSpec
from twinsight.store.sqlite import Database, SqliteModelStore, SqliteTwinStore
from twinsight.store.sqlite.actions import SqliteActionStore
from twinsight.store.sqlite.alarms import SqliteAlarmStore
from twinsight.store.sqlite.deadletters import SqliteDeadLetterStore
from twinsight.store.sqlite.history import SqliteHistoryStore
from twinsight.store.sqlite.model_registry import SqliteModelRegistryStore
from twinsight.store.sqlite.parameter_versions import SqliteParameterVersionStore
from twinsight.store.sqlite.rules import SqliteRuleStore
from twinsight.store.sqlite.scenarios import SqliteScenarioStore
from twinsight.store.sqlite.tokens import SqliteTokenStore
from twinsight.store.sqlite.webhooks import SqliteWebhookStore
from twinsight.streams import LiveStreams
from twinsight.streams.http_sender import HttpxSender
from twinsight.streams.quality import QualityConfig, QualityTracker
from twinsight.streams.webhooks import RetryPolicy, Webhooks

if TYPE_CHECKING:  # the MPC (SciPy's optimisers) is loaded only when it is started
    from twinsight.control.mpc_schedule import LineMpcScheduler, LineMpcSettings


class Lifecycle(Protocol):
    """Something the hub starts and stops (a connector, an embedded broker)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


DATABASE_FILE = "twinsight.db"
NO_SIMULATION = (
    "no world is simulated on this hub: what-if scenarios and sweeps need a simulation "
    "spec (set hub.simulation; the CLI takes --world)"
)
HISTORY_FILE = "history.db"


class Hub:
    """Wires the embedded defaults together: one SQLite file in ``data_dir`` (or memory)."""

    _scenarios: ScenarioService | None = None

    def __init__(
        self,
        data_dir: Path | str | None = None,
        *,
        clock: Clock | None = None,
        durable: bool = False,
        retention: Sequence[RetentionPolicy] = (),
        mapping: Mapping | None = None,
        flood: FloodGuard | None = None,
        quality: QualityConfig | None = None,
        webhook_retry: RetryPolicy | None = None,
    ) -> None:
        self.clock: Clock = clock or WallClock()
        self.data_dir = Path(data_dir) if data_dir is not None else None
        db_path = self.data_dir / DATABASE_FILE if self.data_dir is not None else ":memory:"
        self.db = Database(db_path, durable=durable)
        self.bus = EventBus()
        self.models = ModelRepository(SqliteModelStore(self.db), self.clock)
        self.twins = TwinGraph(self.models, SqliteTwinStore(self.db), self.bus, self.clock)
        self._token_store = SqliteTokenStore(self.db)
        self.tokens = TokenService(self._token_store, self.clock)
        # History has its own file so big batches never hold the twin database's lock, and a
        # second connection so queries run while a batch commits (see store/sqlite/history).
        if self.data_dir is not None:
            history_path = self.data_dir / HISTORY_FILE
            history_store = SqliteHistoryStore(
                Database(history_path, durable=durable), Database(history_path)
            )
        else:
            history_store = SqliteHistoryStore(Database(":memory:"))
        self.history = History(history_store, self.clock, retention)
        self.recorder = Recorder(history_store, self.bus, on_idle=self.history.apply_retention)
        self.ingest = IngestPipeline(
            self.twins,
            self.history,
            SqliteDeadLetterStore(self.db),
            self.bus,
            self.clock,
            mapping=mapping,
            flood=flood,
        )
        self.dead_letters = DeadLetters(SqliteDeadLetterStore(self.db), self.ingest)
        # How this world's twins are simulated (set by a scenario world or the user): live
        # simulation, what-if scenarios and sweeps start from it.
        self.simulation: SimulationSpec | None = None
        # Calibrated model parameters, versioned per twin and model (see docs/estimation.md).
        self.parameters = ParameterVersions(SqliteParameterVersionStore(self.db), self.clock)
        # Alarms on twins, durable, each transition an event (docs/alarms.md).
        self.alarms = AlarmService(SqliteAlarmStore(self.db), self.bus, self.clock)
        # Detectors and limits watching live streams, raising those alarms: off until a
        # monitoring file is given (start_monitoring).
        self.monitoring: MonitoringRunner | None = None
        # Trained models (RUL, detectors, forecasters) by version, attached to twins or
        # DTDL models, and which version produced each derived value (docs/registry.md).
        self.registry = ModelRegistry(
            SqliteModelRegistryStore(self.db), self.clock, target_exists=self._target_exists
        )
        self.derived = DerivedValues(self.bus)
        # Commands and desired values to devices, guarded, approved, audited
        # (docs/control.md); delivered once start_command_delivery has a broker.
        self.actions = CommandService(
            SqliteActionStore(self.db), self.bus, self.clock, self.twins, self.models
        )
        # Safety guards and rules from their files (docs/guards.md, docs/rules.md): off
        # until start_guards / start_rules.
        self.guard_spec: GuardSpec | None = None
        self._guards: list[Guard] = []
        self.rules: RuleEngine | None = None
        # Live-data connectors (MQTT, CoAP, embedded broker) feeding self.ingest; the hub
        # owns their lifecycle: started by the server, stopped first on close.
        self.connectors: list[Lifecycle] = []
        # Live streams (WebSocket/SSE) are a read model of the bus: see docs/streams.md.
        self.streams = LiveStreams(self.bus, self.models, self.twins)
        self.quality = QualityTracker(
            self.bus,
            self.clock,
            config=quality,
            model_of=self.streams.model_of,
            lineage=self.streams.lineage,
        )
        self.webhooks = Webhooks(
            SqliteWebhookStore(self.db),
            self.streams,
            HttpxSender(),
            self.clock,
            retry=webhook_retry,
        )

    def require_simulation(self) -> SimulationSpec:
        """:attr:`simulation`, or a 409 ``NoSimulation`` saying how to give the hub one:
        what-if scenarios, calibrations and the simulation catalogue all need it."""
        if self.simulation is None:
            raise Conflict(NO_SIMULATION, code="NoSimulation")
        return self.simulation

    @property
    def scenarios(self) -> ScenarioService:
        """What-if scenarios of :attr:`simulation` (docs/scenarios.md), made on first use."""
        spec = self.require_simulation()
        if self._scenarios is None or self._scenarios.spec is not spec:
            store = SqliteScenarioStore(self.db)
            self._scenarios = ScenarioService(
                self.twins, self.history, spec, store, self.clock, self.parameters
            )
        return self._scenarios

    def _target_exists(self, kind: str, target: str) -> bool:
        if kind == "twin":
            return self.twins.index.twin(target) is not None
        return target in self.models

    def start_connectors(self, connectors: Sequence[Lifecycle]) -> None:
        """Start ``connectors`` in order and own them; if one fails, those started are
        stopped again and the error propagates (all or nothing, like a start-up)."""
        started: list[Lifecycle] = []
        try:
            for connector in connectors:
                connector.start()
                started.append(connector)
        except BaseException:
            for connector in reversed(started):
                connector.stop()
            raise
        self.connectors.extend(started)

    def start_monitoring(self, spec: MonitoringSpec) -> MonitoringRunner:
        """Run the monitors of ``spec`` on this hub's live events (replacing any running),
        after checking its names against the models (``MonitoringConfigError``); each
        detector monitor is a model version in :attr:`registry`, and ``publish`` scores
        are derived telemetry naming it."""
        check_against_models(spec, self._declared_names, self._model_of)
        if self.monitoring is not None:
            self.monitoring.close()
        self.monitoring = MonitoringRunner(
            spec,
            self.alarms,
            self.bus,
            twin_document=self.twins.index.twin,
            lineage=self.streams.lineage,
            registry=self.registry,
            publish=self._publish_derived,
        )
        return self.monitoring

    def _declared_names(self, model: str) -> dict[str, str] | None:
        """Telemetry and property names a model declares (components' as ``c.name``)."""
        models = self.models.model_set
        if model not in models:
            return None
        interface = models.interface(model)
        names = dict.fromkeys(interface.properties, "property")
        names.update(dict.fromkeys(interface.telemetries, "telemetry"))
        for component, definition in interface.components.items():
            if definition.schema in models:
                inner = models.interface(definition.schema)
                names.update({f"{component}.{n}": "telemetry" for n in inner.telemetries})
        return names

    def _model_of(self, twin_id: str) -> str | None:
        twin = self.twins.index.twin(twin_id)
        return twin["$metadata"]["$model"] if twin is not None else None

    def _publish_derived(
        self,
        twin_id: str,
        payload: ReadOnly[str, object],
        source_time: datetime,
        properties: ReadOnly[str, str],
    ) -> None:
        self.twins.publish_telemetry(
            twin_id,
            payload,
            message_id=f"derived-{uuid.uuid4().hex}",
            source_time=source_time,
            properties=properties,
        )

    def control_state(self) -> TwinState:
        """What guards and rules read of the live world (twins, history, alarms)."""
        return TwinState(self.twins, self.models, self.history, self.alarms)

    def start_guards(self, spec: GuardSpec, *, simulate: bool = True) -> list[Guard]:
        """Put the guards of ``spec`` in front of every action (replacing any started);
        ``simulate`` adds simulate-before-actuating (needs :attr:`simulation`)."""
        for guard in self._guards:
            self.actions.remove_guard(guard)
        state = self.control_state()
        check_guards(spec, state)
        self._guards = build_guards(spec, state, self.clock)
        if simulate:
            self._guards.append(SimulateFirstGuard(spec, state, lambda: self.scenarios, self.clock))
        for guard in self._guards:
            self.actions.add_guard(guard)
        self.guard_spec = spec
        return self._guards

    def start_rules(self, loaded: LoadedRules) -> RuleEngine:
        """Run the rules of ``loaded`` on the live bus, acting through :attr:`actions`
        (replacing any running)."""
        if self.rules is not None:
            self.rules.close()
        state = self.control_state()
        check_rules(loaded.spec, state)
        warnings = list(loaded.warnings)
        if self.guard_spec is not None:
            warnings += refused_by_guards(loaded.spec, self.guard_spec)
        self.rules = RuleEngine(
            loaded.spec,
            state,
            self.bus,
            SqliteRuleStore(self.db),
            self.clock,
            self.actions.submit,
            history=self.history,
            warnings=warnings,
        )
        return self.rules

    def start_line_mpc(self, settings: LineMpcSettings | None = None) -> LineMpcScheduler:
        """Run the line's MPC on the motor twins every control interval of plant time,
        submitting its moves as recommendations (docs/control-mpc.md); the hub stops it."""
        from twinsight.control.mpc_schedule import LineMpcScheduler, LineMpcSettings

        scheduler = LineMpcScheduler(
            settings or LineMpcSettings(),
            self.clock,
            self.actions,
            self.control_state(),
            self.history,
        )
        self.start_connectors([scheduler])
        return scheduler

    def start_command_delivery(
        self,
        broker_url: str,
        topics: DeviceTopics | None = None,
        settings: DeliverySettings | None = None,
        protocol: str = "auto",
    ) -> Delivery:
        """Deliver actions to devices over MQTT at ``broker_url`` (docs/control.md);
        ``protocol``: ``"auto"`` (MQTT 5 if the broker speaks it), ``"5"`` or ``"3.1.1"``."""
        from twinsight.ingest.connectors.mqtt_commands import MqttCommandTransport

        topics = topics or DeviceTopics()
        transport = MqttCommandTransport(
            broker_url, self.clock, prefix=topics.prefix, protocol=protocol
        )
        delivery = Delivery(transport, topics, settings)
        self.start_connectors([delivery])
        self.actions.attach_delivery(delivery)
        return delivery

    def close(self) -> None:
        """Flush and release everything the hub holds."""
        # Connectors first: they flush what they hold into the pipeline, which needs the
        # stores still open.
        while self.connectors:
            self.connectors.pop().stop()
        if self.monitoring is not None:
            self.monitoring.close()
        if self.rules is not None:
            self.rules.close()
        self.webhooks.close()
        self.streams.close()
        self.quality.close()
        self.derived.close()
        self.actions.close()
        self.recorder.close()
        self.history.store.close()
        self._token_store.close()
        self.db.close()

    def __enter__(self) -> Hub:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
