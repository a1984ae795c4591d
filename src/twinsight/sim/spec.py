"""What a world needs to be simulated, in one record.

A demo world (or a user's plant) declares it once: the catalogue of model factories, which
model simulates which twins, how twins are coupled through relationships, the communication
step, and how simulated devices publish. Live simulation, what-if scenarios and sweeps all
start from the same record, so a scenario simulates exactly what runs live.

Catalogue factories must be module-level functions (not lambdas) so that a sweep can send
the record to worker processes or to a cluster.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from twinsight.sim.binding import Coupling, FleetFactory, ModelBinding, ModelFactory
from twinsight.sim.cosim import Algorithm
from twinsight.sim.devices import DeviceProfile

if TYPE_CHECKING:  # the estimation package pulls in filterpy; a spec without estimators need not
    from twinsight.sim.estimation.config import EstimatorBinding


@dataclass(frozen=True, slots=True)
class SimulationSpec:
    """The models of a world and how they bind, couple and publish."""

    catalog: Mapping[str, ModelFactory]
    bindings: tuple[ModelBinding, ...]
    fleets: Mapping[str, FleetFactory] = field(default_factory=dict)
    """Vectorised factories, by the same catalogue names, for bindings with ``fleet=True``."""
    couplings: tuple[Coupling, ...] = ()
    step: float = 1.0
    """Communication step in seconds."""
    devices: tuple[DeviceProfile, ...] = ()
    algorithm: Algorithm = "gauss-seidel"
    description: str = ""
    record: tuple[str, ...] = field(default_factory=tuple)
    """Output names worth recording and comparing in what-if runs (all when empty)."""
    estimators: tuple[EstimatorBinding, ...] = ()
    """Live state estimators run beside the live simulation (docs/estimation.md): which
    twins, what is measured, and which unmeasured states are published as virtual sensors."""
