"""Running a world's declared state estimators live, beside its simulation.

Each :class:`~twinsight.sim.estimation.config.EstimatorBinding` of the world's
:class:`~twinsight.sim.spec.SimulationSpec` becomes one
:class:`~twinsight.sim.estimation.live.LiveEstimator` per twin it names. The estimator's
model is built the way the world's bindings build it for that twin alone (parameters from
the twin, the active calibrated version, the start state as the twin has it now), so the
estimate starts from reality; live values are converted into the model's units as the
bindings convert them. The hub owns the estimators and stops them on close. What they
publish names its producer (:func:`producer`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from twinsight.core.errors import SimulationError, TwinsightError
from twinsight.core.ports import ParameterVersion
from twinsight.graph.service import TwinGraph
from twinsight.graph.validation import is_of_model
from twinsight.hub import Hub
from twinsight.ingest.units import converter
from twinsight.sim.binding import (
    GraphValues,
    ModelBinding,
    Route,
    SimulationBuilder,
    TwinValue,
    model_value,
)
from twinsight.sim.estimation.config import EstimatorBinding, EstimatorConfig
from twinsight.sim.estimation.estimator import StateEstimator
from twinsight.sim.estimation.live import LiveEstimator
from twinsight.sim.model import SimulationModel, Variable
from twinsight.sim.parameters import ParameterVersions
from twinsight.sim.spec import SimulationSpec
from twinsight.sim.twin_calibration import binding_for

log = logging.getLogger(__name__)


class _Running:
    """A live estimator as something the hub starts and stops; it takes the twin's new
    parameter versions (a calibration while it runs) as they are saved."""

    def __init__(
        self, live: LiveEstimator, close_model: Callable[[], None], model_name: str
    ) -> None:
        self.live = live
        self._close_model = close_model
        self._model_name = model_name
        self._unsubscribe: Callable[[], None] | None = None

    def follow(self, versions: ParameterVersions) -> None:
        self._unsubscribe = versions.subscribe(self._on_version)

    def _on_version(self, version: ParameterVersion) -> None:
        if version.twin_id == self.live.twin_id and version.model == self._model_name:
            self.live.set_parameters(version.parameters)
            self.live.producer = producer(self._model_name, version.version)
            log.info(
                "state estimation of %s now runs with parameter version %d",
                version.twin_id,
                version.version,
            )

    def start(self) -> None:
        """Already listening since it was made."""

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        self.live.close()
        self._close_model()


def start_estimators(
    hub: Hub, spec: SimulationSpec, *, strict: bool = False
) -> list[LiveEstimator]:
    """Start every estimator ``spec`` declares on the hub's twins (none declared: none
    started). A twin its estimator cannot fit is logged and skipped, so the others and
    the server run on; ``strict`` raises instead (after stopping those started)."""
    running: list[_Running] = []
    for declared in spec.estimators:
        for twin_id in _twins(hub, declared):
            try:
                running.append(_start(hub, spec, declared, twin_id))
            except TwinsightError as error:
                if strict:
                    for started in running:
                        started.stop()
                    raise
                log.error("state estimation of twin %s not started: %s", twin_id, error.message)
    hub.start_connectors(running)
    if running:
        names = sorted({n for r in running for n in r.live.estimator.virtual_sensors()})
        log.info(
            "state estimation on %d twin(s), publishing %s",
            len(running),
            ", ".join(names) or "nothing",
        )
    return [r.live for r in running]


def _twins(hub: Hub, declared: EstimatorBinding) -> list[str]:
    if declared.twin is not None:
        return [declared.twin]
    wanted = declared.dtdl_model or ""
    models = hub.models.model_set
    return sorted(
        twin_id
        for twin_id in hub.twins.index.twin_ids()
        if (twin := hub.twins.index.twin(twin_id)) is not None
        and is_of_model(models, twin["$metadata"]["$model"], wanted)
    )


def _start(hub: Hub, spec: SimulationSpec, declared: EstimatorBinding, twin_id: str) -> _Running:
    binding = binding_for(hub.twins, hub.models, spec, twin_id)
    builder = SimulationBuilder(
        hub.twins,
        spec.catalog,
        GraphValues(hub.twins, hub.history),
        calibrated=hub.parameters,
    )
    solo = replace(binding, twin=twin_id, dtdl_model=None, fleet=False)
    simulation = builder.build([solo], twins=[twin_id])
    try:
        model, _ = simulation.locate(twin_id)
        config = _with_bound_inputs(declared.config, binding)
        estimator = StateEstimator(model, config)
        convert = _conversions(hub.twins, twin_id, model, config)
        active = hub.parameters.active(twin_id, binding.model)
        live = LiveEstimator(
            hub.twins,
            hub.bus,
            twin_id,
            estimator,
            convert=convert,
            producer=producer(binding.model, active.version if active is not None else 0),
        )
    except BaseException:
        simulation.close()
        raise
    running = _Running(live, simulation.close, binding.model)
    running.follow(hub.parameters)
    return running


def producer(model_name: str, parameter_version: int) -> tuple[str, int]:
    """The provenance of a live estimator's virtual sensors: ``<model>-estimator``, whose
    version counts the parameters its model runs with — 1 with the world's own
    parameters, ``n + 1`` with the twin's calibrated parameter version ``n`` — so every
    published estimate and prediction can be traced to the parameters behind it."""
    return f"{model_name}-estimator", parameter_version + 1


def _with_bound_inputs(config: EstimatorConfig, binding: ModelBinding) -> EstimatorConfig:
    """``config`` with the inputs the twin's binding reads (an operating state, a
    set-point) added, unless the configuration drives or estimates them itself."""
    estimated = {s.name for s in config.states}
    driven = set(config.inputs.values())
    added = {
        TwinValue.parse(where).path: name
        for name, where in binding.inputs.items()
        if name not in estimated and name not in driven
    }
    return replace(config, inputs={**added, **config.inputs})


def _conversions(
    graph: TwinGraph, twin_id: str, model: SimulationModel, config: EstimatorConfig
) -> dict[str, Callable[[Any], float | None]]:
    """Per live name, its value as the model takes it: measurements into their output's
    unit, inputs into their input's unit, operating states as 1.0/0.0."""
    d = model.description
    outputs = {v.name: v for v in d.outputs}
    inputs = {v.name: v for v in d.inputs}
    targets = {m.name: outputs[m.output] for m in config.measurements}
    targets.update({live: inputs[name] for live, name in config.inputs.items()})
    return {name: _convert(graph, twin_id, name, v) for name, v in targets.items()}


def _convert(
    graph: TwinGraph, twin_id: str, name: str, variable: Variable
) -> Callable[[Any], float | None]:
    to_model: Callable[[float], float] = _same
    value = TwinValue(name, "telemetry")
    for kind in ("telemetry", "property"):
        try:
            target = graph.value_target(twin_id, kind, name)
        except TwinsightError:
            continue
        value = TwinValue(name, kind)
        if variable.unit and target.unit:
            to_model = converter(target.unit, variable.unit)
        break
    route = Route(twin_id, twin_id, variable.name, value, _same, to_model)

    def convert(raw: Any) -> float | None:
        try:
            return model_value(route, raw)
        except SimulationError:
            return None

    return convert


def _same(value: float) -> float:
    return value
