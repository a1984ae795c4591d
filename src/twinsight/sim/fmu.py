"""FMUs (Functional Mock-up Units, FMI 2.0 and 3.0) as simulation models, through fmpy.

An FMU is the exchange format of the simulation tools (Modelica, Simulink, Python): a zip
with a ``modelDescription.xml`` and a compiled library. :class:`FmuModel` runs one behind the
uniform :class:`~twinsight.sim.model.SimulationModel` interface:

* **Co-Simulation** (the FMU brings its own solver): ``advance(dt)`` is one ``doStep``.
* **Model Exchange** (the FMU gives derivatives, the importer integrates): ``advance(dt)``
  integrates with the classical fixed-step Runge-Kutta scheme (RK4) in sub-steps of at most
  ``step_size``, with event handling: time events end a sub-step exactly on time, state events
  (an event indicator changing sign) and step events are handled at the end of the sub-step in
  which they are detected (no root finding, so a state event is placed to within one
  sub-step). Explicit RK4 suits the non-stiff plant models of a twin, costs four derivative
  calls per sub-step, and is deterministic, which a what-if fork needs; a stiff FMU should be
  exported as Co-Simulation with its tool's own solver.

Parameters, inputs and outputs are the FMU's variables of causality ``parameter``, ``input``
and ``output`` (scalars of the numeric and Boolean types; strings, binaries, clocks and arrays
are not exposed), with their units, start values and min/max from the model description. The
state of a Model Exchange FMU is its continuous states; that of a Co-Simulation FMU lives
inside the FMU and is opaque (``state()`` is empty).

**Snapshots.** When the FMU declares ``canGetAndSetFMUstate``, :meth:`FmuModel.snapshot`
captures the whole FMU state (``fmi2GetFMUstate``/``fmi3GetFMUState``) and
:meth:`FmuModel.restore` puts it back, into the same model. Without it, a Model Exchange FMU
is restored from its continuous states, parameters and inputs (internal discrete states are
not captured), and a Co-Simulation FMU refuses to restore with a :class:`SimulationError`
rather than replay its whole history: replaying needs every input since the start kept
forever, and a live twin runs for months.

The FMU is unzipped once into a folder of its own and its library loaded from there, so each
model has its own copy of the library: a failing FMU (error status, NaN outputs, a Fatal that
corrupts every instance of its library) cannot disturb another model, even of the same FMU.
``fmpy`` is imported only in this module; its exceptions become :class:`SimulationError`.
"""

from __future__ import annotations

import ctypes
import logging
import math
import shutil
import tempfile
import weakref
import zipfile
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from xml.etree import ElementTree

import fmpy
from fmpy.fmi1 import FMICallException
from fmpy.fmi2 import (
    FMU2Model,
    FMU2Slave,
    fmi2CallbackAllocateMemoryTYPE,
    fmi2CallbackFreeMemoryTYPE,
    fmi2CallbackFunctions,
    fmi2CallbackLoggerTYPE,
)
from fmpy.fmi3 import FMU3Model, FMU3Slave
from fmpy.model_description import ModelDescription as FmiDescription
from fmpy.model_description import ModelVariable, read_model_description

from twinsight.core.errors import SimulationError
from twinsight.sim.model import BaseModel, ModelDescription, Snapshot, Variable

log = logging.getLogger(__name__)

Kind = Literal["auto", "co-simulation", "model-exchange"]

_STATUS = ("OK", "Warning", "Discard", "Error", "Fatal", "Pending")
_FATAL = 4

# FMI type -> (ctypes element, FMI 2.0 function suffix, FMI 3.0 function suffix)
_TYPES: dict[str, tuple[Any, str, str]] = {
    "Real": (ctypes.c_double, "Real", ""),
    "Integer": (ctypes.c_int, "Integer", ""),
    "Enumeration": (ctypes.c_int, "Integer", "Int64"),
    "Boolean": (ctypes.c_int, "Boolean", "Boolean"),
    "Float64": (ctypes.c_double, "", "Float64"),
    "Float32": (ctypes.c_float, "", "Float32"),
    "Int8": (ctypes.c_int8, "", "Int8"),
    "UInt8": (ctypes.c_uint8, "", "UInt8"),
    "Int16": (ctypes.c_int16, "", "Int16"),
    "UInt16": (ctypes.c_uint16, "", "UInt16"),
    "Int32": (ctypes.c_int32, "", "Int32"),
    "UInt32": (ctypes.c_uint32, "", "UInt32"),
    "Int64": (ctypes.c_int64, "", "Int64"),
    "UInt64": (ctypes.c_uint64, "", "UInt64"),
}
_FMI3_ELEMENT = {"Enumeration": ctypes.c_int64, "Boolean": ctypes.c_bool}
_REAL_TYPES = {"Real", "Float64", "Float32"}


