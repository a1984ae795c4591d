"""Reference physics models for the demo worlds, each an :class:`~twinsight.sim.ode.OdeSystem`
factory: a motor, a centrifugal pump, a tank, a battery pack and a building zone.

Each module documents its equations, and its parameters carry units, realistic defaults
and bounds, so a twin can use one as is and a calibration can fit one within reason.
The rhs and outputs functions broadcast, so every model runs as a fleet too.
"""

from collections.abc import Callable, Mapping
from types import MappingProxyType

from twinsight.sim.ode import OdeSystem
from twinsight.sim.physics.battery import battery_system
from twinsight.sim.physics.motor import motor_system
from twinsight.sim.physics.pump import pump_system
from twinsight.sim.physics.tank import tank_system
from twinsight.sim.physics.zone import zone_system

SYSTEMS: Mapping[str, Callable[[str], OdeSystem]] = MappingProxyType(
    {
        "motor": motor_system,
        "pump": pump_system,
        "tank": tank_system,
        "battery": battery_system,
        "zone": zone_system,
    }
)
"""Every reference system by kind: ``SYSTEMS["motor"]("motor-7")`` builds one."""

__all__ = [
    "SYSTEMS",
    "battery_system",
    "motor_system",
    "pump_system",
    "tank_system",
    "zone_system",
]
