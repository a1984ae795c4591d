"""Ordinary differential equation models on SciPy, one at a time or as a vectorised fleet.

An :class:`OdeSystem` is declared, not coded as a class: a :class:`ModelDescription` plus two
functions on numpy arrays, ``rhs(t, x, u, p) -> dx/dt`` and ``outputs(t, x, u, p)``, with
``x``, ``u`` and ``p`` holding the states, inputs and parameters in their declared order.
Written with numpy broadcasting, the same two functions serve a single model (``x`` of
shape ``(n_states,)``) and a fleet of N members (``x`` of shape ``(n_states, N)``), so 100
motors of one DTDL model are integrated as one numpy system rather than 100 Python loops.

Two ways to advance, because twins need both: :func:`scipy.integrate.solve_ivp` (RK45 by
default, ``LSODA``/``BDF``/``Radau`` for stiff systems) when accuracy matters, and a fixed-step
classical Runge-Kutta (``solver="rk4"``) whose cost is a few array operations per step, for
bulk what-if runs and benchmarks. State lives in a numpy array, never in dicts, on the hot
path; the dict views of :class:`~twinsight.sim.model.SimulationModel` are built on demand.

A step that diverges (non-finite state, or the solver gives up) raises
``SimulationError(code="SimulationDiverged")`` naming the model and the time, and leaves the
model where it was, so a what-if run can be retried with a smaller step or another solver.

>>> from twinsight.sim.model import ModelDescription, Variable
>>> cooling = OdeSystem(
...     ModelDescription(
...         "cup",
...         parameters=(Variable("tau", 600.0, "s", min=1.0),),
...         states=(Variable("temperature", 90.0, "°C"),),
...         inputs=(Variable("ambient", 20.0, "°C"),),
...         outputs=(Variable("temperature", unit="°C"),),
...     ),
...     rhs=lambda t, x, u, p: [(u[0] - x[0]) / p[0]],
...     outputs=lambda t, x, u, p: (x[0],),
... )
>>> cup = cooling.model()
>>> cup.advance(600.0)
>>> round(cup.outputs()["temperature"], 2)  # 20 + 70 / e
45.75
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.integrate import solve_ivp
from scipy.sparse import csr_matrix, eye, kron

from twinsight.core.errors import SimulationError
from twinsight.sim.floats import quietly
from twinsight.sim.model import BaseModel, ModelDescription, Variable

FloatArray = npt.NDArray[np.float64]
_FLOAT64 = np.dtype(np.float64)

RightHandSide = Callable[[float, FloatArray, FloatArray, FloatArray], Any]
"""``rhs(t, x, u, p) -> dx/dt``: one entry per state, in declared order (an array shaped
like ``x``, or a sequence of scalars/arrays that broadcast to the member axis)."""

OutputFunction = Callable[[float, FloatArray, FloatArray, FloatArray], Sequence[Any]]
"""``outputs(t, x, u, p)``: one entry per declared output, in order (a float, or for a
fleet an array over the members, or anything that broadcasts to it). A fleet keeps an
array entry without copying it when it is new or a row of ``x``, ``u`` or ``p``, so never
return an array the function will write into later (a reused buffer)."""

ExactStep = Callable[[float, float, FloatArray, FloatArray, FloatArray], Any]
"""``exact(t, dt, x, u, p) -> x(t + dt)`` with the inputs held: the closed-form solution
over one step, for systems that have one (entries as for :data:`RightHandSide`)."""

SteadyStart = Callable[[FloatArray, FloatArray], Mapping[str, Any]]
"""``steady_start(u, p) -> {state: value}``: where states that nothing measures settle for
the inputs and parameters given (a scalar, or for a fleet an array over the members)."""

SOLVERS = ("RK45", "RK23", "DOP853", "Radau", "BDF", "LSODA", "rk4")
"""The integrators: SciPy's ``solve_ivp`` methods, and ``rk4``, a fixed-step classical
Runge-Kutta taking ``ceil(dt / max_step)`` equal steps per advance."""


@dataclass(frozen=True, slots=True)
class OdeSystem:
    """An ODE model declared as data: what it has, and how it moves.

    ``rhs`` and ``outputs`` receive numpy arrays in the declared order of states, inputs
    and parameters; unpack them along the first axis (``temperature, wear = x``) and write
    the arithmetic with numpy operations, and the system works for a fleet too.
    """

    description: ModelDescription
    rhs: RightHandSide
    outputs: OutputFunction
    exact: ExactStep | None = None
    """The state after a step in closed form, when the equations have one (a first-order
    lag towards a target the held inputs fix): then every solver takes it instead of
    integrating, which is both exact and a handful of array operations; ``rhs`` still
    describes the system (for Jacobians and estimators)."""
    steady_start: SteadyStart | None = None
    """Where states no twin value sets start, from the inputs and parameters: a what-if
    forked from the live plant, or the live plant itself, starts them settled for the
    inputs the twins report (a stopped motor's drive at 0 rpm) instead of at their declared
    start, which would show a transient reality never had. Only the states it names; see
    :meth:`OdeModel.start_steady`."""

    @property
    def name(self) -> str:
        return self.description.name

    def renamed(self, name: str) -> OdeSystem:
        """The same system under another model name (one per twin)."""
        return replace(self, description=replace(self.description, name=name))

    def model(
        self,
        name: str | None = None,
        *,
        solver: str = "RK45",
        rtol: float = 1e-6,
        atol: float = 1e-9,
        max_step: float = math.inf,
    ) -> OdeModel:
        """One model of this system (see :class:`OdeModel` for the solver options)."""
        system = self if name is None else self.renamed(name)
        return OdeModel(system, solver=solver, rtol=rtol, atol=atol, max_step=max_step)

    def fleet(
        self,
        members: Sequence[str] | int,
        *,
        name: str | None = None,
        solver: str = "RK45",
        rtol: float = 1e-6,
        atol: float = 1e-9,
        max_step: float = math.inf,
    ) -> OdeFleet:
        """N members of this system integrated as one (see :class:`OdeFleet`)."""
        return OdeFleet(
            self, members, name=name, solver=solver, rtol=rtol, atol=atol, max_step=max_step
        )


@dataclass(frozen=True, slots=True)
class _Integrator:
    """The chosen solver and its tolerances, checked once when a model is built."""

    model: str
    solver: str
    rtol: float
    atol: float
    max_step: float

    def __post_init__(self) -> None:
        if self.solver not in SOLVERS:
            raise SimulationError(
                f"unknown solver {self.solver!r} (choose one of {', '.join(SOLVERS)})",
                model=self.model,
            )
        if not self.max_step > 0:
            raise SimulationError(
                f"max_step must be positive, got {self.max_step!r}", model=self.model
            )
        if not (self.rtol > 0 and self.atol > 0):
            raise SimulationError("rtol and atol must be positive", model=self.model)

    def advance(
        self,
        system: OdeSystem,
        t0: float,
        dt: float,
        x: FloatArray,
        u: FloatArray,
        p: FloatArray,
        sparsity: csr_matrix | None = None,
        members: Sequence[str] = (),
    ) -> FloatArray:
        """The state after ``dt`` seconds from ``x`` at ``t0``; ``x`` itself is untouched.
        Raises ``SimulationDiverged`` when the result is not finite or the solver fails;
        for a fleet (one column of ``x`` per name in ``members``) the error names the
        members whose state is not finite, so one twin's bad parameter is found in a
        hundred."""
        if x.size == 0:
            return x  # an algebraic system: nothing to integrate
        rhs = system.rhs
        shape = x.shape

        def step() -> tuple[FloatArray, bool]:
            if system.exact is not None:
                result = _derivative(system.exact(t0, dt, x, u, p), shape, self.model)
            elif self.solver == "rk4":
                result = self._rk4(rhs, t0, dt, x, u, p, shape)
            else:
                result = self._solve_ivp(rhs, t0, dt, x, u, p, shape, sparsity)
            return result, _all_finite(result)

        try:
            result, finite = quietly(step)  # divergence is reported below, as an error
        except SimulationError:
            raise
        except Exception as error:
            raise SimulationError(
                f"the right-hand side raised while advancing from t={t0:g} s by {dt:g} s: "
                f"{type(error).__name__}: {error}",
                model=self.model,
            ) from error
        if not finite:
            whose = "the state"
            if members and result.ndim == 2 and result.shape[1] == len(members):
                bad = np.flatnonzero(~np.isfinite(result).all(axis=0)).tolist()
                named = ", ".join(members[j] for j in bad[:5]) + (", ..." if len(bad) > 5 else "")
                whose = f"the state of {len(bad)} of {len(members)} members ({named})"
            raise SimulationError(
                f"diverged between t={t0:g} s and t={t0 + dt:g} s: "
                f"{whose} is not finite (try a smaller max_step or a stiff solver)",
                model=self.model,
                code="SimulationDiverged",
            )
        return result

    def _rk4(
        self,
        rhs: RightHandSide,
        t: float,
        dt: float,
        x: FloatArray,
        u: FloatArray,
        p: FloatArray,
        shape: tuple[int, ...],
    ) -> FloatArray:
        steps = 1 if dt <= self.max_step else math.ceil(dt / self.max_step - 1e-9)
        h = dt / steps
        half = 0.5 * h
        h_, half_, sixth_, two_ = _rk4_factors(h, shape)
        derivative = _derivative
        for _ in range(steps):
            k1 = derivative(rhs(t, x, u, p), shape, self.model)
            k2 = derivative(rhs(t + half, x + half_ * k1, u, p), shape, self.model)
            k3 = derivative(rhs(t + half, x + half_ * k2, u, p), shape, self.model)
            k4 = derivative(rhs(t + h, x + h_ * k3, u, p), shape, self.model)
            x = x + sixth_ * (k1 + two_ * (k2 + k3) + k4)
            t += h
        return x

    def _solve_ivp(
        self,
        rhs: RightHandSide,
        t0: float,
        dt: float,
        x: FloatArray,
        u: FloatArray,
        p: FloatArray,
        shape: tuple[int, ...],
        sparsity: csr_matrix | None,
    ) -> FloatArray:
        def fun(t: float, y: FloatArray) -> FloatArray:
            return _derivative(rhs(t, y.reshape(shape), u, p), shape, self.model).ravel()

        options: dict[str, Any] = {"rtol": self.rtol, "atol": self.atol}
        if math.isfinite(self.max_step):
            options["max_step"] = self.max_step
        if sparsity is not None and self.solver in ("BDF", "Radau"):
            options["jac_sparsity"] = sparsity
        solution = solve_ivp(
            fun, (t0, t0 + dt), x.ravel(), method=self.solver, t_eval=[t0 + dt], **options
        )
        if not solution.success:
            raise SimulationError(
                f"diverged between t={t0:g} s and t={t0 + dt:g} s: "
                f"{self.solver} failed: {solution.message}",
                model=self.model,
                code="SimulationDiverged",
            )
        return np.asarray(solution.y[:, -1], dtype=np.float64).reshape(shape)


_RK4_FACTORS: dict[tuple[float, tuple[int, ...]], tuple[FloatArray, ...]] = {}


def _rk4_factors(h: float, shape: tuple[int, ...]) -> tuple[FloatArray, ...]:
    """``h``, ``h/2``, ``h/6`` and 2 as arrays of the state's shape. The same products as
    with Python floats, but numpy multiplies two arrays of a few dozen entries in about
    half the time it takes to turn a Python float into an operand first; a fleet's rk4
    step makes four such products. Kept per step length and shape (a handful in a run)."""
    key = (h, shape)
    factors = _RK4_FACTORS.get(key)
    if factors is None:
        if len(_RK4_FACTORS) >= 64:
            _RK4_FACTORS.clear()
        factors = tuple(np.full(shape, f) for f in (h, 0.5 * h, h / 6.0, 2.0))
        for array in factors:
            array.flags.writeable = False
        _RK4_FACTORS[key] = factors
    return factors


def _all_finite(values: FloatArray) -> bool:
    """Whether every entry is finite. A NaN or an infinity carries through a sum, so a
    finite sum answers the usual case with one reduction; only a sum that is not finite
    (a divergence, or finite entries whose sum overflows) looks at every entry. Called
    with numpy's floating-point warnings off (an overflowing sum is no warning)."""
    if values.ndim == 1:
        return all(map(math.isfinite, values.tolist()))
    return math.isfinite(np.add.reduce(values, axis=None)) or bool(np.isfinite(values).all())


def _derivative(value: Any, shape: tuple[int, ...], model: str) -> FloatArray:
    """``value`` as an array of ``shape``; a sequence whose entries are scalars and arrays
    mixed (``[0.0, rate]`` in a fleet) is broadcast entry by entry."""
    if type(value) is np.ndarray and value.shape == shape and value.dtype == np.float64:
        return value
    try:
        array = np.asarray(value, dtype=np.float64)
    except ValueError:
        array = None
    if array is not None and array.shape == shape:
        return array
    try:
        entries = list(value)
        if len(entries) == shape[0]:
            out = np.empty(shape, dtype=np.float64)
            for row, entry in enumerate(entries):
                out[row] = entry  # broadcasts a scalar (or a member array) into the row
            return out
    except (TypeError, ValueError):
        pass
    got = "?" if array is None else array.shape
    raise SimulationError(
        f"the right-hand side returned shape {got}, expected {shape} "
        "(one derivative per state, in declared order)",
        model=model,
    )


def _with_values(
    array: FloatArray, names: Sequence[str], values: Mapping[str, float]
) -> FloatArray:
    """A copy of ``array`` (one entry per name, in ``names`` order) with ``values`` set: the
    model never shares an array a caller may still hold."""
    updated = array.copy()
    for name, value in values.items():
        updated[names.index(name)] = value
    return updated


def _start(items: Iterable[Variable]) -> FloatArray:
    return np.array([float(v.start) for v in items], dtype=np.float64)


class OdeModel(BaseModel):
    """One instance of an :class:`OdeSystem`, speaking :class:`SimulationModel`.

    ``solver`` is one of :data:`SOLVERS`: a ``solve_ivp`` method with ``rtol``/``atol`` and
    an optional ``max_step`` (s), or ``"rk4"``, which takes equal steps of at most
    ``max_step`` seconds (one step per advance when ``max_step`` is infinite).
    """

    def __init__(
        self,
        system: OdeSystem,
        *,
        solver: str = "RK45",
        rtol: float = 1e-6,
        atol: float = 1e-9,
        max_step: float = math.inf,
    ) -> None:
        super().__init__(system.description)
        self._system = system
        self._integrator = _Integrator(system.name, solver, rtol, atol, max_step)
        d = system.description
        self._state_names = tuple(v.name for v in d.states)
        self._input_names = tuple(v.name for v in d.inputs)
        self._parameter_names = tuple(v.name for v in d.parameters)
        self._output_names = tuple(v.name for v in d.outputs)
        self._x = _start(d.states)
        self._u = _start(d.inputs)
        self._p = _start(d.parameters)

    @property
    def system(self) -> OdeSystem:
        return self._system

    @property
    def solver(self) -> str:
        return self._integrator.solver

    # -- state and inputs live in arrays --------------------------------------------------
    def state(self) -> dict[str, float]:
        return dict(zip(self._state_names, self._x.tolist(), strict=True))

    def set_state(self, values: Mapping[str, float]) -> None:
        checked = self._checked(values, self._description.states, "state")
        self._x = _with_values(self._x, self._state_names, checked)

    def inputs(self) -> dict[str, float]:
        return dict(zip(self._input_names, self._u.tolist(), strict=True))

    def set_inputs(self, values: Mapping[str, float]) -> None:
        checked = self._checked(values, self._description.inputs, "input")
        self._u = _with_values(self._u, self._input_names, checked)

    def state_array(self) -> FloatArray:
        """A copy of the state, in declared order."""
        return self._x.copy()

    def start_steady(self, measured: Collection[str] = ()) -> tuple[str, ...]:
        """Start the states the system's ``steady_start`` names, except those in
        ``measured`` (set from a twin), where they settle for the current inputs and
        parameters; returns the states set (none without the hook). Call it after the
        inputs are set."""
        steady = _call_steady(self._system, self._u, self._p)
        values = {name: float(v) for name, v in steady.items() if name not in measured}
        if values:
            self.set_state(values)
        return tuple(values)

    def _parameters_changed(self, changed: Mapping[str, float]) -> None:
        self._p = np.array(
            [self._parameters[name] for name in self._parameter_names], dtype=np.float64
        )

    # -- the two verbs -------------------------------------------------------------------
    def _advance(self, dt: float) -> None:
        self._x = self._integrator.advance(self._system, self._time, dt, self._x, self._u, self._p)

    def _outputs(self) -> dict[str, float]:
        values = _call_outputs(self._system, self._time, self._x, self._u, self._p)
        if len(values) != len(self._output_names):
            raise SimulationError(
                f"outputs returned {len(values)} values for "
                f"{len(self._output_names)} declared outputs",
                model=self.name,
            )
        return {name: float(v) for name, v in zip(self._output_names, values, strict=True)}

    def _check_finite(self) -> None:
        """Already checked before the new state was kept (so a diverged step changes
        nothing); nothing left to do after the step."""


def _call_steady(system: OdeSystem, u: FloatArray, p: FloatArray) -> Mapping[str, Any]:
    """The hook's values, checked to name states (empty without a hook)."""
    hook = system.steady_start
    if hook is None:
        return {}
    try:
        values = quietly(lambda: hook(u, p))
    except Exception as error:
        raise SimulationError(
            f"the steady_start function raised: {type(error).__name__}: {error}",
            model=system.name,
        ) from error
    states = [v.name for v in system.description.states]
    unknown = sorted(set(values) - set(states))
    if unknown:
        raise SimulationError(
            f"steady_start names {', '.join(map(repr, unknown))}, which are not states "
            f"(its states: {', '.join(states)})",
            model=system.name,
        )
    return dict(values)


def _call_outputs(
    system: OdeSystem, t: float, x: FloatArray, u: FloatArray, p: FloatArray
) -> Sequence[Any]:
    try:
        return quietly(lambda: system.outputs(t, x, u, p))
    except Exception as error:
        raise SimulationError(
            f"the outputs function raised at t={t:g} s: {type(error).__name__}: {error}",
            model=system.name,
        ) from error


class OdeFleet(BaseModel):
    """N members of one :class:`OdeSystem` integrated as one numpy system.

    The state is an array of shape ``(n_states, N)``, and so are the inputs and the
    parameters (each member may have its own), so one ``rhs`` call moves every member.
    Through :class:`SimulationModel` every variable is namespaced ``"{member}.{name}"``
    (``"motor-7.temperature"``); the array accessors (:meth:`state_array`,
    :meth:`set_inputs_array`, :meth:`output_arrays`) skip the per-name dicts for the
    co-simulation master and benchmarks.

    Members are independent, so with ``BDF`` or ``Radau`` the solver is told the Jacobian is
    block-diagonal and estimates it with ``n_states`` evaluations, not ``n_states * N``.
    """

    def __init__(
        self,
        system: OdeSystem,
        members: Sequence[str] | int,
        *,
        name: str | None = None,
        solver: str = "RK45",
        rtol: float = 1e-6,
        atol: float = 1e-9,
        max_step: float = math.inf,
    ) -> None:
        member_names = (
            tuple(f"{system.name}-{i}" for i in range(members))
            if isinstance(members, int)
            else tuple(str(m) for m in members)
        )
        fleet_name = name or f"{system.name}-fleet"
        if not member_names:
            raise SimulationError("a fleet needs at least one member", model=fleet_name)
        if len(set(member_names)) != len(member_names):
            raise SimulationError("fleet member names must be distinct", model=fleet_name)
        d = system.description
        # The namespaced description ("member.variable" for every member) is built only
        # when asked for: a fleet of Monte-Carlo replicas has hundreds of thousands of
        # variables and never needs their names.
        super().__init__(
            ModelDescription(
                fleet_name,
                description=f"{len(member_names)} members of {d.name}"
                + (f": {d.description}" if d.description else ""),
            )
        )
        self._full_description: ModelDescription | None = None
        self._outputs_cache: (
            tuple[FloatArray, FloatArray, FloatArray, float, dict[str, FloatArray]] | None
        ) = None
        self._index_cache: dict[str, dict[str, tuple[int, int, Variable]]] | None = None
        self._system = system
        self._members = member_names
        self._integrator = _Integrator(fleet_name, solver, rtol, atol, max_step)
        n = len(member_names)
        self._x = np.repeat(_start(d.states)[:, None], n, axis=1)
        self._u = np.repeat(_start(d.inputs)[:, None], n, axis=1)
        self._p = np.repeat(_start(d.parameters)[:, None], n, axis=1)
        self._input_limits = tuple((float(v.min), float(v.max)) for v in d.inputs)
        self._rows = {
            "parameter": {v.name: i for i, v in enumerate(d.parameters)},
            "state": {v.name: i for i, v in enumerate(d.states)},
            "input": {v.name: i for i, v in enumerate(d.inputs)},
        }
        self._output_names = tuple(v.name for v in d.outputs)
        self._sparsity = (
            csr_matrix(kron(np.ones((len(d.states), len(d.states))), eye(n)))
            if solver in ("BDF", "Radau")
            else None
        )

    @property
    def description(self) -> ModelDescription:
        if self._full_description is None:
            d = self._system.description

            def spread(items: tuple[Variable, ...]) -> tuple[Variable, ...]:
                return tuple(
                    replace(v, name=f"{member}.{v.name}") for member in self._members for v in items
                )

            self._full_description = ModelDescription(
                self._description.name,
                parameters=spread(d.parameters),
                states=spread(d.states),
                inputs=spread(d.inputs),
                outputs=spread(d.outputs),
                description=self._description.description,
            )
        return self._full_description

    @property
    def _index(self) -> dict[str, dict[str, tuple[int, int, Variable]]]:
        """name -> (row, column, variable); the namespaced variables are member-major."""
        if self._index_cache is None:
            d, full = self._system.description, self.description
            per_member = {"parameter": d.parameters, "state": d.states, "input": d.inputs}
            namespaced = {
                "parameter": full.parameters,
                "state": full.states,
                "input": full.inputs,
            }
            self._index_cache = {}
            for kind, items in namespaced.items():
                width = len(per_member[kind])
                self._index_cache[kind] = {
                    v.name: (k % width, k // width, v) for k, v in enumerate(items)
                }
        return self._index_cache

    @property
    def system(self) -> OdeSystem:
        return self._system

    @property
    def members(self) -> tuple[str, ...]:
        return self._members

    @property
    def solver(self) -> str:
        return self._integrator.solver

    # -- SimulationModel views, namespaced ---------------------------------------------------
    def parameters(self) -> dict[str, float]:
        return self._flat(self._p, self._system.description.parameters)

    def set_parameters(self, values: Mapping[str, float]) -> None:
        self._p = self._written(self._p, values, "parameter")

    def state(self) -> dict[str, float]:
        return self._flat(self._x, self._system.description.states)

    def set_state(self, values: Mapping[str, float]) -> None:
        self._x = self._written(self._x, values, "state")

    def inputs(self) -> dict[str, float]:
        return self._flat(self._u, self._system.description.inputs)

    def set_inputs(self, values: Mapping[str, float]) -> None:
        self._u = self._written(self._u, values, "input")

    def replicated(self, copies: int) -> OdeFleet:
        """``copies`` independent copies of this fleet, side by side in one fleet: members
        ``"{k}/{member}"`` for k = 0…copies-1, each starting from this fleet's state,
        inputs, parameters and time. A Monte-Carlo sweep runs its runs as copies, so one
        numpy operation moves every machine of every run."""
        if copies < 1:
            raise SimulationError(f"copies must be at least 1, not {copies}", model=self.name)
        i = self._integrator
        twin = OdeFleet(
            self._system,
            [f"{k}/{m}" for k in range(copies) for m in self._members],
            name=f"{self.name}*{copies}",
            solver=i.solver,
            rtol=i.rtol,
            atol=i.atol,
            max_step=i.max_step,
        )
        twin._x = np.tile(self._x, (1, copies))
        twin._u = np.tile(self._u, (1, copies))
        twin._p = np.tile(self._p, (1, copies))
        twin._time = self._time
        return twin

    # -- array accessors -----------------------------------------------------------------
    def state_array(self) -> FloatArray:
        """A copy of the state, shape ``(n_states, N)``, rows in declared order."""
        return self._x.copy()

    def start_steady(self, measured: Collection[str] = ()) -> tuple[str, ...]:
        """As :meth:`OdeModel.start_steady`, per member: ``measured`` holds namespaced
        names (``"motor-7.drive_speed"``) whose member keeps its state."""
        steady = _call_steady(self._system, self._u, self._p)
        rows = self._rows["state"]
        states = self._system.description.states
        updated, started = self._x.copy(), []
        for name, value in steady.items():
            row = rows[name]
            keep = np.array([f"{m}.{name}" in measured for m in self._members], dtype=bool)
            if keep.all():
                continue
            column = np.broadcast_to(np.asarray(value, dtype=np.float64), keep.shape)
            updated[row] = np.where(keep, updated[row], column)
            self._check_row(states[row], updated[row], "state")
            started += [f"{m}.{name}" for m, k in zip(self._members, keep, strict=True) if not k]
        self._x = updated
        return tuple(started)

    def set_state_array(self, values: npt.ArrayLike) -> None:
        """Replace the whole state (shape ``(n_states, N)``), bounds checked."""
        array = np.array(values, dtype=np.float64)
        if array.shape != self._x.shape:
            raise SimulationError(
                f"state array has shape {array.shape}, expected {self._x.shape}",
                model=self.name,
            )
        for row, variable in enumerate(self._system.description.states):
            self._check_row(variable, array[row], "state")
        self._x = array

    def inputs_array(self) -> FloatArray:
        """A copy of the inputs, shape ``(n_inputs, N)``, rows in declared order."""
        return self._u.copy()

    def set_inputs_array(self, name: str, values: npt.ArrayLike) -> None:
        """Set input ``name`` (the un-namespaced name) for every member at once: an array
        of N values in member order, or one value for all; bounds checked."""
        self._u = self._row_written(self._u, name, values, "input")

    def set_inputs_arrays(self, columns: Mapping[str, FloatArray]) -> None:
        """Set several inputs for every member at once (each an array of N values in
        member order), bounds checked. Why not :meth:`set_inputs_array` per input: each
        call copies the input matrix and checks its row apart, and for a fleet of a few
        dozen members those fixed costs were a third of a factory step."""
        rows = self._rows["input"]
        updated = self._u.copy()
        written: list[int] = []
        for name, values in columns.items():
            row = rows.get(name)
            if row is None or np.shape(values) != (len(self._members),):
                # an unknown name or a wrong length is refused there; one value is broadcast
                row = rows.get(name, -1)
                updated[row] = self._row_written(self._u, name, values, "input")[row]
                continue
            updated[row] = values
            written.append(row)
        self.replace_inputs_array(updated, written)

    def replace_inputs_array(self, inputs: FloatArray, written: Sequence[int]) -> None:
        """Take ``inputs`` (shape ``(n_inputs, N)``, rows in declared order) as the new
        inputs, bounds checking the rows in ``written``; a bad value is refused naming the
        first bad input and member, and changes nothing.

        For the co-simulation master, which writes a fleet's fed inputs every step: it
        starts from :meth:`inputs_array` (a copy), writes the fed rows and hands the
        matrix over, so a step costs one copy and one check per fed row. The fleet keeps
        ``inputs`` itself (its caller must not write into it afterwards), and the rows not
        in ``written`` must hold the values they had, which were checked when set."""
        limits = self._input_limits
        minimum, maximum = np.minimum.reduce, np.maximum.reduce
        for row in written:
            values = inputs[row]
            low, high = limits[row]
            # Comparisons with NaN are false, so a NaN fails these too. One reduction
            # per row when a bound is infinite: a value can only break the other one.
            if high == math.inf:
                good = low <= minimum(values)
            elif low == -math.inf:
                good = maximum(values) <= high
            else:
                good = low <= minimum(values) and maximum(values) <= high
            if not good:
                variables = self._system.description.inputs
                for bad in written:  # name the first bad input and member
                    self._check_row(variables[bad], inputs[bad], "input")
        self._u = inputs

    def parameters_array(self) -> FloatArray:
        """A copy of the parameters, shape ``(n_parameters, N)``."""
        return self._p.copy()

    def set_parameters_array(self, name: str, values: npt.ArrayLike) -> None:
        """Set parameter ``name`` for every member at once (as :meth:`set_inputs_array`)."""
        self._p = self._row_written(self._p, name, values, "parameter")

    def output_arrays(self) -> dict[str, FloatArray]:
        """Each declared output (un-namespaced) as an array over the members.

        Computed once per state: a pump that feeds both its motor and its tank is evaluated
        once a step. The arrays are shared with later callers until the state, inputs or
        parameters change, so read them, never write into them."""
        x, u, p, time = self._x, self._u, self._p, self._time
        cached = self._outputs_cache
        if (
            cached is not None
            and cached[0] is x
            and cached[1] is u
            and cached[2] is p
            and cached[3] == time
        ):
            return cached[4]
        arrays = self._compute_output_arrays()
        self._outputs_cache = (x, u, p, time, arrays)
        return arrays

    def _compute_output_arrays(self) -> dict[str, FloatArray]:
        n = len(self._members)
        shape = (n,)
        values = _call_outputs(self._system, self._time, self._x, self._u, self._p)
        names = self._output_names
        if len(values) != len(names):
            raise SimulationError(
                f"outputs returned {len(values)} values for {len(names)} declared outputs",
                model=self.name,
            )
        arrays: dict[str, FloatArray] = {}
        x, u, p = self._x, self._u, self._p
        for name, value in zip(names, values, strict=True):
            if (
                type(value) is np.ndarray
                and value.shape == shape
                and value.dtype is _FLOAT64
                and ((base := value.base) is None or base is x or base is u or base is p)
            ):
                # A new array, or a row of the state, inputs or parameters, which the
                # fleet replaces rather than writes into: kept as it is (a copy of each
                # output was a tenth of a factory fleet's outputs).
                arrays[name] = value
                continue
            array = arrays[name] = np.empty(n, dtype=np.float64)
            array[...] = value  # a scalar output is the same for every member
        return arrays

    # -- the two verbs -------------------------------------------------------------------
    def _advance(self, dt: float) -> None:
        self._x = self._integrator.advance(
            self._system, self._time, dt, self._x, self._u, self._p, self._sparsity, self._members
        )

    def _outputs(self) -> dict[str, float]:
        arrays = self.output_arrays()
        return {
            f"{member}.{name}": value
            for name, array in arrays.items()
            for member, value in zip(self._members, array.tolist(), strict=True)
        }

    def _check_finite(self) -> None:
        """Checked before the new state was kept (see :meth:`OdeModel._check_finite`)."""

    # -- helpers -------------------------------------------------------------------------
    def _flat(self, array: FloatArray, items: tuple[Variable, ...]) -> dict[str, float]:
        rows = array.tolist()
        return {
            f"{member}.{v.name}": rows[row][column]
            for row, v in enumerate(items)
            for column, member in enumerate(self._members)
        }

    def _written(self, array: FloatArray, values: Mapping[str, float], kind: str) -> FloatArray:
        index = self._index[kind]
        unknown = sorted(set(values) - index.keys())
        if unknown:
            raise SimulationError(
                f"has no {kind} {', '.join(map(repr, unknown))} (its {kind}s are "
                f"'<member>.<name>' with members {', '.join(self._members[:3])}"
                f"{', ...' if len(self._members) > 3 else ''} and names "
                f"{', '.join(self._rows[kind]) or 'none'})",
                model=self.name,
            )
        updated = array.copy()
        for key, value in values.items():
            row, column, variable = index[key]
            updated[row, column] = variable.check(value, kind=kind, model=self.name)
        return updated

    def _row_written(
        self, array: FloatArray, name: str, values: npt.ArrayLike, kind: str
    ) -> FloatArray:
        rows = self._rows[kind]
        if name not in rows:
            raise SimulationError(
                f"has no {kind} {name!r} (its {kind}s: {', '.join(rows) or 'none'})",
                model=self.name,
            )
        row = rows[name]
        try:
            column = np.broadcast_to(np.asarray(values, dtype=np.float64), (len(self._members),))
        except ValueError:
            raise SimulationError(
                f"{kind} {name!r} needs one value or {len(self._members)} values",
                model=self.name,
            ) from None
        variables = (
            self._system.description.inputs
            if kind == "input"
            else self._system.description.parameters
        )
        self._check_row(variables[row], column, kind)
        updated = array.copy()
        updated[row] = column
        return updated

    def _check_row(self, variable: Variable, values: FloatArray, kind: str) -> None:
        if np.isnan(values).any():
            raise SimulationError(f"{kind} {variable.name!r} has NaN values", model=self.name)
        outside = (values < variable.min) | (values > variable.max)
        if outside.any():
            member = self._members[int(np.argmax(outside))]
            value = float(values[int(np.argmax(outside))])
            raise SimulationError(
                f"{kind} {member}.{variable.name} = {value:g} is outside its bounds "
                f"[{variable.min:g}, {variable.max:g}]"
                + (f" {variable.unit}" if variable.unit else ""),
                model=self.name,
            )
