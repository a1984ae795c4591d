"""Discrete-event models on SimPy behind the one model interface.

SimPy is imported only in this package (the layer rule in ``tests/test_architecture.py``):
:class:`DesModel` adapts it, :class:`ProductionLine` and :class:`QueueModel` are models.
"""

from twinsight.sim.des.adapter import DesModel
from twinsight.sim.des.line import ProductionLine
from twinsight.sim.des.queue import QueueModel

__all__ = ["DesModel", "ProductionLine", "QueueModel"]
