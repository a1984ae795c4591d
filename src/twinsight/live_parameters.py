"""A running simulation takes a newly saved parameter version at once.

Live runs are built with each twin's active calibrated parameters; a calibration (or a
rollback) while the platform runs saves a new version. This writer rides along the live
simulation's steps (like the device writers) and applies every version saved since the
last step, *in the simulation's own thread*, between two steps: a request thread never
touches a model while it is being stepped. A parameter the new version does not hold keeps
its current value until the simulation is started again.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Sequence
from datetime import datetime

from twinsight.core.errors import SimulationError
from twinsight.core.ports import ParameterVersion
from twinsight.sim.binding import Route, TwinSimulation
from twinsight.sim.parameters import ParameterVersions

log = logging.getLogger(__name__)


class ParameterUpdates:
    """An output writer that applies parameter versions saved while ``simulation`` runs."""

    def __init__(self, simulation: TwinSimulation, versions: ParameterVersions) -> None:
        self._simulation = simulation
        self._pending: queue.SimpleQueue[ParameterVersion] = queue.SimpleQueue()
        self.applied = 0
        """Versions applied so far."""
        self.unsubscribe = versions.subscribe(self._pending.put)

    def write(self, when: datetime, values: Sequence[tuple[Route, float]]) -> None:
        while True:
            try:
                version = self._pending.get_nowait()
            except queue.Empty:
                return
            self._apply(version)

    def _apply(self, version: ParameterVersion) -> None:
        if self._simulation.models.get(version.twin_id) != version.model:
            return  # another twin, or another model of it: not simulated here
        model, prefix = self._simulation.locate(version.twin_id)
        declared = {v.name for v in model.description.parameters}
        values = {
            prefix + name: value
            for name, value in version.parameters.items()
            if prefix + name in declared
        }
        try:
            model.set_parameters(values)
        except SimulationError as error:
            log.error(
                "parameter version %d of %s not applied to the live simulation: %s",
                version.version,
                version.twin_id,
                error.message,
            )
            return
        self.applied += 1
        log.info(
            "live simulation of %s now runs with parameter version %d",
            version.twin_id,
            version.version,
        )
