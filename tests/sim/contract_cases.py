"""Every simulation model implementation, registered once, for the contract test.

Add a :class:`Case` here for each new implementation; ``test_contract.py`` fails if an
implementation found in ``twinsight.sim`` has no case, so none escapes the contract.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from twinsight.sim.functions import FunctionModel
from twinsight.sim.model import SimulationModel


@dataclass(frozen=True)
class Case:
    """How to build one ready-to-run instance of an implementation."""

    id: str
    build: Callable[[], SimulationModel]
    # Inputs to hold while the contract advances the model (defaults when empty).
    inputs: Mapping[str, float] = field(default_factory=dict)
    # The step the contract advances by, in seconds.
    dt: float = 1.0


def _stateless_gain() -> SimulationModel:
    return FunctionModel.from_function(
        "gain",
        lambda t, u, p: {"y": p["k"] * u["x"]},
        parameters={"k": 2.0},
        inputs={"x": 1.0},
        outputs=("y",),
    )


def _leaky_integrator() -> SimulationModel:
    def step(t, dt, x, u, p):  # type: ignore[no-untyped-def]
        return {"level": x["level"] + dt * (u["inflow"] - p["leak"] * x["level"])}

    return FunctionModel.from_function(
        "tank-function",
        lambda t, u, v: {"level": v["level"]},
        parameters={"leak": 0.1},
        inputs={"inflow": 0.5},
        states={"level": 1.0},
        outputs=("level",),
        step=step,
    )


CASES: list[Case] = [
    Case("function-stateless", _stateless_gain),
    Case("function-stateful", _leaky_integrator, dt=0.5),
]


# -- ODE models (twinsight.sim.ode) and the reference physics (twinsight.sim.physics) --------
def _ode_cases() -> list[Case]:
    from typing import Any

    from twinsight.sim.physics import SYSTEMS

    def single(kind: str, **options: Any) -> Callable[[], SimulationModel]:
        return lambda: SYSTEMS[kind](kind).model(**options)

    def fleet(kind: str, **options: Any) -> Callable[[], SimulationModel]:
        return lambda: SYSTEMS[kind](kind).fleet(["a", "b", "c"], **options)

    running = {"load": 0.8, "running": 1.0}
    return [
        Case("ode-motor-rk45", single("motor"), running, dt=60.0),
        Case("ode-motor-rk4", single("motor", solver="rk4", max_step=10.0), running, dt=60.0),
        Case("ode-motor-lsoda", single("motor", solver="LSODA"), running, dt=60.0),
        Case("ode-motor-fleet", fleet("motor"), {f"{m}.load": 0.8 for m in "abc"}, dt=60.0),
        Case("ode-motor-fleet-rk4", fleet("motor", solver="rk4", max_step=10.0), dt=60.0),
        Case("ode-motor-fleet-bdf", fleet("motor", solver="BDF"), dt=60.0),
        Case("ode-pump", single("pump"), {"speed": 1450.0}, dt=1.0),
        Case("ode-tank", single("tank"), {"inflow": 80.0}, dt=60.0),
        Case("ode-battery", single("battery"), {"current": 40.0}, dt=10.0),
        Case("ode-zone", single("zone"), {"hvac_heat": 2.0, "solar_gain": 0.5}, dt=600.0),
    ]


CASES += _ode_cases()


# -- FMUs (twinsight.sim.fmu): the first-order lag of tests/sim/fmus/lag.c, built once -------
def _fmu_cases() -> list[Case]:
    from twinsight.sim.fmu import FmuModel, Kind

    def fmu(version: int, kind: Kind) -> Callable[[], SimulationModel]:
        def build() -> SimulationModel:
            from sim.fmus.build import lag_fmu

            return FmuModel(lag_fmu(version), kind=kind, step_size=0.05)

        return build

    return [
        Case(f"fmu{v}-{short}", fmu(v, kind), {"u": 0.8}, dt=0.5)
        for v in (2, 3)
        for short, kind in (("cs", "co-simulation"), ("me", "model-exchange"))
    ]


CASES += _fmu_cases()


def _state_space() -> SimulationModel:
    from sim.thermal import thermal_model

    return thermal_model(winding=60.0, housing=40.0)


CASES.append(Case("state-space-thermal", _state_space, inputs={"loss": 300.0}, dt=2.0))


def _production_line() -> SimulationModel:
    from twinsight.sim.des import ProductionLine

    # Short MTBF, random times, scrap and a night shift inside three 20-minute steps.
    return ProductionLine(
        "line",
        machines=3,
        parameters={"lot_size": 5, "start_hour": 21.5, "m2.mtbf": 600.0, "m2.cv": 0.5},
    )


CASES.append(Case("des-line", _production_line, inputs={"speed_factor": 1.2}, dt=1200.0))


def _conveyor() -> SimulationModel:
    from twinsight.sim.des import ConveyorLine

    return ConveyorLine("conveyor", 2, parameters={"lot_size": 5.0, "m2.mtbf": 3600.0})


CASES.append(Case("des-conveyor", _conveyor, inputs={"belt_speed_setpoint": 1.0}, dt=600.0))


def _queue() -> SimulationModel:
    from twinsight.sim.des import QueueModel

    return QueueModel("queue", servers=2, capacity=6, parameters={"arrival_rate": 0.05})


CASES.append(Case("des-queue", _queue, dt=60.0))


def _conveyor_flow() -> SimulationModel:
    from twinsight.sim.des.flow import conveyor_flow_system

    # A night shift inside the contract's 20-minute steps, breakdowns and buffers in play.
    model = conveyor_flow_system("conveyor").model(solver="rk4")
    model.set_parameters({"start_hour": 21.5, "m2.mtbf": 3600.0})
    return model


def _conveyor_flow_fleet() -> SimulationModel:
    from twinsight.sim.des.flow import conveyor_flow_system

    fleet = conveyor_flow_system("conveyor").fleet(["a", "b", "c"], solver="rk4")
    fleet.set_parameters_array("start_hour", [21.5, 6.0, 12.0])
    return fleet


CASES.append(Case("flow-conveyor", _conveyor_flow, {"belt_speed_setpoint": 1.0}, dt=1200.0))
CASES.append(
    Case(
        "flow-conveyor-fleet",
        _conveyor_flow_fleet,
        {f"{m}.belt_speed_setpoint": s for m, s in zip("abc", (0.4, 0.8, 1.2), strict=True)},
        dt=1200.0,
    )
)
