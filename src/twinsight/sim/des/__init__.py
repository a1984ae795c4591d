"""Discrete-event models on SimPy behind the one model interface.

SimPy is imported only in this package (the layer rule in ``tests/test_architecture.py``):
:class:`DesModel` adapts it, :class:`ProductionLine` and :class:`QueueModel` are models, and
:class:`ConveyorLine` drives a production line by a belt's speed (the demo factory's
conveyors). :mod:`twinsight.sim.des.flow` is that conveyor line as a mean-value flow model
(no SimPy, no events: an ODE system that runs as a fleet), for bulk runs.
"""

from twinsight.sim.des.adapter import DesModel
from twinsight.sim.des.conveyor import ConveyorLine
from twinsight.sim.des.line import ProductionLine
from twinsight.sim.des.queue import QueueModel

__all__ = ["ConveyorLine", "DesModel", "ProductionLine", "QueueModel"]
