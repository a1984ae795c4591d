"""Running a twin simulation in step with a clock.

Live on a wall clock, the simulation advances as real time passes; on a
:class:`~twinsight.core.clock.ScaledClock` it runs a set number of times faster; on a
:class:`~twinsight.core.clock.ManualClock` it runs exactly as far as the test or the
what-if moves the clock. Each communication step reads the bound inputs from the twins (a
setpoint an operator just wrote reaches the model), advances the co-simulation, and hands
the outputs to writers: straight onto the twins (:class:`TwinWriter`) or out through
virtual devices over MQTT (``twinsight.sim.devices``), exactly as a real plant would.

A model that fails stops this simulation only, with the reason kept in :attr:`error` and
logged; the twins and every other simulation carry on. A twin value a model cannot take as
input (a set-point outside the model's range, say) is not a failure of the plant: that one
input keeps its last accepted value, the refusal is logged once (and kept in
:attr:`LiveSimulation.refused_inputs`), and the run goes on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from twinsight.core.clock import Clock
from twinsight.core.errors import SimulationError, TwinsightError
from twinsight.graph.service import TwinGraph
from twinsight.sim.binding import GraphValues, Route, TwinSimulation, ValueReader, model_value
from twinsight.sim.model import SimulationModel

log = logging.getLogger(__name__)


class OutputWriter(Protocol):
    """Takes the outputs of one communication step (already in the twins' units)."""

    def write(self, when: datetime, values: Sequence[tuple[Route, float]]) -> None: ...


class TwinWriter:
    """Writes outputs onto the twins: telemetry through the graph's telemetry path (so it
    is recorded and streamed like a device's), properties through a JSON Patch."""

    def __init__(self, graph: TwinGraph, *, source: str = "sim") -> None:
        self._graph = graph
        self._source = source
        self._sequence = 0

    def write(self, when: datetime, values: Sequence[tuple[Route, float]]) -> None:
        telemetry: dict[str, dict[str, Any]] = {}
        patches: dict[str, list[dict[str, Any]]] = {}
        for route, value in values:
            if route.value.kind == "telemetry":
                telemetry.setdefault(route.twin, {})[route.value.path] = value
            else:
                path = "/" + route.value.path.replace(".", "/")
                patches.setdefault(route.twin, []).append(
                    {"op": "add", "path": path, "value": value}
                )
        for twin_id, payload in telemetry.items():
            self._sequence += 1
            self._graph.publish_telemetry(
                twin_id,
                payload,
                message_id=f"{self._source}-{self._sequence}",
                source_time=when,
            )
        for twin_id, ops in patches.items():
            self._graph.patch_twin(twin_id, ops)


class LiveSimulation:
    """Advances a :class:`TwinSimulation` on a fixed communication step as ``clock`` moves."""

    def __init__(
        self,
        simulation: TwinSimulation,
        graph: TwinGraph,
        clock: Clock,
        *,
        step: float,
        writers: Sequence[OutputWriter] = (),
        reader: ValueReader | None = None,
        start: datetime | None = None,
    ) -> None:
        if not step > 0:
            raise SimulationError(f"the communication step must be positive, got {step!r}")
        self.simulation = simulation
        self._clock = clock
        self._step = timedelta(seconds=step)
        self._h = float(step)
        self._writers = list(writers)
        self._reader = reader or GraphValues(graph)
        self.time: datetime = start or clock.now()
        """Simulated time reached (the last communication point)."""
        self.steps = 0
        self.error: SimulationError | None = None
        self.refused_inputs: dict[tuple[str, str], str] = {}
        """(twin, twin value) → why the model refused it; cleared once a value is taken."""

    def catch_up(self, max_steps: int | None = None) -> int:
        """Take every step whose end the clock has passed (at most ``max_steps``); return
        how many were taken. After a failure it takes none and keeps :attr:`error`."""
        if self.error is not None:
            return 0
        taken = 0
        now = self._clock.now()
        while self.time + self._step <= now and (max_steps is None or taken < max_steps):
            try:
                self._read_inputs()
                self.simulation.cosim.step(self._h)
                self.time += self._step
                self._write_outputs()
            except TwinsightError as error:
                self.error = (
                    error
                    if isinstance(error, SimulationError)
                    else SimulationError(error.message, code=error.code)
                )
                log.error("simulation stopped at %s: %s", self.time.isoformat(), error.message)
                break
            taken += 1
            self.steps += 1
        return taken

    def _read_inputs(self) -> None:
        """The bound inputs as the twins have them now (an operator who stops a motor stops
        its simulated pump). A value the model refuses is refused alone: see the module."""
        by_member: dict[str, dict[str, tuple[Route, float]]] = {}
        for route in self.simulation.inputs:
            value = model_value(route, self._reader.read(route.twin, route.value, None))
            if value is not None:
                by_member.setdefault(route.member, {})[route.variable] = (route, value)
        for member, routed in by_member.items():
            model = self.simulation.members[member]
            try:
                model.set_inputs({name: value for name, (_, value) in routed.items()})
            except SimulationError:
                for name, (route, value) in routed.items():
                    self._set_one_input(model, name, route, value)
                continue
            if self.refused_inputs:
                for route, _ in routed.values():
                    self._accepted(route)

    def _set_one_input(self, model: SimulationModel, name: str, route: Route, value: float) -> None:
        key = (route.twin, route.value.path)
        try:
            model.set_inputs({name: value})
        except SimulationError as error:
            if self.refused_inputs.get(key) != error.message:
                log.warning(
                    "simulation keeps the last accepted %s of twin %r: %s",
                    route.value.path,
                    route.twin,
                    error.message,
                )
            self.refused_inputs[key] = error.message
            return
        self._accepted(route)

    def _accepted(self, route: Route) -> None:
        if self.refused_inputs.pop((route.twin, route.value.path), None) is not None:
            log.info("simulation takes %s of twin %r again", route.value.path, route.twin)

    def outputs(self) -> list[tuple[Route, float]]:
        """The bound outputs now, converted into the twins' units."""
        cache: dict[str, dict[str, float]] = {}
        values: list[tuple[Route, float]] = []
        for route in self.simulation.outputs:
            produced = cache.get(route.member)
            if produced is None:
                produced = cache[route.member] = self.simulation.members[route.member].outputs()
            values.append((route, route.to_twin(produced[route.variable])))
        return values

    def _write_outputs(self) -> None:
        if not self._writers:
            return
        values = self.outputs()
        for writer in self._writers:
            writer.write(self.time, values)


class SimulationRunner:
    """Keeps a :class:`LiveSimulation` caught up from a background thread; the hub owns
    it like a connector (``start``/``stop``)."""

    def __init__(self, live: LiveSimulation, *, interval: float = 0.25) -> None:
        self.live = live
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="twinsight-sim", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            # Bounded so a far-behind clock cannot starve stop() for long.
            self.live.catch_up(max_steps=10_000)
            if self.live.error is not None:
                return
            self._stop.wait(self._interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.live.simulation.close()
