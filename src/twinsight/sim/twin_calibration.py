"""Calibration and parameter versions of a twin's model, as a platform service.

:func:`~twinsight.sim.calibration.calibrate` fits any model to plain arrays; this service
answers the questions around it for a *twin* of the world's
:class:`~twinsight.sim.spec.SimulationSpec`: which model simulates the twin (its binding),
where the model's inputs, outputs and start state are recorded (the binding's mappings,
with the same unit conversions), what the model runs with now and why (default, twin
property, fixed in the binding, or a calibrated version), and where a fitted result goes
(the next parameter version of the twin, which live runs and what-if forks then use).

A request is checked before anything runs and refused with the reason and where it lies
(unknown twin, unknown parameter, a window with no recorded measurement, an input nobody
recorded); a refused or failed calibration stores nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from twinsight.core.errors import BadRequest, Conflict, SimulationError
from twinsight.core.ports import ParameterVersion
from twinsight.graph.service import TwinGraph
from twinsight.graph.validation import is_of_model
from twinsight.history.service import History
from twinsight.models.repository import ModelRepository
from twinsight.sim.binding import (
    GraphValues,
    ModelBinding,
    Route,
    SimulationBuilder,
    TwinSimulation,
    TwinValue,
    model_value,
)
from twinsight.sim.calibration import CalibrationData, CalibrationReport, calibrate
from twinsight.sim.calibration_request import CalibrationRequest, invalid
from twinsight.sim.model import SimulationModel
from twinsight.sim.parameters import ParameterVersions
from twinsight.sim.spec import SimulationSpec


@dataclass(frozen=True)
class CalibrationOutcome:
    """A calibration's report, the mappings it used and the version it stored (if any)."""

    twin_id: str
    model: str
    report: CalibrationReport
    request: CalibrationRequest
    step: float
    series: Mapping[str, Mapping[str, str]]
    """Where each input, output and state came from (``{"inputs": {name: source}}``...)."""
    version: int | None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        summary = self.report.summary()
        units = {fit.name: fit.unit for fit in self.report.parameters.values()}
        for name, fit in summary["parameters"].items():
            fit["unit"] = units.get(name, "")
        return {
            "twin": self.twin_id,
            "model": self.model,
            "version": self.version,
            "applied": self.version is not None,
            "window": {
                "from": _iso(self.request.start),
                "to": _iso(self.request.end),
                "step": self.step,
            },
            **{k: v for k, v in summary.items() if k != "model"},
            "units": dict(self.report.units),
            "series": {k: dict(v) for k, v in self.series.items()},
            "notes": list(self.notes),
        }


def _iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def version_dict(version: ParameterVersion) -> dict[str, Any]:
    """A stored version as JSON: number, values, source, when, and the fit summary."""
    return {
        "twin": version.twin_id,
        "model": version.model,
        "version": version.version,
        "parameters": dict(version.parameters),
        "source": version.source,
        "created": _iso(version.created),
        "summary": version.summary,
    }


def binding_for(
    graph: TwinGraph, models: ModelRepository, spec: SimulationSpec, twin_id: str
) -> ModelBinding:
    """The binding of ``spec`` that gives ``twin_id`` its model, as the builder picks it (a
    binding naming the twin first, else the first whose DTDL model the twin is of): 404
    for an unknown twin, 409 ``TwinNotSimulated`` when no binding covers it."""
    twin = graph.get_twin(twin_id)
    for binding in spec.bindings:
        if binding.twin == twin_id:
            return binding
    dtdl = twin["$metadata"]["$model"]
    model_set = models.model_set
    for binding in spec.bindings:
        if binding.dtdl_model is not None and is_of_model(model_set, dtdl, binding.dtdl_model):
            return binding
    covered = sorted({b.target for b in spec.bindings})
    raise Conflict(
        f"twin {twin_id!r} ({dtdl}) is not simulated: no binding of the world gives it a "
        f"model (bound: {', '.join(covered) or 'nothing'})",
        code="TwinNotSimulated",
    )


