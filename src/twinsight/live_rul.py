"""Remaining useful life served live: every twin a RUL model is attached to gets
``remainingUsefulLife`` (with ``…Low``/``…High``, the 10–90 % interval; hours) as telemetry,
computed from its recent history, naming the model version that produced it.

For each twin the registry resolves the model (attached to the twin, or to its DTDL model
or one it extends; pinned or following the active version, looked up on every
prediction, so a version activated is used from the next prediction on). The twin's last
8 hours of ``vibration``, ``windingTemperature`` and ``speed`` are read from history as
10-minute means (in the model's units), and the model predicts from them. Predictions run
on a background thread on the hub's clock: every :attr:`LiveRul.period` of plant time per
twin, and sooner (at most every :attr:`LiveRul.min_gap`) when new telemetry arrives; a
twin with no usable history yet is skipped until it has some. The values are published
with :func:`~twinsight.core.provenance.produced_by`, so history, streams and
``GET /twins/{id}/derived`` say which version made them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np

from twinsight.analytics.rul import Array
from twinsight.analytics.rul_motor import (
    SEGMENT_CYCLES,
    STOPPED_RPM,
    MotorRulModel,
    Progress,
    train,
)
from twinsight.core.errors import TwinsightError
from twinsight.core.events import TelemetryReceived
from twinsight.core.periodic import Periodic
from twinsight.core.provenance import produced_by, producer
from twinsight.graph.validation import is_of_model
from twinsight.hub import Hub
from twinsight.ingest.units import converter

log = logging.getLogger(__name__)

MODEL_NAME = "motor-rul"
"""The name the motor RUL model is registered under."""
MOTOR_MODEL = "dtmi:twinsight:factory:Motor;1"
TELEMETRY = ("remainingUsefulLife", "remainingUsefulLifeLow", "remainingUsefulLifeHigh")


class LiveRul:
    """Predicts and publishes RUL for every twin ``name`` is attached to (see the module
    docstring). :meth:`tick` does one round on the hub's clock; :meth:`start` runs it on a
    background thread; the hub owns it like a connector."""

    def __init__(
        self,
        hub: Hub,
        name: str = MODEL_NAME,
        *,
        period: float = 600.0,
        min_gap: float = 60.0,
        interval: float = 0.5,
    ) -> None:
        self.hub = hub
        self.name = name
        self.period = timedelta(seconds=period)
        self.min_gap = timedelta(seconds=min_gap)
        self._last: dict[str, datetime] = {}
        self._fresh: set[str] = set()
        self._lock = threading.Lock()
        self._loop = Periodic(
            self.tick, interval=interval, name="twinsight-rul", what="remaining useful life"
        )
        self._warned: set[tuple[str, str]] = set()
        self._unsubscribe = hub.bus.subscribe(self._on_telemetry, TelemetryReceived)

    # ---------------------------------------------------------------- which twins

    def twins(self) -> dict[str, int]:
        """Every twin the model serves, with the version that serves it."""
        attachments = self.hub.registry.attachments(self.name)
        if not attachments:
            return {}
        index = self.hub.twins.index
        models = self.hub.models.model_set
        chains: dict[str, tuple[str, ...]] = {}
        for a in attachments:
            if a.target_kind == "twin":
                if index.twin(a.target) is not None:
                    chains.setdefault(a.target, ())
                continue
            for twin_id in index.twins_of_model(a.target):  # it and the models extending it
                chains.setdefault(twin_id, ())
        for twin_id in chains:
            twin = index.twin(twin_id)
            model = twin["$metadata"]["$model"] if twin is not None else ""
            chains[twin_id] = tuple(
                a.target
                for a in attachments
                if a.target_kind == "model" and is_of_model(models, model, a.target)
            )
        served = {}
        for twin_id, chain in chains.items():
            version = self.hub.registry.resolve(self.name, twin_id, chain)
            if version is not None:
                served[twin_id] = version
        return served

    # ---------------------------------------------------------------- predicting

    def _on_telemetry(self, event: TelemetryReceived) -> None:
        if producer(event.properties) is None:  # a sensor's, not our own predictions
            with self._lock:
                self._fresh.add(event.twin_id)

    def tick(self) -> int:
        """Predict for every served twin that is due; returns how many were published."""
        now = self.hub.clock.now()
        with self._lock:
            fresh, self._fresh = self._fresh, set()
        published = 0
        for twin_id, version in self.twins().items():
            last = self._last.get(twin_id)
            due = (
                last is None
                or now - last >= self.period
                or (twin_id in fresh and now - last >= self.min_gap)
            )
            if due and self.predict(twin_id, version, now):
                published += 1
        return published

    def predict(self, twin_id: str, version: int, now: datetime | None = None) -> bool:
        """Predict the twin's RUL with ``version`` and publish it; False when the twin has
        no usable history yet or the model cannot be used (logged once)."""
        now = now or self.hub.clock.now()
        try:
            model = self.hub.registry.load(self.name, version)
            if not isinstance(model, MotorRulModel):
                raise TwinsightError(
                    f"model {self.name} version {version} is not a motor RUL model "
                    f"({type(model).__name__})",
                    code="InvalidArgument",
                )
            cycles = self.recent_cycles(twin_id, model, now)
        except TwinsightError as error:
            self._warn(twin_id, f"no RUL for {twin_id}: {error.message}")
            return False
        if len(cycles) == 0:
            return False
        low, mid, high = model.predict_history(cycles)
        self.hub.twins.publish_telemetry(
            twin_id,
            dict(zip(TELEMETRY, (round(mid, 1), round(low, 1), round(high, 1)), strict=True)),
            message_id=f"rul:{self.name}:{version}",
            source_time=now,
            properties=produced_by(self.name, version),
        )
        self._last[twin_id] = now
        return True

    def recent_cycles(self, twin_id: str, model: MotorRulModel, now: datetime) -> Array:
        """The twin's last cycles (rows oldest first, the model's sensors in its units),
        only those where the motor turned; empty when there is no history yet."""
        span = timedelta(seconds=model.cycle_seconds * SEGMENT_CYCLES)
        names = [name for name, _ in model.sensors]
        known = {s.name for s in self.hub.history.series(twin=twin_id, kind="telemetry")}
        if not all(name in known for name in names):
            return np.zeros((0, len(names)))
        found = self.hub.history.aggregate(
            [(twin_id, name) for name in names],
            now - span,
            now + timedelta(microseconds=1),
            bucket=model.cycle_seconds,
        )
        columns: list[dict[datetime, float]] = []
        for name, unit in model.sensors:
            to_model = self._converter(twin_id, name, unit)
            columns.append(
                {
                    b.start: to_model(float(v))
                    for b in found[f"{twin_id}/{name}"]
                    if isinstance(v := b.values.get("avg"), int | float)
                }
            )
        starts = sorted(set.intersection(*(set(c) for c in columns)))
        rows = np.array([[c[t] for c in columns] for t in starts], dtype=np.float64)
        if len(rows) == 0:
            return np.zeros((0, len(names)))
        speed = names.index("speed") if "speed" in names else None
        if speed is not None:
            rows = rows[rows[:, speed] >= STOPPED_RPM]
        return rows

    def _converter(self, twin_id: str, name: str, unit: str) -> Callable[[float], float]:
        stored = self.hub.twins.value_target(twin_id, "telemetry", name).unit
        return converter(stored, unit) if stored else float

    def _warn(self, twin_id: str, message: str) -> None:
        key = (twin_id, message)
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message)

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()
        self._unsubscribe()


def start_live_rul(hub: Hub, name: str = MODEL_NAME) -> LiveRul | None:
    """Serve ``name`` live when it is attached to anything (the hub stops it on close)."""
    try:
        if not hub.registry.attachments(name):
            return None
    except TwinsightError:
        return None
    for running in hub.connectors:  # started already (the demo's training, then serve)
        if isinstance(running, LiveRul) and running.name == name:
            return running
    live = LiveRul(hub, name)
    hub.start_connectors([live])
    log.info("remaining useful life: model %s served live", name)
    return live


def register_motor_model(
    hub: Hub,
    *,
    motors: int = 400,
    held_out: int = 100,
    seed: int = 0,
    max_iter: int = 200,
    attach_to: str | None = MOTOR_MODEL,
    progress: Progress | None = None,
) -> tuple[int, dict[str, float]]:
    """Train the motor RUL model on simulated motors, register it as the next version of
    :data:`MODEL_NAME` (active) and attach it to ``attach_to`` (a DTDL model, when the hub
    has it and it is not attached yet); returns the version and its held-out metrics."""
    trained = train(motors, held_out=held_out, seed=seed, max_iter=max_iter, progress=progress)
    metrics = trained.evaluation.metrics()
    made = hub.registry.register(
        MODEL_NAME,
        "rul",
        trained.model,
        description="remaining useful life of an induction motor's bearing, hours, with a "
        "10-90 % interval, from vibration, winding temperature and speed",
        training=trained.training,
        metrics=metrics,
    )
    if attach_to is not None and attach_to in hub.models:
        attached = {(a.target_kind, a.target) for a in hub.registry.attachments(MODEL_NAME)}
        if ("model", attach_to) not in attached:
            hub.registry.attach(MODEL_NAME, "model", attach_to)
    return made.version, metrics


DEMO_MOTORS, DEMO_HELD_OUT, DEMO_MAX_ITER = 40, 10, 60
"""A small model, trained in seconds when a demo starts without one (``twinsight rul
train`` trains the full one: 400 motors)."""


def serve_demo_rul(hub: Hub) -> threading.Thread | None:
    """The demo's RUL: served at once when a version is registered (see
    :func:`start_live_rul`); otherwise a small model is trained on a background thread (the
    demo starts without waiting), registered, attached to the Motor model and then served.
    Returns that thread, or None when nothing had to be trained."""
    if hub.registry.names().count(MODEL_NAME):
        return None

    def work() -> None:
        try:
            version, metrics = register_motor_model(
                hub, motors=DEMO_MOTORS, held_out=DEMO_HELD_OUT, max_iter=DEMO_MAX_ITER
            )
            log.info(
                "trained %s version %d for the demo (held-out median error %.0f h, "
                "interval coverage %.0f %%); `twinsight rul train` trains a larger one",
                MODEL_NAME,
                version,
                metrics["median_abs_error_hours"],
                100 * metrics["interval_coverage"],
            )
            start_live_rul(hub)
        except Exception:  # the demo runs on without RUL; say why
            log.exception("could not train the demo's remaining-useful-life model")

    thread = threading.Thread(target=work, name="twinsight-rul-training", daemon=True)
    thread.start()
    return thread