class _Block:
    """Variables of one FMI type read or written in one call: the value references and the
    value buffer are built once, so a step costs one foreign call per type, not per name."""

    __slots__ = (
        "_fmi3",
        "_fmu",
        "_get",
        "_set",
        "fmi_type",
        "integral",
        "names",
        "real",
        "values",
        "variables",
    )

    def __init__(self, fmu: Any, fmi3: bool, fmi_type: str, variables: Sequence[ModelVariable]):
        element, suffix2, suffix3 = _TYPES[fmi_type]
        if fmi3:
            element = _FMI3_ELEMENT.get(fmi_type, element)
        n = len(variables)
        self._fmu, self._fmi3, self.fmi_type, self.variables = fmu, fmi3, fmi_type, variables
        self.names = tuple(v.name for v in variables)
        self.real = fmi_type in _REAL_TYPES
        self.integral = not self.real and fmi_type != "Boolean"
        vrs = (ctypes.c_uint32 * n)(*(v.valueReference for v in variables))
        self.values: Any = (element * n)()
        prefix, suffix = ("fmi3", suffix3) if fmi3 else ("fmi2", suffix2)
        self._get = _direct(fmu, f"{prefix}Get{suffix}", vrs, n, self.values, fmi3)
        self._set = _direct(fmu, f"{prefix}Set{suffix}", vrs, n, self.values, fmi3)

    def fetch(self) -> None:
        """Read the FMU's current values into the buffer."""
        self._get()

    def read(self) -> Iterable[tuple[str, float]]:
        """The buffered values by name, as floats."""
        if self.real:
            return zip(self.names, self.values[:], strict=True)
        return zip(self.names, map(float, self.values[:]), strict=True)

    def write(self, values: Mapping[str, float]) -> None:
        """Set the block's variables to ``values``; a name missing from ``values`` is left
        alone (it is not written at all)."""
        try:
            row = [values[name] for name in self.names]
        except KeyError:
            subset = [v for v in self.variables if v.name in values]
            if subset:
                _Block(self._fmu, self._fmi3, self.fmi_type, subset).write(values)
            return
        if self.integral:
            row = [round(value) for value in row]
        elif not self.real:
            row = [value != 0.0 for value in row]
        self.values[:] = row
        self._set()


def _direct(fmu: Any, function: str, *args: Any) -> Callable[[], None]:
    """A get/set call with its arguments bound, made on the library's function itself (fmpy
    has set its argument types) with the status checked here: fmpy's per-call bookkeeping
    would be most of the cost of a step of a small FMU."""
    fmi3 = args[-1]
    vrs, n, values = args[:3]
    call = getattr(fmu.dll, function)
    bound = (fmu.component, vrs, n, values, n) if fmi3 else (fmu.component, vrs, n, values)

    def run() -> None:
        status = call(*bound)
        if status > 1:
            raise FMICallException(function=function, status=status)

    return run


def _blocks(fmu: Any, fmi3: bool, variables: Sequence[ModelVariable]) -> tuple[_Block, ...]:
    by_type: dict[str, list[ModelVariable]] = {}
    for variable in variables:
        by_type.setdefault(variable.type, []).append(variable)
    return tuple(_Block(fmu, fmi3, t, vs) for t, vs in by_type.items())


class _Instance:
    """The loaded FMU instance and whether it is still open: FMU states captured by
    snapshots hold this, so one freed after the model closed does not touch freed memory."""

    __slots__ = ("fmu", "open")

    def __init__(self, fmu: Any) -> None:
        self.fmu = fmu
        self.open = True


class _SavedState:
    """One FMU state (an opaque pointer owned by the FMU), freed with the snapshot holding it
    or when the model closes, whichever comes first."""

    __slots__ = ("__weakref__", "instance", "next_event", "pointer")

    def __init__(self, instance: _Instance, pointer: ctypes.c_void_p, next_event: float | None):
        self.instance = instance
        self.pointer = pointer
        self.next_event = next_event

    def release(self) -> None:
        if self.pointer.value is not None and self.instance.open:
            try:
                self.instance.fmu.freeFMUState(self.pointer)
            except Exception:  # freeing is best effort
                log.debug("freeing an FMU state failed", exc_info=True)
        self.pointer = ctypes.c_void_p()

    def __del__(self) -> None:
        self.release()


