"""A state estimator running live on one twin.

It listens on the event bus for that twin's measured values (telemetry fields or property
changes named like the configuration's measurements) and for the values that drive model
inputs. Each new sample time moves the filter forward to that time (``predict`` by the
gap since the last sample, with the inputs that held during it), corrects it with what
was measured (``update``), then takes the new inputs. The virtual sensors (estimate and
``...Std``, and for measurements that ask for it the model's prediction before the update,
``...Predicted`` and ``...PredictedStd``) are published as telemetry of the twin through
:meth:`TwinGraph.publish_telemetry <twinsight.graph.service.TwinGraph.publish_telemetry>`,
at the sample's source time, so history records them and live streams carry them like any
sensor's values, with the producing model and version in the message's properties
(:mod:`twinsight.core.provenance`). Live values can be converted on the way in
(``convert``: a twin's unit to the model's, an operating state such as ``running`` to 1.0).

Time is the samples' own (source time, or arrival time when the device sent none), not
the wall clock: a replay or a late batch is filtered exactly as it happened. A sample
older than the last one is counted in ``late`` and skipped: a Kalman filter cannot go back.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from twinsight.core.errors import SimulationError
from twinsight.core.events import EventBus, TelemetryReceived, TwinChanged
from twinsight.core.ports import HistoryPoint
from twinsight.core.provenance import MODEL, MODEL_VERSION, produced_by
from twinsight.graph.service import TwinGraph
from twinsight.history.recorder import points_from_telemetry, points_from_twin_change
from twinsight.sim.estimation.estimator import StateEstimator, UpdateResult

log = logging.getLogger(__name__)


class LiveEstimator:
    """Keeps ``estimator`` in step with twin ``twin_id`` until :meth:`close`."""

    def __init__(
        self,
        twins: TwinGraph,
        bus: EventBus,
        twin_id: str,
        estimator: StateEstimator,
        *,
        publish: bool = True,
        convert: Mapping[str, Callable[[Any], float | None]] | None = None,
        producer: tuple[str, int] | None = None,
    ) -> None:
        twins.get_twin(twin_id)  # NotFound now rather than silence later
        self._convert = dict(convert or {})
        config = estimator.config
        self._measured = {m.name for m in config.measurements}
        self._inputs = dict(config.inputs)
        published = set(config.published)
        clash = sorted(published & (self._measured | set(self._inputs)))
        if clash:
            raise SimulationError(
                f"virtual sensor names {', '.join(clash)} are also measured or input names: "
                "the estimator would read back what it publishes",
                model=estimator.model.description.name,
            )
        self._twins = twins
        self._twin_id = twin_id
        self._estimator = estimator
        self._publish = publish and bool(published)
        self._properties = produced_by(
            *(producer or (estimator.model.description.name or "estimator", 1))
        )
        self._lock = threading.RLock()
        self._last: datetime | None = None
        self.samples = 0
        """Sample times filtered so far."""
        self.late = 0
        """Samples skipped because they were older than the last one."""
        self.failures = 0
        """Samples the model or the filter failed on (logged; the estimator carries on)."""
        self.last_result: UpdateResult | None = None
        self._unsubscribe: list[Callable[[], None]] = [
            bus.subscribe(self._on_twin, TwinChanged),
            bus.subscribe(self._on_telemetry, TelemetryReceived),
        ]

    @property
    def estimator(self) -> StateEstimator:
        return self._estimator

    @property
    def twin_id(self) -> str:
        return self._twin_id

    @property
    def producer(self) -> tuple[str, int]:
        """``(model, version)`` named in the provenance properties of what it publishes."""
        return self._properties[MODEL], int(self._properties[MODEL_VERSION])

    @producer.setter
    def producer(self, value: tuple[str, int]) -> None:
        self._properties = produced_by(*value)

    @property
    def last_time(self) -> datetime | None:
        """The source time the estimate is for."""
        return self._last

    def _on_twin(self, event: TwinChanged) -> None:
        if event.twin_id == self._twin_id:
            self._take(points_from_twin_change(event))

    def _on_telemetry(self, event: TelemetryReceived) -> None:
        if event.twin_id == self._twin_id:
            self._take(points_from_telemetry(event))

    def _value(self, point: HistoryPoint) -> float | None:
        """The point's value as the model takes it (converted when a conversion is given,
        else numbers as they are); ``None`` for anything else."""
        convert = self._convert.get(point.name)
        if convert is not None:
            return convert(point.value)
        value = point.value
        if isinstance(value, bool):
            return float(value)
        return float(value) if isinstance(value, int | float) else None

    def _take(self, points: Iterable[HistoryPoint]) -> None:
        by_time: dict[datetime, list[tuple[str, float]]] = {}
        for point in points:
            if point.name not in self._measured and point.name not in self._inputs:
                continue  # our own virtual sensors, and everything else, end here
            value = self._value(point)
            if value is not None:
                by_time.setdefault(point.time, []).append((point.name, value))
        if not by_time:
            return
        with self._lock:
            for time in sorted(by_time):
                self._sample(time, by_time[time])

    def _sample(self, time: datetime, points: list[tuple[str, float]]) -> None:
        if self._last is not None and time < self._last:
            self.late += 1
            return
        measurements = {name: value for name, value in points if name in self._measured}
        inputs = {self._inputs[name]: value for name, value in points if name in self._inputs}
        try:
            if self._last is not None:
                self._estimator.predict((time - self._last).total_seconds())
            self._last = time
            if measurements:
                self.last_result = self._estimator.update(measurements)
            if inputs:
                self._estimator.model.set_inputs(inputs)
        except SimulationError:
            self.failures += 1
            log.exception("state estimation of twin %s failed at %s", self._twin_id, time)
            return
        self.samples += 1
        if self._publish and measurements:
            self._twins.publish_telemetry(
                self._twin_id,
                self._estimator.virtual_sensors(),
                message_id=f"estimator-{self._twin_id}-{self.samples}",
                source_time=time,
                properties=self._properties,
            )

    def set_parameters(self, values: Mapping[str, float]) -> None:
        """Give the estimator's model new parameter values (a calibration saved while it
        runs), between two samples; values it estimates itself are left to the filter."""
        estimated = {s.name for s in self._estimator.config.states}
        model = self._estimator.model
        declared = {v.name for v in model.description.parameters}
        wanted = {k: v for k, v in values.items() if k in declared and k not in estimated}
        with self._lock:
            model.set_parameters(wanted)

    def close(self) -> None:
        """Stop listening (the estimator and its model stay as they are)."""
        while self._unsubscribe:
            self._unsubscribe.pop()()
