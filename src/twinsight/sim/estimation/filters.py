"""The three Kalman filters, each a thin adapter over its filterpy class.

They share one small interface so the estimator (``estimator.py``) gates, counts and writes
back the same way whichever is chosen:

* ``predict(dt)`` moves the mean and covariance forward;
* ``innovation(rows, R)`` is the predicted measurement ``h(x)`` of the measured rows and
  its covariance ``S``, computed *before* anything is applied so outliers can be refused
  first;
* ``update(z, rows, R)`` applies the accepted measurements.

The model is reached only through :class:`ModelAccess`: a black-box transition
``f(x, dt)`` and measurement ``h(x)`` built from snapshot, set_state and advance.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from filterpy.kalman import (
    ExtendedKalmanFilter,
    KalmanFilter,
    MerweScaledSigmaPoints,
    UnscentedKalmanFilter,
    unscented_transform,
)
from numpy.typing import NDArray

from twinsight.core.errors import SimulationError
from twinsight.sim.estimation.linear import LinearModel

Vector = NDArray[np.float64]
Matrix = NDArray[np.float64]


class ModelAccess(Protocol):
    """What a filter needs from the model, as functions of the estimated vector."""

    def transition(self, x: Vector, dt: float) -> Vector:
        """The estimated values after ``dt`` from ``x`` (the model is left unchanged)."""
        ...

    def measure(self, x: Vector, rows: Sequence[int]) -> Vector:
        """The measured outputs (``rows`` of the measurement list) at ``x``, now."""
        ...

    def process_noise(self, dt: float) -> Matrix: ...


class Filter(Protocol):
    """The shared interface of the three adapters (see the module docstring)."""

    x: Vector
    P: Matrix

    def predict(self, dt: float) -> None: ...

    def innovation(self, rows: Sequence[int], r: Matrix) -> tuple[Vector, Matrix]:
        """``(h(x), S)`` for the measured ``rows`` with their noise ``r``."""
        ...

    def update(self, z: Vector, rows: Sequence[int], r: Matrix) -> None: ...


def _jacobian(f: _VectorFunction, x: Vector, relative_step: float) -> Matrix:
    """Central finite differences, with a step relative to each value's size (and at least
    ``relative_step`` absolute, so a value of zero still moves)."""
    columns = []
    for j in range(x.size):
        h = relative_step * max(1.0, abs(float(x[j])))
        up, down = x.copy(), x.copy()
        up[j] += h
        down[j] -= h
        columns.append((f(up) - f(down)) / (2 * h))
    return np.column_stack(columns) if columns else np.zeros((0, 0))


class _VectorFunction(Protocol):
    def __call__(self, x: Vector, /) -> Vector: ...


class LinearKalman:
    """The linear Kalman filter: the model's own exact matrices propagate mean and
    covariance. Only for a :class:`LinearModel` whose every state is estimated (and no
    parameter: estimating one makes the problem nonlinear)."""

    def __init__(
        self,
        model: LinearModel,
        access: ModelAccess,
        state_order: Sequence[int],
        output_order: Sequence[int],
        x: Vector,
        p: Matrix,
    ) -> None:
        self._model = model
        self._access = access
        self._states = list(state_order)
        self._outputs = list(output_order)
        self._kf = KalmanFilter(dim_x=x.size, dim_z=len(output_order), dim_u=0)
        self._kf.x = x.copy()
        self._kf.P = p.copy()

    @property
    def x(self) -> Vector:
        return np.asarray(self._kf.x, dtype=float)

    @x.setter
    def x(self, value: Vector) -> None:
        self._kf.x = value.copy()

    @property
    def P(self) -> Matrix:  # noqa: N802 - the name every Kalman text uses
        return np.asarray(self._kf.P, dtype=float)

    @P.setter
    def P(self, value: Matrix) -> None:  # noqa: N802
        self._kf.P = value.copy()

    def _inputs(self) -> Vector:
        inputs = self._model.inputs()
        return np.array([inputs[v.name] for v in self._model.description.inputs], dtype=float)

    def predict(self, dt: float) -> None:
        ss = self._model.state_space(dt)
        order = self._states
        f = ss.F[np.ix_(order, order)]
        g = ss.G[order, :]
        u = self._inputs()
        self._kf.predict(
            u=u if u.size else None, B=g if u.size else None, F=f, Q=self._access.process_noise(dt)
        )

    def _rows(self, rows: Sequence[int]) -> tuple[Matrix, Vector]:
        ss = self._model.state_space(1.0)  # H and D do not depend on the step
        outputs = [self._outputs[r] for r in rows]
        h = ss.H[np.ix_(outputs, self._states)]
        feedthrough = ss.D[outputs, :] @ self._inputs() if ss.D.size else np.zeros(len(rows))
        return h, np.asarray(feedthrough, dtype=float)

    def innovation(self, rows: Sequence[int], r: Matrix) -> tuple[Vector, Matrix]:
        h, feedthrough = self._rows(rows)
        return h @ self.x + feedthrough, h @ self.P @ h.T + r

    def update(self, z: Vector, rows: Sequence[int], r: Matrix) -> None:
        h, feedthrough = self._rows(rows)
        self._kf.update(z - feedthrough, R=r, H=h)


class ExtendedKalman:
    """The extended Kalman filter: the mean goes through the model itself, the covariance
    through Jacobians of the transition and of the measurement, taken by finite differences
    through the model (set_state -> advance -> state)."""

    def __init__(self, access: ModelAccess, x: Vector, p: Matrix, relative_step: float) -> None:
        self._access = access
        self._step = relative_step
        self._ekf = ExtendedKalmanFilter(dim_x=x.size, dim_z=1)
        self._ekf.x = x.copy()
        self._ekf.P = p.copy()

    @property
    def x(self) -> Vector:
        return np.asarray(self._ekf.x, dtype=float)

    @x.setter
    def x(self, value: Vector) -> None:
        self._ekf.x = value.copy()

    @property
    def P(self) -> Matrix:  # noqa: N802
        return np.asarray(self._ekf.P, dtype=float)

    @P.setter
    def P(self, value: Matrix) -> None:  # noqa: N802
        self._ekf.P = value.copy()

    def predict(self, dt: float) -> None:
        def f(x: Vector) -> Vector:
            return self._access.transition(x, dt)

        x = self.x
        self._ekf.F = _jacobian(f, x, self._step)
        self._ekf.Q = self._access.process_noise(dt)
        moved = f(x)

        def predict_x(u: object = 0) -> None:
            self._ekf.x = moved

        self._ekf.predict_x = predict_x
        self._ekf.predict()

    def _h(self, rows: Sequence[int]) -> _VectorFunction:
        def h(x: Vector) -> Vector:
            return self._access.measure(x, rows)

        return h

    def innovation(self, rows: Sequence[int], r: Matrix) -> tuple[Vector, Matrix]:
        h = self._h(rows)
        jac = _jacobian(h, self.x, self._step)
        return h(self.x), jac @ self.P @ jac.T + r

    def update(self, z: Vector, rows: Sequence[int], r: Matrix) -> None:
        h = self._h(rows)
        self._ekf.update(z, lambda x: _jacobian(h, x, self._step), h, R=r)


class UnscentedKalman:
    """The unscented Kalman filter: the model as a black box. A few sigma points around the
    mean (2n+1 for n estimated values) are each moved by the model; their weighted mean
    and spread are the prediction. No derivative is needed, so a model with saturations,
    switches or an FMU inside works as well as a smooth one."""

    def __init__(self, access: ModelAccess, x: Vector, p: Matrix, measurements: int) -> None:
        self._access = access
        points = MerweScaledSigmaPoints(n=x.size, alpha=1e-1, beta=2.0, kappa=3.0 - x.size)
        self._ukf = UnscentedKalmanFilter(
            dim_x=x.size,
            dim_z=max(1, measurements),
            dt=1.0,
            hx=access.measure,
            fx=access.transition,
            points=points,
        )
        self._ukf.x = x.copy()
        self._ukf.P = p.copy()

    @property
    def x(self) -> Vector:
        return np.asarray(self._ukf.x, dtype=float)

    @x.setter
    def x(self, value: Vector) -> None:
        self._ukf.x = value.copy()

    @property
    def P(self) -> Matrix:  # noqa: N802
        return np.asarray(self._ukf.P, dtype=float)

    @P.setter
    def P(self, value: Matrix) -> None:  # noqa: N802
        self._ukf.P = value.copy()

    def predict(self, dt: float) -> None:
        self._ukf.Q = self._access.process_noise(dt)
        try:
            self._ukf.predict(dt=dt)
        except np.linalg.LinAlgError as error:
            raise SimulationError(f"the UKF covariance is no longer positive: {error}") from error

    def _refresh(self) -> None:
        # filterpy keeps the sigma points of the last prediction; after an update (or a
        # second update at the same time) they no longer describe x and P.
        self._ukf.sigmas_f = self._ukf.points_fn.sigma_points(self._ukf.x, self._ukf.P)

    def innovation(self, rows: Sequence[int], r: Matrix) -> tuple[Vector, Matrix]:
        self._refresh()
        sigmas_h = np.atleast_2d([self._access.measure(s, rows) for s in self._ukf.sigmas_f])
        mean, s = unscented_transform(sigmas_h, self._ukf.Wm, self._ukf.Wc, r)
        return np.asarray(mean, dtype=float), np.asarray(s, dtype=float)

    def update(self, z: Vector, rows: Sequence[int], r: Matrix) -> None:
        self._refresh()
        self._ukf.update(z, R=r, rows=list(rows))
