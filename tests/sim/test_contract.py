"""The contract every simulation model keeps, run over every implementation.

Like river's ``check_estimator``: one set of checks, applied automatically to each case in
``sim/contract_cases.py``; a further test fails when an implementation in ``twinsight.sim``
has no case, so a new model type cannot skip the contract.
"""

from __future__ import annotations

import importlib
import inspect
import math
import pkgutil

import pytest

import twinsight.sim
from sim.contract_cases import CASES, Case
from twinsight.core.errors import SimulationError
from twinsight.sim.model import BaseModel, SimulationModel

ids = [case.id for case in CASES]


@pytest.fixture(params=CASES, ids=ids)
def case(request: pytest.FixtureRequest) -> Case:
    return request.param  # type: ignore[no-any-return]


def _built(case: Case) -> SimulationModel:
    model = case.build()
    if case.inputs:
        model.set_inputs(case.inputs)
    return model


def test_it_is_a_simulation_model(case: Case) -> None:
    model = _built(case)
    assert isinstance(model, SimulationModel)
    model.close()


def test_the_values_are_the_declared_ones(case: Case) -> None:
    model = _built(case)
    d = model.description
    assert set(model.parameters()) == {v.name for v in d.parameters}
    assert set(model.state()) == {v.name for v in d.states}
    assert set(model.inputs()) == {v.name for v in d.inputs}
    assert set(model.outputs()) == {v.name for v in d.outputs}
    assert d.outputs, "a model with no outputs cannot be bound to anything"
    model.close()


def test_advance_moves_time_and_gives_finite_float_outputs(case: Case) -> None:
    model = _built(case)
    start = model.time
    for _ in range(3):
        model.advance(case.dt)
        outputs = model.outputs()
        assert all(isinstance(v, float) and math.isfinite(v) for v in outputs.values()), outputs
    assert model.time == pytest.approx(start + 3 * case.dt)
    model.close()


def test_restoring_a_snapshot_replays_the_same_future(case: Case) -> None:
    """The fork of every what-if run: snapshot, run, restore, run again — same result."""
    model = _built(case)
    model.advance(case.dt)
    fork = model.snapshot()
    for _ in range(3):
        model.advance(case.dt)
    first = (model.time, model.outputs(), model.state())
    model.restore(fork)
    assert model.time == pytest.approx(fork.time)
    for _ in range(3):
        model.advance(case.dt)
    second = (model.time, model.outputs(), model.state())
    assert second[0] == pytest.approx(first[0])
    assert second[1] == pytest.approx(first[1], rel=1e-9, abs=1e-12)
    assert second[2] == pytest.approx(first[2], rel=1e-9, abs=1e-12)
    model.close()


def test_a_snapshot_is_immutable_and_survives_the_model_moving_on(case: Case) -> None:
    model = _built(case)
    fork = model.snapshot()
    before = dict(fork.state)
    model.advance(case.dt)
    assert dict(fork.state) == before
    with pytest.raises(TypeError):
        fork.parameters["x"] = 1.0  # type: ignore[index]
    model.close()


@pytest.mark.parametrize("dt", [0.0, -1.0, math.nan, math.inf])
def test_a_non_positive_or_non_finite_step_is_refused(case: Case, dt: float) -> None:
    model = _built(case)
    with pytest.raises(SimulationError, match="positive"):
        model.advance(dt)
    assert model.time == 0.0
    model.close()


def test_unknown_names_are_refused_and_change_nothing(case: Case) -> None:
    model = _built(case)
    before = (model.parameters(), model.state(), model.inputs())
    for setter, kind in (
        (model.set_parameters, "parameter"),
        (model.set_state, "state"),
        (model.set_inputs, "input"),
    ):
        with pytest.raises(SimulationError, match=f"no {kind} 'no-such-thing'") as info:
            setter({"no-such-thing": 1.0})
        assert model.description.name in str(info.value)
    assert (model.parameters(), model.state(), model.inputs()) == before
    model.close()


def test_bad_parameter_values_are_refused_and_change_nothing(case: Case) -> None:
    model = _built(case)
    if not model.description.parameters:
        return  # nothing to set: the unknown-name test covers such a model
    before = model.parameters()
    name = model.description.parameters[0].name
    for bad in (math.nan, "fast"):
        with pytest.raises(SimulationError, match=name):
            model.set_parameters({name: bad})  # type: ignore[dict-item]
    bounded = [p for p in model.description.parameters if math.isfinite(p.max)]
    for parameter in bounded:
        with pytest.raises(SimulationError, match="outside its bounds"):
            model.set_parameters({parameter.name: parameter.max + abs(parameter.max) + 1.0})
    assert model.parameters() == before
    model.close()


def test_a_snapshot_of_another_model_is_refused(case: Case) -> None:
    model = _built(case)
    other = model.snapshot()
    alien = type(other)(model="someone-else", time=0.0)
    with pytest.raises(SimulationError, match="someone-else"):
        model.restore(alien)
    model.close()


def test_close_can_be_called_twice(case: Case) -> None:
    model = _built(case)
    model.close()
    model.close()


def _implementations() -> set[type]:
    found: set[type] = set()
    for info in pkgutil.walk_packages(twinsight.sim.__path__, "twinsight.sim."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if (
                cls.__module__ == module.__name__
                and issubclass(cls, BaseModel)
                and cls is not BaseModel
                and not inspect.isabstract(cls)
                and not getattr(cls, "contract_exempt", False)
            ):
                found.add(cls)
    return found


def test_every_implementation_has_a_contract_case() -> None:
    covered = set()
    for case in CASES:
        model = case.build()
        covered.update(type(model).__mro__)
        model.close()
    missing = sorted(cls.__qualname__ for cls in _implementations() - covered)
    assert missing == [], f"add a Case in tests/sim/contract_cases.py for: {missing}"
