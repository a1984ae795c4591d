"""Simulation: one model interface (ODE, FMU, discrete-event, plain functions), models bound
to twins, co-simulation through the graph, state estimation, calibration and what-if runs.
"""

from twinsight.sim.model import BaseModel, ModelDescription, SimulationModel, Snapshot, Variable

__all__ = ["BaseModel", "ModelDescription", "SimulationModel", "Snapshot", "Variable"]
