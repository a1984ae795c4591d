"""State estimation: Kalman filters (linear, extended, unscented) that keep a simulation
model in step with live data, and virtual sensors for what is not measured.

filterpy is imported only in this package (the architecture test checks it).
"""

from twinsight.sim.estimation.config import (
    EstimatedState,
    EstimatorBinding,
    EstimatorConfig,
    Measurement,
    Method,
)
from twinsight.sim.estimation.estimator import Estimate, StateEstimator, UpdateResult
from twinsight.sim.estimation.linear import (
    DiscreteStateSpace,
    LinearModel,
    StateSpaceModel,
    discretize,
)

__all__ = [
    "DiscreteStateSpace",
    "Estimate",
    "EstimatedState",
    "EstimatorBinding",
    "EstimatorConfig",
    "LinearModel",
    "Measurement",
    "Method",
    "StateEstimator",
    "StateSpaceModel",
    "UpdateResult",
    "discretize",
]
