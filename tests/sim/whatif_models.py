"""A small simulated factory for what-if and sweep tests: module-level factories (so a
sweep can send them to worker processes) over the factory demo's twin graph."""

from __future__ import annotations

from collections.abc import Mapping

from twinsight.sim.binding import Coupling, ModelBinding
from twinsight.sim.functions import FunctionModel
from twinsight.sim.model import ModelDescription, SimulationModel, Variable
from twinsight.sim.spec import SimulationSpec

MOTOR = "dtmi:twinsight:factory:Motor;1"
PUMP = "dtmi:twinsight:factory:Pump;1"


def _motor_step(
    t: float, dt: float, x: Mapping[str, float], u: Mapping[str, float], p: Mapping[str, float]
) -> dict[str, float]:
    target = 293.15 + 2.0 * p["ratedPower"] * (u["setpoint"] > 0)
    return {"temperature": x["temperature"] + dt / 100.0 * (target - x["temperature"])}


def _motor_outputs(t: float, u: Mapping[str, float], v: Mapping[str, float]) -> dict[str, float]:
    return {"temperature": v["temperature"], "speed": u["setpoint"]}


def motor(name: str) -> SimulationModel:
    """Speed follows the setpoint; temperature (K) relaxes towards ambient + 2 K per kW of
    rated power while running, with a 100 s time constant."""
    description = ModelDescription(
        name,
        parameters=(Variable("ratedPower", 10.0, unit="kilowatt", min=0.1, max=1000.0),),
        states=(Variable("temperature", 300.0, unit="kelvin"),),
        inputs=(Variable("setpoint", 0.0, unit="revolutionPerMinute", min=0.0, max=3600.0),),
        outputs=(
            Variable("temperature", unit="kelvin"),
            Variable("speed", unit="revolutionPerMinute"),
        ),
    )
    return FunctionModel(description, _motor_outputs, _motor_step)


def _pump_step(
    t: float, dt: float, x: Mapping[str, float], u: Mapping[str, float], p: Mapping[str, float]
) -> dict[str, float]:
    if t + dt > p["seizeAfter"]:
        raise OverflowError(f"bearing seized at t={t + dt:g} s")
    return {"pumped": x["pumped"] + dt * p["gain"] * u["speed"] / 3600.0}


def _pump_outputs(t: float, u: Mapping[str, float], v: Mapping[str, float]) -> dict[str, float]:
    return {"flow": v["gain"] * u["speed"], "pumped": v["pumped"]}


def pump(name: str) -> SimulationModel:
    """Flow = gain × speed (m³/h); ``pumped`` integrates it (m³). It raises once model time
    passes ``seizeAfter`` seconds: a model that fails mid-run."""
    description = ModelDescription(
        name,
        parameters=(
            Variable("gain", 0.02, min=0.0, max=1.0),
            Variable("seizeAfter", 1e12, unit="second", min=0.0),
        ),
        states=(Variable("pumped", 0.0),),
        inputs=(Variable("speed", 0.0, unit="revolutionPerMinute"),),
        outputs=(Variable("flow", unit="cubicMetrePerHour"), Variable("pumped")),
    )
    return FunctionModel(description, _pump_outputs, _pump_step)


CATALOG = {"motor": motor, "pump": pump}
BINDINGS = (
    ModelBinding(
        "motor",
        dtdl_model=MOTOR,
        parameters={"ratedPower": "ratedPower"},
        states={"temperature": "telemetry:windingTemperature"},
        inputs={"setpoint": "speedSetpoint"},
        outputs={"temperature": "telemetry:windingTemperature", "speed": "telemetry:speed"},
    ),
    ModelBinding("pump", dtdl_model=PUMP, outputs={"flow": "telemetry:flow"}),
)
COUPLINGS = (Coupling("drivenBy", "pump", "motor", output="speed", input="speed", reverse=True),)


def spec(record: tuple[str, ...] = ("temperature", "flow", "pumped")) -> SimulationSpec:
    return SimulationSpec(
        catalog=CATALOG, bindings=BINDINGS, couplings=COUPLINGS, step=1.0, record=record
    )