@dataclass(frozen=True)
class FmuSnapshot(Snapshot):
    """A :class:`Snapshot` that also carries the FMU's own state, when the FMU can give it."""

    fmu_state: _SavedState | None = field(default=None, compare=False, repr=False)


def _fail(path: Path, name: str, message: str) -> SimulationError:
    return SimulationError(f"FMU {str(path)!r}: {message}", model=name)


def _number(text: str | None, default: float) -> float:
    if text is None:
        return default
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return 1.0 if lowered == "true" else 0.0
    try:
        return float(lowered)
    except ValueError:
        return default


def _variable(v: ModelVariable) -> Variable:
    declared = v.declaredType
    unit = v.unit or (declared.unit if declared is not None else None) or ""
    low = v.min if v.min is not None else (declared.min if declared is not None else None)
    high = v.max if v.max is not None else (declared.max if declared is not None else None)
    return Variable(
        v.name,
        start=_number(v.start, 0.0),
        unit=unit,
        description=v.description or "",
        min=_number(low, -math.inf),
        max=_number(high, math.inf),
    )


def _exposed(v: ModelVariable) -> bool:
    return v.type in _TYPES and not v.dimensions and v.alias is None


def _read_description(path: Path, name: str) -> FmiDescription:
    """The model description, after checking the file is an FMU this module can run."""
    if not path.is_file():
        raise _fail(path, name, "no such file")
    if not zipfile.is_zipfile(path):
        raise _fail(path, name, "not an FMU: the file is not a zip archive")
    try:
        with zipfile.ZipFile(path) as archive:
            broken = archive.testzip()
            if broken is not None:
                raise _fail(path, name, f"the archive is corrupt (bad checksum in {broken!r})")
            if "modelDescription.xml" not in archive.namelist():
                raise _fail(path, name, "not an FMU: it has no modelDescription.xml")
            root = ElementTree.fromstring(archive.read("modelDescription.xml"))
    except (zipfile.BadZipFile, OSError, EOFError, ElementTree.ParseError) as error:
        raise _fail(path, name, f"cannot be read: {error}") from None
    version = root.get("fmiVersion", "")
    if version != "2.0" and not version.startswith("3."):
        raise _fail(
            path, name, f"FMI version {version or '(none)'!r} is not supported (2.0 and 3.x are)"
        )
    try:
        return read_model_description(str(path))
    except Exception as error:  # fmpy raises Exception and its ValidationError
        raise _fail(path, name, f"its modelDescription.xml is invalid: {error}") from None


