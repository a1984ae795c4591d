"""``twinsight.sim.catalogue``: a world's models described for users — without a graph, with
a factory that fails, with bindings the graph cannot resolve, with a twin bound by name —
each problem kept on its model while the others are still described."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sim import whatif_models
from support import build_factory
from twinsight.core.errors import NotFound
from twinsight.hub import Hub
from twinsight.sim.binding import Coupling, ModelBinding
from twinsight.sim.catalogue import describe_catalogue, describe_model
from twinsight.sim.model import SimulationModel


def _broken(name: str) -> SimulationModel:
    raise RuntimeError("licence server unreachable")


def test_without_a_graph_models_are_described_but_simulate_no_twin() -> None:
    spec = whatif_models.spec()
    motor = describe_model(spec, "motor")
    assert motor.twins == () and motor.problems == ()
    rated = motor.variable("parameter", "ratedPower")
    assert (rated.default, rated.variable.min, rated.variable.unit) == (10.0, 0.1, "kilowatt")
    assert motor.variable("input", "setpoint").changeable is True
    with pytest.raises(NotFound, match=r"no parameter 'power' .*ratedPower"):
        motor.variable("parameter", "power")
    with pytest.raises(NotFound, match=r"no model 'fan' \(its models: motor, pump\)"):
        describe_model(spec, "fan")


def test_a_factory_that_raises_is_reported_on_its_model_only(hub: Hub) -> None:
    build_factory(hub)
    spec = whatif_models.spec()
    spec = replace(spec, catalog={**spec.catalog, "pump": _broken})
    models = {m.name: m for m in describe_catalogue(spec, hub.twins)}
    assert models["pump"].variables == ()
    assert models["pump"].problems == (
        "could not build model 'pump': RuntimeError: licence server unreachable",
    )
    assert models["pump"].twins == ("line-1-pump", "line-2-pump")  # still bound
    assert models["motor"].problems == () and models["motor"].variable("state", "temperature")


def test_bindings_the_graph_cannot_resolve_are_a_problem_not_a_failure(hub: Hub) -> None:
    build_factory(hub)
    spec = whatif_models.spec()
    spec = replace(spec, bindings=(*spec.bindings, ModelBinding("pump", twin="line-9-pump")))
    models = {m.name: m for m in describe_catalogue(spec, hub.twins)}
    for model in models.values():
        assert model.twins == ()
        assert any("there is no twin 'line-9-pump'" in p for p in model.problems)
        assert model.variables  # still described


def test_a_twin_bound_by_name_is_counted_once_as_a_fork_binds_it(hub: Hub) -> None:
    build_factory(hub)
    spec = whatif_models.spec()
    own = ModelBinding("motor", twin="line-2-motor", values={"ratedPower": 30.0})
    spec = replace(spec, bindings=(*spec.bindings, own))
    motor = describe_model(spec, "motor", hub.twins)
    assert [b.twins for b in motor.bindings] == [("line-1-motor",), ("line-2-motor",)]
    assert motor.bound_to("parameter", "ratedPower")[-1] == "= 30"


def test_couplings_name_their_relationship_and_scale() -> None:
    spec = whatif_models.spec()
    scaled = Coupling("drivenBy", "pump", "motor", "flow", "setpoint", gain=2.0, offset=-1.0)
    spec = replace(spec, couplings=(*spec.couplings, scaled))
    motor = describe_model(spec, "motor")
    setpoint = motor.variable("input", "setpoint")
    assert setpoint.changeable is False
    assert setpoint.fed_by == "pump.flow via drivenBy (× 2 − 1)"
    pump = describe_model(spec, "pump")
    assert "motor.setpoint via drivenBy (× 2 − 1)" in pump.variable("output", "flow").feeds
