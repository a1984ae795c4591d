"""Model-predictive control: the best set-point trajectory over a horizon, from a model.

An optimiser that recommends set-points must say how sure it is, and must never hand out
a move it could not justify. Every solve here returns an :class:`MpcResult` whose
``status`` is one of

* ``optimal`` — the solver proved the moves optimal for the model over the horizon;
* ``feasible`` — the moves meet every constraint but the solver stopped short of proving
  them optimal (an iteration limit, a flat objective);
* ``infeasible`` — no moves within the bounds meet the constraints; ``constraint`` names
  the one that cannot be met (and by how much, where the solver can tell);
* ``invalid`` — the problem itself is wrong (a horizon of 0, bounds with min > max).

Only the first two carry moves: :meth:`MpcResult.first_move` is ``None`` otherwise, so an
infeasible problem never yields an action. Decision variables are set-point trajectories,
piecewise constant over the control intervals of the horizon, each within its bounds.

Two solvers, for the two kinds of model a twin has:

* :func:`solve_linear` — a linear (or linearised) discrete-time model
  :math:`x_{k+1} = A x_k + B u_k + E d_k + c` (see :func:`discretise`, which derives one
  from an :class:`~twinsight.sim.ode.OdeSystem` exactly, by the matrix exponential) with a
  linear cost and bands on states: a linear programme, solved exactly by HiGHS
  (``scipy.optimize.linprog``). A band may be hard or soft (a penalty per unit-hour
  outside it).
* :func:`solve_nonlinear` — any model behind a ``predict(moves)`` function (typically a
  :class:`~twinsight.sim.model.SimulationModel` run forward from a snapshot), an
  objective and upper limits on predicted outputs: SLSQP (``scipy.optimize.minimize``).

Receding horizon is the caller's loop: solve over the horizon from the measured state,
apply :meth:`MpcResult.first_move`, advance one interval, repeat.

>>> import numpy as np
>>> room = LinearModel(A=np.array([[0.9]]), B=np.array([[1.0]]), E=np.zeros((1, 0)),
...                    c=np.array([1.0]), states=("t",), controls=("heat",),
...                    disturbances=(), dt=3600.0)
>>> result = solve_linear(room, {"t": 10.0}, horizon=3, cost=[1.0, 1.0, 1.0],
...                       lower=[0.0], upper=[5.0], bands=[Band("t", lower=12.0)])
>>> result.status, [round(float(v), 3) for v in result.moves[:, 0]], result.first_move()
('optimal', [2.0, 0.2, 0.2], {'heat': 2.0})
>>> solve_linear(room, {"t": 10.0}, horizon=3, cost=[1.0] * 3, lower=[0.0], upper=[1.0],
...              bands=[Band("t", lower=30.0)]).constraint
't >= 30 at step 1 (t+1 h): short by 19 even with every control at its bound'
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy.linalg import expm
from scipy.optimize import linprog, minimize

from twinsight.sim.ode import OdeSystem

FloatArray = npt.NDArray[np.float64]
Status = Literal["optimal", "feasible", "infeasible", "invalid"]
ACTING: frozenset[str] = frozenset({"optimal", "feasible"})
"""The statuses whose moves may be applied."""


@dataclass(frozen=True)
class MpcResult:
    """One solve over a horizon (see the module docstring for the statuses).

    ``moves`` has one row per control interval and one column per control, in the order
    of ``controls``; ``predicted`` the model's trajectories under those moves (one value
    per interval end); ``message`` is the solver's own word.
    """

    status: Status
    message: str
    controls: tuple[str, ...] = ()
    moves: FloatArray | None = None
    objective: float | None = None
    predicted: Mapping[str, FloatArray] = field(default_factory=dict)
    constraint: str = ""
    solve_seconds: float = 0.0

    @property
    def acts(self) -> bool:
        """Whether the moves may be applied (optimal or feasible)."""
        return self.status in ACTING and self.moves is not None

    def first_move(self) -> dict[str, float] | None:
        """The set-points of the first interval, what receding horizon applies; ``None``
        unless the problem was solved (an infeasible problem never yields an action)."""
        if not self.acts or self.moves is None:
            return None
        return {
            name: float(value) for name, value in zip(self.controls, self.moves[0], strict=True)
        }


def _invalid(reason: str, controls: Sequence[str] = ()) -> MpcResult:
    return MpcResult("invalid", reason, tuple(controls), constraint=reason)


def check_bounds(
    controls: Sequence[str], lower: Sequence[float], upper: Sequence[float], horizon: int
) -> str:
    """Why a problem cannot be posed ('' when it can): a horizon under 1, bounds of the
    wrong length, or a control whose min exceeds its max."""
    if not isinstance(horizon, int) or horizon < 1:
        return f"the horizon must be at least 1 control interval, got {horizon!r}"
    if len(lower) != len(controls) or len(upper) != len(controls):
        return (
            f"bounds need one min and one max per control ({len(controls)}: "
            f"{', '.join(controls)}), got {len(lower)} and {len(upper)}"
        )
    for name, low, high in zip(controls, lower, upper, strict=True):
        if not (math.isfinite(low) and math.isfinite(high)):
            return f"bounds of {name!r} must be finite numbers, got [{low}, {high}]"
        if low > high:
            return f"bounds of {name!r} have min {low:g} > max {high:g}"
    return ""


# -- linear models ---------------------------------------------------------------------


@dataclass(frozen=True)
class LinearModel:
    """A discrete-time affine model :math:`x_{k+1} = A x_k + B u_k + E d_k + c` over
    control intervals of ``dt`` seconds: ``u`` the controls (decided), ``d`` the
    disturbances (forecast: weather, gains), both held over an interval."""

    A: FloatArray
    B: FloatArray
    E: FloatArray
    c: FloatArray
    states: tuple[str, ...]
    controls: tuple[str, ...]
    disturbances: tuple[str, ...]
    dt: float

    def simulate(self, x0: FloatArray, moves: FloatArray, disturbances: FloatArray) -> FloatArray:
        """States at the end of each interval, shape ``(horizon, n_states)``."""
        x = np.asarray(x0, dtype=float)
        out = np.empty((len(moves), len(self.states)))
        for k in range(len(moves)):
            x = self.A @ x + self.B @ moves[k] + self.E @ disturbances[k] + self.c
            out[k] = x
        return out


def discretise(
    system: OdeSystem,
    parameters: Mapping[str, float],
    controls: Sequence[str],
    dt: float,
    *,
    around: Mapping[str, float] | None = None,
) -> LinearModel:
    """The exact zero-order-hold discretisation of an ODE system that is linear in its
    states and inputs (the building zone's RC network), or its linearisation ``around``
    an operating point (state and input values by name; defaults to the declared starts)
    for one that is not.

    The continuous Jacobians are taken by central differences of the system's own
    right-hand side, so the surrogate is derived from the model, never written twice;
    :math:`e^{M\\,dt}` of the augmented matrix then gives A, B, E and c at once.
    """
    d = system.description
    names_in = [v.name for v in d.inputs]
    unknown = [c for c in controls if c not in names_in]
    if unknown:
        raise ValueError(f"{system.name} has no input(s) {', '.join(unknown)}")
    point = dict(around or {})
    x0 = np.array([point.get(v.name, v.start) for v in d.states], dtype=float)
    u0 = np.array([point.get(v.name, v.start) for v in d.inputs], dtype=float)
    p = np.array([parameters.get(v.name, v.start) for v in d.parameters], dtype=float)

    def f(x: FloatArray, u: FloatArray) -> FloatArray:
        return np.asarray(system.rhs(0.0, x, u, p), dtype=float)

    n, m = len(x0), len(u0)
    a = np.empty((n, n))
    b = np.empty((n, m))
    for j in range(n):
        h = 1e-4 * max(1.0, abs(x0[j]))
        step = np.zeros(n)
        step[j] = h
        a[:, j] = (f(x0 + step, u0) - f(x0 - step, u0)) / (2 * h)
    for j in range(m):
        h = 1e-4 * max(1.0, abs(u0[j]))
        step = np.zeros(m)
        step[j] = h
        b[:, j] = (f(x0, u0 + step) - f(x0, u0 - step)) / (2 * h)
    offset = f(x0, u0) - a @ x0 - b @ u0
    augmented = np.zeros((n + m + 1, n + m + 1))
    augmented[:n, :n] = a
    augmented[:n, n : n + m] = b
    augmented[:n, -1] = offset
    phi = expm(augmented * dt)
    control_idx = [names_in.index(c) for c in controls]
    other = [i for i, name in enumerate(names_in) if name not in controls]
    return LinearModel(
        A=phi[:n, :n],
        B=phi[:n, n : n + m][:, control_idx],
        E=phi[:n, n : n + m][:, other],
        c=phi[:n, -1],
        states=tuple(v.name for v in d.states),
        controls=tuple(controls),
        disturbances=tuple(names_in[i] for i in other),
        dt=float(dt),
    )


@dataclass(frozen=True)
class Band:
    """Keep a state within ``[lower, upper]`` at each interval end (a scalar, or one value
    per interval; ``-inf``/``inf``/NaN for no bound). ``penalty`` makes the band soft:
    each unit outside it for an hour costs ``penalty`` in the objective's units; ``None``
    makes it hard (no moves outside it are accepted)."""

    state: str
    lower: float | Sequence[float] | FloatArray = -math.inf
    upper: float | Sequence[float] | FloatArray = math.inf
    penalty: float | None = None
    label: str = ""


def _per_step(value: float | Sequence[float] | FloatArray, horizon: int) -> FloatArray:
    array = np.asarray(value, dtype=float)
    if array.ndim == 0:
        return np.full(horizon, float(array))
    if array.shape != (horizon,):
        raise ValueError(f"expected a scalar or {horizon} values, got shape {array.shape}")
    return np.where(np.isnan(array), np.nan, array)


def _hours(dt: float) -> str:
    return f"{dt / 3600:g} h"


def solve_linear(
    model: LinearModel,
    x0: Mapping[str, float],
    *,
    horizon: int,
    cost: Sequence[float] | FloatArray,
    lower: Sequence[float],
    upper: Sequence[float],
    bands: Sequence[Band] = (),
    disturbances: FloatArray | None = None,
) -> MpcResult:
    """Minimise ``sum_k cost[k] · u_k`` over the horizon subject to the bands and the
    control bounds: an LP solved by HiGHS.

    ``cost`` is one row per interval (one value per control, or a scalar per interval
    for a single control); ``disturbances`` one row per interval, in the order of
    ``model.disturbances``. A hard band that cannot be held makes the result
    ``infeasible``, and the LP is then solved once more with every hard band softened to
    find which band at which step is short, and by how much.
    """
    started = time.perf_counter()
    controls = model.controls
    reason = check_bounds(controls, lower, upper, horizon)
    if reason:
        return _invalid(reason, controls)
    n_u, n_x = len(controls), len(model.states)
    missing = [s for s in model.states if s not in x0]
    if missing:
        return _invalid(f"the initial state lacks {', '.join(missing)}", controls)
    state0 = np.array([float(x0[s]) for s in model.states])
    d = (
        np.zeros((horizon, len(model.disturbances)))
        if disturbances is None
        else np.asarray(disturbances, dtype=float)
    )
    if d.shape != (horizon, len(model.disturbances)):
        return _invalid(
            f"disturbances need shape ({horizon}, {len(model.disturbances)}), got {d.shape}",
            controls,
        )
    costs = np.asarray(cost, dtype=float).reshape(horizon, -1)
    if costs.shape != (horizon, n_u):
        return _invalid(f"cost needs {horizon} rows of {n_u} value(s)", controls)
    try:
        rows = [(b, _per_step(b.lower, horizon), _per_step(b.upper, horizon)) for b in bands]
    except ValueError as error:
        return _invalid(f"a band's bounds: {error}", controls)
    for band, _, _ in rows:
        if band.state not in model.states:
            return _invalid(f"a band names no state of the model: {band.state!r}", controls)

    # Prediction: X_k = free_k + sum_j G[k, j] u_j with free_k from x0, d and c.
    free = np.empty((horizon, n_x))
    x = state0
    pushed = np.empty((horizon, n_x, n_u))  # A^i B: how a move shows i intervals later
    pushed[0] = model.B
    for i in range(1, horizon):
        pushed[i] = model.A @ pushed[i - 1]
    for k in range(horizon):
        x = model.A @ x + model.E @ d[k] + model.c
        free[k] = x
    lag = np.subtract.outer(np.arange(horizon), np.arange(horizon))  # k - j
    gain = np.where((lag >= 0)[:, :, None, None], pushed[np.clip(lag, 0, None)], 0.0)
    gain_flat = gain.transpose(0, 2, 1, 3).reshape(horizon, n_x, horizon * n_u)

    solved = _solve_lp(model, horizon, costs, lower, upper, rows, free, gain_flat, soften=False)
    status, message, u, slack_cost = solved
    elapsed = time.perf_counter() - started
    if u is None:
        if status == "infeasible":
            _, _, relaxed, _ = _solve_lp(
                model, horizon, costs, lower, upper, rows, free, gain_flat, soften=True
            )
            where = _shortest(model, rows, free, gain_flat, relaxed) if relaxed is not None else ""
            return MpcResult(
                "infeasible",
                message,
                controls,
                constraint=where or "the bands cannot all be held within the control bounds",
                solve_seconds=time.perf_counter() - started,
            )
        return MpcResult(status, message, controls, constraint=message, solve_seconds=elapsed)
    moves = u.reshape(horizon, n_u)
    states = free + np.einsum("kxj,j->kx", gain_flat, u)
    predicted = {name: states[:, i] for i, name in enumerate(model.states)}
    return MpcResult(
        "optimal",
        message,
        controls,
        moves,
        float(np.sum(costs * moves)) + slack_cost,
        predicted,
        solve_seconds=elapsed,
    )


def _solve_lp(
    model: LinearModel,
    horizon: int,
    costs: FloatArray,
    lower: Sequence[float],
    upper: Sequence[float],
    rows: Sequence[tuple[Band, FloatArray, FloatArray]],
    free: FloatArray,
    gain: FloatArray,
    *,
    soften: bool,
) -> tuple[Status, str, FloatArray | None, float]:
    """One LP; ``soften`` turns every hard band into a soft one of unit penalty (the
    diagnosis of an infeasible problem). Returns status, message, moves, slack cost."""
    n_u = len(model.controls)
    n_dec = horizon * n_u
    a_rows: list[FloatArray] = []
    b_rows: list[float] = []
    slack_weights: list[float] = []
    slack_of_row: list[int] = []  # which slack column relaxes each row (-1: none)
    hours = model.dt / 3600.0
    for band, lows, highs in rows:
        i = model.states.index(band.state)
        penalty = band.penalty if band.penalty is not None else (1.0 if soften else None)
        for k in range(horizon):
            for sign, bound in ((-1.0, lows[k]), (1.0, highs[k])):
                if not math.isfinite(bound):
                    continue
                # sign·(free + G u) <= sign·bound
                a_rows.append(sign * gain[k, i])
                b_rows.append(sign * (bound - free[k, i]))
                if penalty is not None:
                    slack_of_row.append(len(slack_weights))
                    slack_weights.append(penalty * hours)
                else:
                    slack_of_row.append(-1)
    n_s = len(slack_weights)
    c = np.concatenate([costs.reshape(-1) * (0.0 if soften else 1.0), slack_weights])
    a_ub = np.zeros((len(a_rows), n_dec + n_s))
    for r, (row, s) in enumerate(zip(a_rows, slack_of_row, strict=True)):
        a_ub[r, :n_dec] = row
        if s >= 0:
            a_ub[r, n_dec + s] = -1.0
    bounds = [(lower[j % n_u], upper[j % n_u]) for j in range(n_dec)] + [(0.0, None)] * n_s
    result = linprog(
        c,
        A_ub=a_ub if a_rows else None,
        b_ub=np.array(b_rows) if a_rows else None,
        bounds=bounds,
        method="highs",
    )
    if result.status == 0:
        x = np.asarray(result.x, dtype=float)
        return "optimal", str(result.message), x[:n_dec], float(np.dot(slack_weights, x[n_dec:]))
    if result.status == 2:
        return "infeasible", str(result.message), None, 0.0
    return "infeasible", f"the LP solver stopped: {result.message}", None, 0.0


def _shortest(
    model: LinearModel,
    rows: Sequence[tuple[Band, FloatArray, FloatArray]],
    free: FloatArray,
    gain: FloatArray,
    u: FloatArray,
) -> str:
    """The first hard band at the first step the least-violating moves still break."""
    states = free + np.einsum("kxj,j->kx", gain, u)
    for k in range(len(free)):
        for band, lows, highs in rows:
            if band.penalty is not None:
                continue
            value = states[k, model.states.index(band.state)]
            name = band.label or band.state
            when = f"step {k + 1} (t+{_hours(model.dt * (k + 1))})"
            if math.isfinite(lows[k]) and value < lows[k] - 1e-6:
                return (
                    f"{name} >= {lows[k]:g} at {when}: short by {lows[k] - value:.3g} "
                    "even with every control at its bound"
                )
            if math.isfinite(highs[k]) and value > highs[k] + 1e-6:
                return (
                    f"{name} <= {highs[k]:g} at {when}: over by {value - highs[k]:.3g} "
                    "even with every control at its bound"
                )
    return ""


# -- nonlinear models ------------------------------------------------------------------


@dataclass(frozen=True)
class Limit:
    """Keep a predicted output at or under ``upper`` (every value the prediction gives
    for it: one per interval, or one for the horizon)."""

    output: str
    upper: float
    label: str = ""


Prediction = Mapping[str, FloatArray]


def solve_nonlinear(
    predict: Callable[[FloatArray], Prediction],
    objective: Callable[[FloatArray, Prediction], float],
    *,
    controls: Sequence[str],
    horizon: int,
    lower: Sequence[float],
    upper: Sequence[float],
    limits: Sequence[Limit] = (),
    start: FloatArray | None = None,
    tolerance: float = 1e-3,
    max_iterations: int = 60,
) -> MpcResult:
    """Minimise ``objective(moves, predict(moves))`` subject to the limits, by SLSQP.

    ``predict`` runs the model over the horizon under ``moves`` (shape ``(horizon,
    n_controls)``) and returns its outputs by name; one prediction is shared by the
    objective and every limit of the same moves. SLSQP needs a feasible region it can
    reach: when it stops with a limit still broken by more than ``tolerance`` the result
    is ``infeasible`` and names the limit that is broken most (relative to its bound);
    when it stops short of convergence with every limit met, ``feasible``.
    """
    started = time.perf_counter()
    names = tuple(controls)
    reason = check_bounds(names, lower, upper, horizon)
    if reason:
        return _invalid(reason, names)
    n_u = len(names)
    lo = np.tile(np.asarray(lower, dtype=float), horizon)
    hi = np.tile(np.asarray(upper, dtype=float), horizon)
    x0 = np.clip(
        (lo + hi) / 2 if start is None else np.asarray(start, dtype=float).reshape(-1), lo, hi
    )
    if x0.shape != lo.shape:
        return _invalid(f"start needs {horizon} rows of {n_u} value(s)", names)
    # SLSQP works on moves scaled to 0..1 between their bounds, so its finite-difference
    # steps and tolerances mean the same for rpm and for kW.
    span = np.where(hi > lo, hi - lo, 1.0)
    cache: dict[bytes, Prediction] = {}

    def unscale(z: FloatArray) -> FloatArray:
        clipped: FloatArray = np.clip(lo + np.asarray(z, dtype=float) * span, lo, hi)
        return clipped

    def run(flat: FloatArray) -> Prediction:
        key = np.asarray(flat, dtype=float).tobytes()
        if key not in cache:
            if len(cache) > 256:
                cache.clear()
            cache[key] = predict(np.asarray(flat, dtype=float).reshape(horizon, n_u))
        return cache[key]

    def margins(z: FloatArray) -> FloatArray:
        prediction = run(unscale(z))
        parts = [
            (limit.upper - np.atleast_1d(prediction[limit.output])) / max(abs(limit.upper), 1e-12)
            for limit in limits
        ]
        return np.concatenate(parts) if parts else np.zeros(0)

    def cost(z: FloatArray) -> float:
        flat = unscale(z)
        return float(objective(flat.reshape(horizon, n_u), run(flat)))

    for limit in limits:  # a typo in an output name is a bad problem, not infeasibility
        if limit.output not in run(x0):
            return _invalid(f"a limit names no predicted output: {limit.output!r}", names)
    constraints: Any = [{"type": "ineq", "fun": margins}] if limits else []
    result = minimize(
        cost,
        (x0 - lo) / span,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * len(lo),
        constraints=constraints,
        options={"maxiter": max_iterations, "ftol": 1e-7, "eps": 1e-5},
    )
    flat = unscale(result.x)
    prediction = run(flat)
    elapsed = time.perf_counter() - started
    worst, worst_margin = "", 0.0
    for limit in limits:
        values = np.atleast_1d(prediction[limit.output])
        excess = (float(np.max(values)) - limit.upper) / max(abs(limit.upper), 1e-12)
        if excess > tolerance and excess > worst_margin:
            worst_margin = excess
            k = int(np.argmax(values))
            worst = (
                f"{limit.label or limit.output} <= {limit.upper:g}: predicted "
                f"{float(values[k]):.4g} at step {k + 1} with the best moves found"
            )
    if worst:
        return MpcResult(
            "infeasible", str(result.message), names, constraint=worst, solve_seconds=elapsed
        )
    moves = flat.reshape(horizon, n_u)
    status: Status = "optimal" if result.success else "feasible"
    return MpcResult(
        status,
        str(result.message),
        names,
        moves,
        float(objective(moves, prediction)),
        {k: np.asarray(v, dtype=float) for k, v in prediction.items()},
        solve_seconds=elapsed,
    )