class TwinCalibrations:
    """Calibrate twins' models from their history and keep the results as versions."""

    def __init__(
        self,
        graph: TwinGraph,
        models: ModelRepository,
        history: History,
        versions: ParameterVersions,
        spec: SimulationSpec,
    ) -> None:
        self._graph = graph
        self._models = models
        self._history = history
        self._versions = versions
        self.spec = spec

    # ------------------------------------------------------------------ bindings
    def binding(self, twin_id: str) -> ModelBinding:
        """The binding that gives ``twin_id`` its model (see :func:`binding_for`)."""
        return binding_for(self._graph, self._models, self.spec, twin_id)

    def _build(
        self, twin_id: str, binding: ModelBinding, at: datetime | None
    ) -> tuple[TwinSimulation, SimulationModel]:
        """The twin's model on its own (no couplings, not in a fleet), with its parameters
        (the active calibrated version at ``at`` included) and its state at ``at``."""
        builder = SimulationBuilder(
            self._graph,
            self.spec.catalog,
            GraphValues(self._graph, self._history),
            calibrated=self._versions,
        )
        solo = replace(binding, twin=twin_id, dtdl_model=None, fleet=False)
        simulation = builder.build([solo], twins=[twin_id], at=at)
        model, _ = simulation.locate(twin_id)
        return simulation, model

    # ------------------------------------------------------------------ parameters
    def parameters(self, twin_id: str) -> dict[str, Any]:
        """The parameters the twin's model runs with now, and where each comes from:
        ``default`` (the model's own), ``twin`` (read from a property), ``binding`` (fixed
        in the world's spec) or ``calibrated`` (with the active version's number)."""
        binding = self.binding(twin_id)
        active = self._versions.active(twin_id, binding.model)
        simulation, model = self._build(twin_id, binding, None)
        try:
            values = model.parameters()
            described = model.description.parameters
        finally:
            simulation.close()
        reader = GraphValues(self._graph)
        calibrated = active.parameters if active is not None else {}
        rows: dict[str, dict[str, Any]] = {}
        for variable in described:
            name = variable.name
            row: dict[str, Any] = {"value": values[name], "unit": variable.unit}
            if name in calibrated:
                row.update(source="calibrated", version=active.version if active else None)
            elif name in binding.values:
                row["source"] = "binding"
            elif name in binding.parameters and (
                reader.read(twin_id, TwinValue(binding.parameters[name]), None) is not None
            ):
                row.update(source="twin", property=binding.parameters[name])
            else:
                row["source"] = "default"
            row.update(min=_finite(variable.min), max=_finite(variable.max))
            if variable.description:
                row["description"] = variable.description
            rows[name] = row
        return {
            "twin": twin_id,
            "model": binding.model,
            "activeVersion": active.version if active is not None else None,
            "parameters": rows,
        }

    def versions(self, twin_id: str) -> list[ParameterVersion]:
        """Every stored version of the twin's model, oldest first."""
        return self._versions.history(twin_id, self.binding(twin_id).model)

    def version(self, twin_id: str, version: int) -> ParameterVersion:
        return self._versions.get(twin_id, self.binding(twin_id).model, version)

    def activate(self, twin_id: str, version: int) -> ParameterVersion:
        """Roll back (or forward) to ``version``: its values become the next version."""
        model = self.binding(twin_id).model
        number = self._versions.activate(twin_id, model, version)
        return self._versions.get(twin_id, model, number)

    # ------------------------------------------------------------------ calibration
    def calibrate(self, twin_id: str, request: CalibrationRequest) -> CalibrationOutcome:
        """Fit ``request.parameters`` of the twin's model to its history in the window,
        and store the result as the next version unless ``request.apply`` is false."""
        request.check_window()
        binding = self.binding(twin_id)
        # Build once to learn the model's names (and the inputs as the twin has them now),
        # then again with the mappings to use.
        simulation, model = self._build(twin_id, binding, None)
        try:
            self._check_names(model, request)
            now = model.inputs()
        finally:
            simulation.close()
        notes: list[str] = []
        inputs, held, virtual = self._inputs(twin_id, binding, model, request)
        for name, where in list(inputs.items()):
            if name not in request.inputs and not self._ever_recorded(twin_id, where, request):
                # A set-point written once, before history was kept: it has held since.
                del inputs[name]
                held[name] = now[name]
                notes.append(
                    f"input {name} ({where}) has no recorded value up to the window's end; "
                    f"held at {now[name]:g}, the twin's value now"
                )
        outputs = self._outputs(twin_id, binding, request, notes)
        states = {k: v for k, v in request.states.items() if isinstance(v, str)}
        mapped = replace(
            binding,
            inputs=inputs,
            outputs=outputs,
            states={**binding.states, **states},
        )
        simulation, model = self._build(twin_id, mapped, request.start)
        notes += simulation.notes
        try:
            model.set_state({k: v for k, v in request.states.items() if isinstance(v, float)})
            convert: dict[str, Callable[[Any], float | None]] = {
                route.value.path: _converter(route)
                for route in (*simulation.inputs, *simulation.outputs)
            }
            recorded_inputs = {r.variable: r.value.path for r in simulation.inputs}
            recorded_inputs.update(virtual)
            data = CalibrationData.from_history(
                self._history,
                twin_id,
                start=request.start,
                end=request.end,
                step=request.step,
                inputs=recorded_inputs,
                outputs={r.variable: r.value.path for r in simulation.outputs},
                convert=convert,
            )
            data = replace(
                data,
                inputs={**data.inputs, **{k: _full(data, v) for k, v in held.items()}},
            )
            report = calibrate(
                model,
                data,
                request.parameters,
                initial=request.initial,
                max_evaluations=request.max_evaluations,
            )
        finally:
            simulation.close()
        step = float(data.times[1] - data.times[0]) if data.times.size > 1 else 0.0
        version = None
        if request.apply:
            summary = {
                **report.summary(),
                "window": {"from": _iso(request.start), "to": _iso(request.end), "step": step},
                "calibrated": list(request.parameters),
            }
            merged = {**self._versions.active_values(twin_id, binding.model), **report.values()}
            version = self._versions.save(twin_id, binding.model, merged, summary)
        series = {
            "inputs": {
                **inputs,
                **{k: f"telemetry:{v} (virtual sensor)" for k, v in virtual.items()},
                **{k: f"held at {v:g}" for k, v in held.items()},
            },
            "outputs": outputs,
            "states": {
                **{k: _text(v) for k, v in binding.states.items()},
                **{
                    k: str(v) if isinstance(v, str) else f"{v:g}" for k, v in request.states.items()
                },
            },
        }
        return CalibrationOutcome(
            twin_id, binding.model, report, request, step, series, version, tuple(notes)
        )

    def _check_names(self, model: SimulationModel, request: CalibrationRequest) -> None:
        d = model.description
        known = {
            "parameters": {v.name for v in d.parameters},
            "inputs": {v.name for v in d.inputs},
            "outputs": {v.name for v in d.outputs},
            "states": {v.name for v in d.states},
            "initial": {v.name for v in d.parameters},
        }
        problems: list[str] = []
        for what, given in (
            ("parameters", request.parameters),
            ("inputs", request.inputs),
            ("outputs", request.outputs or {}),
            ("states", request.states),
            ("initial", request.initial),
        ):
            unknown = [n for n in given if n not in known[what]]
            if unknown:
                kind = "parameters" if what == "initial" else what
                problems.append(
                    f"{what}: model {d.name!r} has no {kind[:-1]} "
                    f"{', '.join(map(repr, unknown))} (its {kind}: "
                    f"{', '.join(sorted(known[what])) or 'none'})"
                )
        if len(set(request.parameters)) != len(request.parameters):
            problems.append("parameters: a parameter is named more than once")
        if problems:
            raise BadRequest(
                "cannot calibrate: " + "; ".join(problems),
                code="InvalidArgument",
                details=[{"code": "InvalidArgument", "message": p} for p in problems],
            )

    def _fed_by_couplings(self, binding: ModelBinding) -> dict[str, str]:
        """Inputs of the binding's model that another twin's model feeds (input ->
        relationship): nothing on this twin records them."""
        fed: dict[str, str] = {}
        for c in self.spec.couplings:
            sink = c.source_model if c.reverse else c.target_model
            if sink == binding.model:
                fed.setdefault(c.input, c.relationship)
        return fed

    def _virtual_sensor(self, twin_id: str, name: str) -> str | None:
        """The virtual sensor an estimator of the world publishes for model variable
        ``name`` on the twin, if any (an estimated load, recorded like telemetry)."""
        dtdl = self._graph.get_twin(twin_id)["$metadata"]["$model"]
        models = self._models.model_set
        for estimator in self.spec.estimators:
            if estimator.twin != twin_id and not (
                estimator.dtdl_model is not None and is_of_model(models, dtdl, estimator.dtdl_model)
            ):
                continue
            for state in estimator.config.states:
                if state.name == name and state.publish_as:
                    return state.publish_as
        return None

    def _inputs(
        self,
        twin_id: str,
        binding: ModelBinding,
        model: SimulationModel,
        request: CalibrationRequest,
    ) -> tuple[dict[str, str], dict[str, float], dict[str, str]]:
        """(recorded inputs -> twin value, held inputs -> value, inputs read from a
        virtual sensor -> its telemetry name)."""
        recorded = {k: _text(v) for k, v in binding.inputs.items()}
        held: dict[str, float] = {}
        virtual: dict[str, str] = {}
        for name, given in request.inputs.items():
            recorded.pop(name, None)
            if isinstance(given, float):
                held[name] = given
            else:
                recorded[name] = given
        missing: list[str] = []
        for name, relationship in self._fed_by_couplings(binding).items():
            if name in recorded or name in held:
                continue
            sensor = self._virtual_sensor(twin_id, name)
            if sensor is not None:
                virtual[name] = sensor
            else:
                missing.append(f"{name!r} (fed through {relationship!r})")
        if missing:
            known = {v.name: v for v in model.description.inputs}
            example = missing[0].split("'")[1]
            raise BadRequest(
                f"cannot calibrate twin {twin_id!r}: input(s) {', '.join(missing)} of model "
                f"{binding.model!r} come from another twin's model and are not recorded on "
                f'this twin; say what they were: "inputs": {{"{example}": '
                f"{known[example].start:g}}} (held) or "
                f'{{"{example}": "telemetry:NAME"}} (a recorded series)',
                code="InvalidArgument",
            )
        return recorded, held, virtual

    def _outputs(
        self,
        twin_id: str,
        binding: ModelBinding,
        request: CalibrationRequest,
        notes: list[str],
    ) -> dict[str, str]:
        bound = {k: _text(v) for k, v in binding.outputs.items()}
        if request.outputs is not None:
            chosen: dict[str, str] = {}
            for name, where in request.outputs.items():
                if where:
                    chosen[name] = where
                elif name in bound:
                    chosen[name] = bound[name]
                else:
                    raise invalid(
                        f"output {name!r} is not bound to the twin; say where it is recorded: "
                        f'"outputs": {{"{name}": "telemetry:NAME"}}'
                    )
            candidates = chosen
        else:
            candidates = bound
        kept: dict[str, str] = {}
        for name, where in candidates.items():
            if self._recorded(twin_id, where, request):
                kept[name] = where
            elif request.outputs is None:
                notes.append(f"output {name} ({where}) has no values in the window; not compared")
            else:
                raise SimulationError(
                    f"nothing recorded for output {name!r} "
                    f"({twin_id}/{TwinValue.parse(where).path}) between "
                    f"{_iso(request.start)} and {_iso(request.end)}",
                    code="NoHistory",
                )
        if not kept:
            raise SimulationError(
                f"twin {twin_id!r} has no recorded value of any output of its model "
                f"({', '.join(f'{k} <- {v}' for k, v in candidates.items()) or 'none bound'}) "
                f"between {_iso(request.start)} and {_iso(request.end)}: nothing to fit",
                code="NoHistory",
            )
        return kept

    def _ever_recorded(self, twin_id: str, where: str, request: CalibrationRequest) -> bool:
        series = f"{twin_id}/{TwinValue.parse(where).path}"
        try:
            return bool(self._history.range(series, None, request.end, limit=1))
        except BadRequest:
            return False

    def _recorded(self, twin_id: str, where: str, request: CalibrationRequest) -> bool:
        series = f"{twin_id}/{TwinValue.parse(where).path}"
        try:
            return bool(self._history.range(series, request.start, request.end, limit=1))
        except BadRequest:
            return False


def _text(value: str | TwinValue) -> str:
    if isinstance(value, str):
        return value
    return value.path if value.kind == "property" else f"{value.kind}:{value.path}"


def _converter(route: Route) -> Callable[[Any], float | None]:
    def convert(raw: Any) -> float | None:
        try:
            return model_value(route, raw)
        except SimulationError:
            return None  # a value the model cannot take (a word it does not know): skipped

    return convert


def _full(data: CalibrationData, value: float) -> NDArray[np.float64]:
    return np.full(data.times.size, value, dtype=float)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
