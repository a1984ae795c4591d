"""Linear time-invariant models, for the one filter that needs matrices: the linear
Kalman filter.

A model that is linear says so by providing :meth:`LinearModel.state_space`: its exact
discrete-time matrices for a step ``dt``. The linear filter then propagates the covariance
with those matrices instead of differentiating the model numerically (EKF) or pushing
sigma points through it (UKF): exact, and the cheapest of the three.

:class:`StateSpaceModel` is the ready-made such model, ``x' = A x + B u``, ``y = C x + D u``,
with matrices computed from its parameters (a thermal RC network, a mass-spring-damper).
It steps exactly for piecewise-constant inputs (zero-order hold), so a step of any length
is as accurate as many small ones.

>>> import numpy as np
>>> from twinsight.sim.model import ModelDescription, Variable
>>> cooling = StateSpaceModel(
...     ModelDescription("cooling", parameters=(Variable("tau", 10.0, min=0.1),),
...                      states=(Variable("T", 80.0),), inputs=(Variable("ambient", 20.0),),
...                      outputs=(Variable("temperature"),)),
...     lambda p: ([[-1 / p["tau"]]], [[1 / p["tau"]]], [[1.0]], [[0.0]]))
>>> cooling.advance(10.0); round(cooling.outputs()["temperature"], 3)  # 20 + 60 e^-1
42.073
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import expm

from twinsight.core.errors import SimulationError
from twinsight.sim.model import BaseModel, ModelDescription, SimulationModel

Matrix = NDArray[np.float64]
MatrixLike = Sequence[Sequence[float]] | NDArray[np.float64]
Matrices = Callable[[Mapping[str, float]], tuple[MatrixLike, MatrixLike, MatrixLike, MatrixLike]]
"""``matrices(parameters) -> (A, B, C, D)`` over the declared states, inputs and outputs."""


@dataclass(frozen=True, slots=True)
class DiscreteStateSpace:
    """``x[k+1] = F x[k] + G u[k]``, ``y[k] = H x[k] + D u[k]`` for one step, with rows and
    columns in the order the model's description declares states, inputs and outputs."""

    F: Matrix
    G: Matrix
    H: Matrix
    D: Matrix


@runtime_checkable
class LinearModel(SimulationModel, Protocol):
    """A simulation model that can give its exact discrete-time matrices."""

    def state_space(self, dt: float) -> DiscreteStateSpace: ...


def discretize(a: Matrix, b: Matrix, dt: float) -> tuple[Matrix, Matrix]:
    """``(F, G)`` of ``x' = A x + B u`` over ``dt`` with ``u`` held: the matrix exponential
    of the block matrix ``[[A, B], [0, 0]] dt`` (exact, also for a singular ``A``)."""
    n, m = a.shape[0], b.shape[1]
    block = np.zeros((n + m, n + m))
    block[:n, :n] = a
    block[:n, n:] = b
    exp = expm(block * dt)
    return np.asarray(exp[:n, :n], dtype=float), np.asarray(exp[:n, n:], dtype=float)


class StateSpaceModel(BaseModel):
    """A continuous linear model with matrices from its parameters, stepped exactly."""

    def __init__(self, description: ModelDescription, matrices: Matrices) -> None:
        super().__init__(description)
        self._matrices = matrices
        self._cache: dict[float, DiscreteStateSpace] = {}
        self._built_for: dict[str, float] = {}
        self._continuous = self._build()

    def _build(self) -> tuple[Matrix, Matrix, Matrix, Matrix]:
        d = self.description
        n, m, p = len(d.states), len(d.inputs), len(d.outputs)
        wanted = {"A": (n, n), "B": (n, m), "C": (p, n), "D": (p, m)}
        self._built_for = self.parameters()
        try:
            raw = self._matrices(self.parameters())
            arrays = [np.asarray(x, dtype=float) for x in raw]
        except (ArithmeticError, ValueError, TypeError, KeyError) as error:
            raise SimulationError(
                f"cannot compute its matrices: {type(error).__name__}: {error}", model=self.name
            ) from error
        shaped: list[Matrix] = []
        problems: list[str] = []
        for label, array in zip("ABCD", arrays, strict=True):
            rows, cols = wanted[label]
            if array.size != rows * cols:
                problems.append(f"{label} has shape {array.shape}, expected {(rows, cols)}")
            else:
                shaped.append(array.reshape(rows, cols))
        if problems:
            raise SimulationError("wrong matrix shapes: " + "; ".join(problems), model=self.name)
        if not all(np.isfinite(array).all() for array in shaped):
            raise SimulationError("its matrices are not finite", model=self.name)
        return shaped[0], shaped[1], shaped[2], shaped[3]

    def _parameters_changed(self, changed: Mapping[str, float]) -> None:
        # restore() sets every parameter; rebuild only when a value really changed.
        if self.parameters() != self._built_for:
            self._continuous = self._build()
            self._cache.clear()

    def state_space(self, dt: float) -> DiscreteStateSpace:
        """The exact one-step matrices for ``dt`` at the current parameters (cached)."""
        found = self._cache.get(dt)
        if found is None:
            a, b, c, d = self._continuous
            f, g = discretize(a, b, dt)
            if len(self._cache) > 64:
                self._cache.clear()
            found = self._cache[dt] = DiscreteStateSpace(f, g, c, d)
        return found

    def _vectors(self) -> tuple[Matrix, Matrix]:
        d = self.description
        x = np.array([self._state[v.name] for v in d.states], dtype=float)
        u = np.array([self._inputs[v.name] for v in d.inputs], dtype=float)
        return x, u

    def _advance(self, dt: float) -> None:
        ss = self.state_space(dt)
        x, u = self._vectors()
        new = ss.F @ x + ss.G @ u
        self._state.update(
            {v.name: float(value) for v, value in zip(self.description.states, new, strict=True)}
        )

    def _outputs(self) -> dict[str, float]:
        _, _, c, d = self._continuous
        x, u = self._vectors()
        y = c @ x + d @ u
        return {v.name: float(value) for v, value in zip(self.description.outputs, y, strict=True)}