class FmuModel(BaseModel):
    """An FMU run through fmpy (see the module docstring for what is supported).

    ``kind`` picks Co-Simulation or Model Exchange when the FMU offers both (``"auto"``
    prefers Co-Simulation); ``step_size`` is the largest Model Exchange sub-step (default:
    the FMU's ``DefaultExperiment/stepSize``, else 1 ms); ``parameters`` overrides start
    values before the FMU is initialised.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        name: str | None = None,
        kind: Kind = "auto",
        parameters: Mapping[str, float] | None = None,
        step_size: float | None = None,
    ) -> None:
        self.path = Path(path)
        name = name or self.path.stem
        md = _read_description(self.path, name)
        self._fmi3 = md.fmiVersion.startswith("3.")
        interface = self._interface(md, kind, name)
        self._me = interface is md.modelExchange
        self._check_platform(interface.modelIdentifier, name)
        self._can_save = bool(interface.canGetAndSetFMUstate)

        variables = [v for v in md.modelVariables if _exposed(v)]
        params = [v for v in variables if v.causality == "parameter"]
        inputs = [v for v in variables if v.causality == "input"]
        outputs = [v for v in variables if v.causality == "output"]
        states = [u.variable.derivative for u in md.derivatives] if self._me else []
        super().__init__(
            ModelDescription(
                name,
                parameters=tuple(map(_variable, params)),
                states=tuple(map(_variable, states)),
                inputs=tuple(map(_variable, inputs)),
                outputs=tuple(map(_variable, outputs)),
                description=md.description or "",
            )
        )
        self._fixed = {v.name for v in params if v.variability != "tunable"}
        self._settable = {v.name for v in params + inputs if v.start is not None}
        self._discrete_inputs = {v.name for v in inputs if v.variability != "continuous"}
        if step_size is None:
            default = md.defaultExperiment
            step_size = _number(default.stepSize if default else None, 1e-3)
        if not step_size > 0 or math.isinf(step_size):
            raise SimulationError(f"step_size must be positive, got {step_size!r}", model=name)
        self._step_size = step_size

        self._messages: deque[str] = deque(maxlen=8)
        self._unzipped = Path(tempfile.mkdtemp(prefix="twinsight-fmu-"))
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._unzipped, True)
        self._failed: str | None = None
        self._fatal = False
        self._stepped = False
        self._inputs_dirty = False
        self._input_event = False
        self._fresh = False  # the output buffers hold the outputs at the current time
        self._saved: weakref.WeakSet[_SavedState] = weakref.WeakSet()
        try:
            fmpy.extract(str(self.path), unzipdir=str(self._unzipped))
            self._instance = _Instance(self._load(md, interface.modelIdentifier))
        except SimulationError:
            self._cleanup()
            raise
        except Exception as error:
            self._cleanup()
            raise _fail(self.path, name, f"cannot be loaded: {error}{self._log_tail()}") from None
        fmu = self._instance.fmu
        self._param_blocks = _blocks(fmu, self._fmi3, params)
        self._input_blocks = _blocks(fmu, self._fmi3, inputs)
        self._output_blocks = _blocks(fmu, self._fmi3, outputs)
        self._real_outputs = [b for b in self._output_blocks if b.real]
        only = self._output_blocks[0] if len(self._output_blocks) == 1 else None
        self._single_output = only if only is not None and only.real else None
        self._input_bounds = {v.name: (v.min, v.max) for v in self._description.inputs}
        self._bind_stepping(md)
        if parameters:
            self._parameters.update(
                self._checked(parameters, self._description.parameters, "parameter")
            )
        self._guard("initialising", self._initialize)

    # -- loading -------------------------------------------------------------------------
    def _interface(self, md: FmiDescription, kind: Kind, name: str) -> Any:
        offered = {"co-simulation": md.coSimulation, "model-exchange": md.modelExchange}
        if kind == "auto":
            interface = md.coSimulation or md.modelExchange
        elif kind in offered:
            interface = offered[kind]
        else:
            raise SimulationError(
                f"kind must be 'auto', 'co-simulation' or 'model-exchange', got {kind!r}",
                model=name,
            )
        if interface is None:
            has = [k for k, v in offered.items() if v is not None] or ["neither"]
            raise _fail(self.path, name, f"it offers no {kind} (it offers {', '.join(has)})")
        return interface

    def _check_platform(self, identifier: str, name: str) -> None:
        platform = fmpy.platform_tuple if self._fmi3 else fmpy.platform
        library = f"binaries/{platform}/{identifier}{fmpy.sharedLibraryExtension}"
        with zipfile.ZipFile(self.path) as archive:
            members = archive.namelist()
        if library not in members:
            built = sorted(
                {m.split("/")[1] for m in members if m.startswith("binaries/") and m.count("/") > 1}
            )
            raise _fail(
                self.path,
                name,
                f"no binary for this platform ({platform}): it has "
                + (f"binaries for {', '.join(built)}" if built else "no binaries")
                + f" (looked for {library})",
            )

    def _load(self, md: FmiDescription, identifier: str) -> Any:
        cls: Any = (
            (FMU3Model if self._me else FMU3Slave)
            if self._fmi3
            else (FMU2Model if self._me else FMU2Slave)
        )
        fmu = cls(
            guid=md.guid,
            unzipDirectory=str(self._unzipped),
            modelIdentifier=identifier,
            instanceName=self.name,
        )
        if self._fmi3:
            self._logger: Any = None  # fmpy keeps the FMI 3.0 callback itself
            fmu.instantiate(logMessage=self._log3)
        else:
            callbacks = fmi2CallbackFunctions()
            callbacks.logger = fmi2CallbackLoggerTYPE(self._log2)
            callbacks.allocateMemory = fmi2CallbackAllocateMemoryTYPE(fmpy.calloc)
            callbacks.freeMemory = fmi2CallbackFreeMemoryTYPE(fmpy.free)
            from fmpy.logging import addLoggerProxy

            addLoggerProxy(ctypes.byref(callbacks))
            self._logger = callbacks  # kept alive as long as the instance
            fmu.instantiate(callbacks=callbacks)
        return fmu

    def _log2(self, env: Any, instance: Any, status: int, category: Any, message: Any) -> None:
        self._log(status, message)

    def _log3(self, env: Any, status: int, category: Any, message: Any) -> None:
        self._log(status, message)

    def _log(self, status: int, message: bytes | None) -> None:
        text = (message or b"").decode("utf-8", "replace")
        label = _STATUS[status] if 0 <= status < len(_STATUS) else str(status)
        self._messages.append(f"[{label}] {text}")
        log.log(logging.WARNING if status >= 1 else logging.DEBUG, "%s: %s", self.name, text)

    def _log_tail(self) -> str:
        return f" (the FMU said: {' '.join(self._messages)})" if self._messages else ""

    def _bind_stepping(self, md: FmiDescription) -> None:
        """Cache what a step calls, so advance() does no look-ups."""
        fmu = self._instance.fmu
        component = fmu.component
        if not self._me:
            if self._fmi3:
                flags = [ctypes.c_bool() for _ in range(3)]
                last = ctypes.c_double()
                refs = (*(ctypes.byref(f) for f in flags), ctypes.byref(last))
                do_step3 = fmu.dll.fmi3DoStep
                self._terminate_flag: ctypes.c_bool | None = flags[1]

                def step(t: float, dt: float) -> None:
                    status = do_step3(component, t, dt, True, *refs)
                    if status > 1:
                        raise FMICallException(function="fmi3DoStep", status=status)

            else:
                do_step2 = fmu.dll.fmi2DoStep
                self._terminate_flag = None

                def step(t: float, dt: float) -> None:
                    status = do_step2(component, t, dt, 1)
                    if status > 1:
                        raise FMICallException(function="fmi2DoStep", status=status)

            self._step = step
            return
        nx = md.numberOfContinuousStates
        nz = md.numberOfEventIndicators
        self._nx, self._nz = nx, nz
        self._x: Any = (ctypes.c_double * nx)()
        self._dx: Any = (ctypes.c_double * nx)()
        self._z: Any = (ctypes.c_double * nz)()
        self._needs_completed = bool(getattr(md.modelExchange, "needsCompletedIntegratorStep", 0))
        self._get_dx = fmu.getContinuousStateDerivatives if self._fmi3 else fmu.getDerivatives
        self._next_event: float | None = None

    # -- initialisation and events ---------------------------------------------------------
    def _initialize(self) -> None:
        fmu = self._instance.fmu
        values = self._parameters | self._inputs
        settable = {k: v for k, v in values.items() if k in self._settable}
        if self._fmi3:
            self._write(self._param_blocks + self._input_blocks, settable)
            fmu.enterInitializationMode(startTime=0.0)
        else:
            fmu.setupExperiment(startTime=0.0)
            self._write(self._param_blocks + self._input_blocks, settable)
            fmu.enterInitializationMode()
        fmu.exitInitializationMode()
        self._inputs_dirty = False
        self._fresh = False
        if self._me:
            self._event_iteration(enter=False)

    def _reinitialize(self) -> None:
        self._instance.fmu.reset()
        self._initialize()

    def _event_iteration(self, *, enter: bool = True) -> None:
        """Event mode: let the FMU update its discrete states until it settles, then go back
        to continuous time with the states and indicators it now has."""
        fmu = self._instance.fmu
        if enter:
            fmu.enterEventMode()
        update = fmu.updateDiscreteStates if self._fmi3 else fmu.newDiscreteStates
        again = True
        while again:
            again, terminate, _, _, defined, next_time = update()
            if terminate:
                raise SimulationError(
                    f"the FMU asked to terminate at t={self._time:g} s{self._log_tail()}",
                    model=self.name,
                )
        self._next_event = float(next_time) if defined else None
        fmu.enterContinuousTimeMode()
        self._read_continuous()

    def _read_continuous(self) -> None:
        fmu = self._instance.fmu
        if self._nx:
            fmu.getContinuousStates(self._x, self._nx)
        if self._nz:
            fmu.getEventIndicators(self._z, self._nz)

    # -- stepping ----------------------------------------------------------------------------
    def advance(self, dt: float) -> None:
        """As :meth:`BaseModel.advance`; a co-simulation step takes a short path of its own
        (one input write if inputs changed, one ``doStep``, one output read per type)."""
        if self._me:
            super().advance(dt)
            return
        if not dt > 0 or math.isinf(dt):
            raise SimulationError(
                f"advance needs a positive, finite step in seconds, got {dt!r}", model=self.name
            )
        if self._failed is not None:
            raise SimulationError(self._failed, model=self.name)
        try:
            self._cs_step(dt)
        except SimulationError:
            raise
        except FMICallException as error:
            raise self._call_failed(error, "advancing") from None
        self._time += dt
        self._stepped = True

    def _advance(self, dt: float) -> None:
        if self._failed is not None:
            raise SimulationError(self._failed, model=self.name)
        self._guard("advancing", self._me_step if self._me else self._cs_step, dt)
        self._stepped = True

    def _cs_step(self, dt: float) -> None:
        if self._inputs_dirty:
            for block in self._input_blocks:
                block.write(self._inputs)
            self._inputs_dirty = False
        self._step(self._time, dt)
        if self._terminate_flag is not None and self._terminate_flag.value:
            raise SimulationError(
                f"the FMU asked to terminate at t={self._time + dt:g} s{self._log_tail()}",
                model=self.name,
            )
        self._fetch_outputs(self._time + dt)

    def _me_step(self, dt: float) -> None:
        fmu = self._instance.fmu
        if self._inputs_dirty:
            self._write(self._input_blocks, self._inputs)
            self._inputs_dirty = False
            if self._input_event:
                self._input_event = False
                fmu.setTime(self._time)
                self._event_iteration()
        t, end = self._time, self._time + dt
        tiny = 1e-12 * max(1.0, abs(end))
        while end - t > tiny:
            pieces = math.ceil((end - t) / self._step_size - 1e-9)
            target = t + (end - t) / pieces
            time_event = self._next_event is not None and self._next_event < target + tiny
            if time_event:
                target = max(min(self._next_event or target, end), t)
            self._rk4(t, target)
            t = target
            step_event = False
            if self._needs_completed:
                step_event, terminate = fmu.completedIntegratorStep()
                if terminate:
                    raise SimulationError(
                        f"the FMU asked to terminate at t={t:g} s{self._log_tail()}",
                        model=self.name,
                    )
            before = list(self._z)
            self._read_continuous()
            state_event = any(
                (a < 0.0 <= b) or (a > 0.0 >= b) for a, b in zip(before, self._z, strict=True)
            )
            if time_event or step_event or state_event:
                self._event_iteration()
        self._fetch_outputs(end)

    def _rk4(self, t: float, t1: float) -> None:
        """One classical Runge-Kutta step of the FMU's states from ``t`` to ``t1``."""
        h = t1 - t
        x0 = list(self._x)
        k1 = self._derivatives(t, x0)
        k2 = self._derivatives(t + h / 2, [a + h / 2 * b for a, b in zip(x0, k1, strict=True)])
        k3 = self._derivatives(t + h / 2, [a + h / 2 * b for a, b in zip(x0, k2, strict=True)])
        k4 = self._derivatives(t1, [a + h * b for a, b in zip(x0, k3, strict=True)])
        for i in range(self._nx):
            self._x[i] = x0[i] + h / 6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i])
        fmu = self._instance.fmu
        fmu.setTime(t1)
        fmu.setContinuousStates(self._x, self._nx)

    def _derivatives(self, t: float, x: list[float]) -> list[float]:
        fmu = self._instance.fmu
        fmu.setTime(t)
        self._x[:] = x
        fmu.setContinuousStates(self._x, self._nx)
        self._get_dx(self._dx, self._nx)
        return list(self._dx)

    def _fetch_outputs(self, t: float) -> None:
        """Read the outputs into their buffers; a NaN fails the model (it would otherwise
        flow on into twins and other models)."""
        for block in self._output_blocks:
            block.fetch()
        for block in self._real_outputs:
            values = block.values[:]
            if not math.isnan(sum(values)):  # one test for the usual case: no NaN at all
                continue
            for name, value in zip(block.names, values, strict=True):
                if math.isnan(value):
                    self._failed = (
                        f"FMU {str(self.path)!r} gave a NaN for output {name!r} at t={t:g} s"
                        f"{self._log_tail()}"
                    )
                    raise SimulationError(self._failed, model=self.name, code="SimulationDiverged")
        self._fresh = True

    def _write(self, blocks: Iterable[_Block], values: Mapping[str, float]) -> None:
        for block in blocks:
            block.write(values)

    def _guard(self, doing: str, action: Callable[..., None], *args: Any) -> None:
        """Run FMU calls, turning fmpy's exceptions into a SimulationError that names the
        file, the FMI function, the status and what the FMU logged; after Error or Fatal the
        model refuses to go on (restore a snapshot, or build a new model)."""
        try:
            action(*args)
        except SimulationError:
            raise
        except FMICallException as error:
            raise self._call_failed(error, doing) from None
        except (OSError, ValueError, TypeError, ctypes.ArgumentError) as error:
            raise _fail(self.path, self.name, f"failed while {doing}: {error}") from None

    def _call_failed(self, error: FMICallException, doing: str) -> SimulationError:
        status = _STATUS[error.status] if 0 <= error.status < len(_STATUS) else error.status
        message = (
            f"FMU {str(self.path)!r} returned {status} from {error.function} while "
            f"{doing} at t={self._time:g} s{self._log_tail()}"
        )
        if error.status >= 3:
            self._failed = message + ("; its library is unusable" if error.status >= _FATAL else "")
            self._fatal = error.status >= _FATAL
        return SimulationError(message, model=self.name, code="FmuError")

    # -- the model interface -----------------------------------------------------------------
    def set_inputs(self, values: Mapping[str, float]) -> None:
        bounds, inputs = self._input_bounds, self._inputs
        try:
            for name, value in values.items():
                low, high = bounds[name]
                number = float(value)
                if not low <= number <= high:  # also catches NaN
                    raise ValueError(name)
        except (KeyError, ValueError, TypeError):
            super().set_inputs(values)  # raises the usual error, changing nothing
            return
        for name, value in values.items():
            inputs[name] = float(value)
        self._inputs_dirty = True
        self._fresh = False
        if self._discrete_inputs and not self._discrete_inputs.isdisjoint(values):
            self._input_event = True

    def set_parameters(self, values: Mapping[str, float]) -> None:
        self._open()
        checked = self._checked(values, self._description.parameters, "parameter")
        changed = {k: v for k, v in checked.items() if self._parameters[k] != v}
        fixed = sorted(self._fixed.intersection(changed))
        if fixed and self._stepped:
            raise SimulationError(
                f"parameter {', '.join(map(repr, fixed))} is fixed in the FMU: it can change "
                "only before the first step (build a new model to change it)",
                model=self.name,
            )
        self._parameters.update(checked)
        self._fresh = False
        if fixed:
            self._guard("re-initialising", self._reinitialize)
        elif changed:
            self._guard("setting parameters", self._set_tunable, changed)

    def _set_tunable(self, changed: Mapping[str, float]) -> None:
        fmu = self._instance.fmu
        if self._me:
            fmu.enterEventMode()
        self._write(self._param_blocks, changed)
        if self._me:
            self._event_iteration(enter=False)

    def state(self) -> dict[str, float]:
        if not self._me:
            return {}
        return dict(zip(self._state, self._x, strict=True))

    def set_state(self, values: Mapping[str, float]) -> None:
        checked = self._checked(values, self._description.states, "state")
        if not checked:
            return
        self._open()
        for i, name in enumerate(self._state):
            if name in checked:
                self._x[i] = checked[name]
        fmu = self._instance.fmu
        self._guard("setting states", fmu.setContinuousStates, self._x, self._nx)
        self._guard("reading event indicators", self._read_continuous)
        self._fresh = False

    def outputs(self) -> dict[str, float]:
        if not self._fresh:
            self._open()

            def read() -> None:
                if self._inputs_dirty:
                    self._write(self._input_blocks, self._inputs)
                    self._inputs_dirty = False
                self._fetch_outputs(self._time)

            self._guard("reading outputs", read)
        if self._single_output is not None:
            single = self._single_output
            return dict(zip(single.names, single.values[:], strict=True))
        outputs: dict[str, float] = {}
        for block in self._output_blocks:
            outputs.update(block.read())
        return outputs

    def snapshot(self) -> FmuSnapshot:
        saved = None
        if self._can_save and self._failed is None:
            self._open()
            pointer = ctypes.c_void_p()
            fmu = self._instance.fmu
            get = fmu.fmi3GetFMUState if self._fmi3 else fmu.fmi2GetFMUstate
            self._guard("saving the FMU state", get, fmu.component, ctypes.byref(pointer))
            saved = _SavedState(self._instance, pointer, getattr(self, "_next_event", None))
            self._saved.add(saved)
        return FmuSnapshot(
            self.name,
            self._time,
            self.parameters(),
            self.state(),
            self.inputs(),
            fmu_state=saved,
        )

    def restore(self, snapshot: Snapshot) -> None:
        if snapshot.model != self.name:
            raise SimulationError(
                f"cannot restore a snapshot of model {snapshot.model!r}", model=self.name
            )
        self._open()
        if self._fatal:
            raise SimulationError(f"{self._failed}: build a new model", model=self.name)
        saved = snapshot.fmu_state if isinstance(snapshot, FmuSnapshot) else None
        if saved is not None and saved.instance is self._instance:
            self._restore_fmu_state(snapshot, saved)
        elif self._me:
            self._restore_continuous(snapshot)
        elif snapshot.time == 0.0 and self._time == 0.0 and not self._stepped:
            self._restore_start(snapshot)
        elif saved is not None:
            raise SimulationError(
                "this snapshot holds the FMU state of another model instance; restore it into "
                "the model that took it",
                model=self.name,
            )
        elif self._can_save:
            raise SimulationError(
                f"this snapshot of FMU {str(self.path)!r} at t={snapshot.time:g} s holds no "
                "FMU state (it was kept as plain values), and a co-simulation FMU's state "
                "after its first step lives only inside the FMU: restore a snapshot this "
                "model took, or one taken before the first step",
                model=self.name,
            )
        else:
            raise SimulationError(
                f"FMU {str(self.path)!r} does not declare canGetAndSetFMUstate, so a "
                "co-simulation snapshot cannot be restored (build a new model instead)",
                model=self.name,
            )

    def _restore_fmu_state(self, snapshot: Snapshot, saved: _SavedState) -> None:
        fmu = self._instance.fmu
        put = fmu.fmi3SetFMUState if self._fmi3 else fmu.fmi2SetFMUstate
        self._guard("restoring the FMU state", put, fmu.component, saved.pointer)
        self._failed = None
        self._parameters.update(snapshot.parameters)
        self._inputs.update(snapshot.inputs)
        self._inputs_dirty = True
        self._time = snapshot.time
        self._stepped = snapshot.time > 0
        self._fresh = False
        if self._me:
            self._next_event = saved.next_event
            self._guard("reading states", self._read_continuous)

    def _restore_start(self, snapshot: Snapshot) -> None:
        """A co-simulation FMU before its first step is wholly given by its start values,
        so a snapshot taken then — by any instance of the FMU, or stored as plain values
        (a what-if fork of a twin bound to it) — is restored into an instance that has not
        stepped either by setting its parameters and inputs."""
        self._failed = None
        self.set_parameters(snapshot.parameters)
        self.set_inputs(snapshot.inputs)

    def _restore_continuous(self, snapshot: Snapshot) -> None:
        """Model Exchange without FMU-state support: parameters, inputs, time and the
        continuous states are put back (discrete states inside the FMU are not)."""
        fixed = sorted(
            n
            for n in self._fixed
            if snapshot.parameters.get(n, self._parameters[n]) != self._parameters[n]
        )
        if fixed and self._stepped:
            raise SimulationError(
                f"the snapshot has other values of the fixed parameters {', '.join(fixed)}",
                model=self.name,
            )
        self._failed = None
        self.set_parameters(snapshot.parameters)
        self.set_inputs(snapshot.inputs)
        self._time = snapshot.time
        self._guard("setting the time", self._instance.fmu.setTime, self._time)
        self.set_state(snapshot.state)
        self._stepped = snapshot.time > 0

    def close(self) -> None:
        instance = getattr(self, "_instance", None)
        if instance is None or not instance.open:
            return
        for saved in list(self._saved):
            saved.release()
        try:
            if self._failed is None:
                instance.fmu.terminate()
        except Exception:  # closing goes on whatever the FMU says
            log.debug("%s: terminate failed", self.name, exc_info=True)
        try:
            instance.fmu.freeInstance()
        except Exception:
            log.debug("%s: freeInstance failed", self.name, exc_info=True)
        instance.open = False
        self._cleanup()

    def _open(self) -> None:
        if not self._instance.open:
            raise SimulationError("the model is closed", model=self.name)

    def _check_finite(self) -> None:
        if self._me:
            super()._check_finite()
