"""The factory's day run, pinned to its numbers: a change that only makes the simulation
cheaper (fewer numpy calls, terms kept while inputs are held) must give the same results,
to rounding. Three lines with flow conveyors, all four machine kinds as fleets, a day at
the 60-s communication step with what changes a step's arithmetic along the way: a motor
stopped and restarted, a new speed set-point, a bearing fault, a cavitating pump, a shut
tank valve (its tank runs over the rim) and a belt slowed down."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import pytest

from support import add_factory_models
from twinsight.core.clock import ManualClock
from twinsight.hub import Hub
from twinsight.scenarios.factory import world
from twinsight.scenarios.factory.sim import simulation_spec
from twinsight.sim.binding import GraphValues, SimulationBuilder, TwinSimulation

HOUR = 3600.0
CHANGES: tuple[tuple[float, str, Mapping[str, float]], ...] = (
    (2 * HOUR, "line-1-motor", {"running": 0.0}),
    (3 * HOUR, "line-2-motor", {"speed_setpoint": 1300.0, "bearing_fault": 0.6}),
    (4 * HOUR, "line-3-pump", {"cavitation": 0.8}),
    (5 * HOUR, "line-3-tank", {"valve_opening": 0.0}),
    (6 * HOUR, "line-2-conveyor", {"belt_speed_setpoint": 0.4}),
    (8 * HOUR, "line-1-motor", {"running": 1.0}),
    (16 * HOUR, "line-3-tank", {"valve_opening": 1.0}),
)
KEYS = (
    ("motor", "temperature"),
    ("motor", "speed"),
    ("motor", "vibration"),
    ("motor", "power"),
    ("motor", "wear"),
    ("pump", "flow"),
    ("pump", "pressure"),
    ("pump", "shaft_power"),
    ("tank", "level"),
    ("tank", "overflow"),
    ("conveyor", "produced"),
    ("conveyor", "throughput"),
)


def _factory() -> TwinSimulation:
    with Hub(clock=ManualClock(datetime(2026, 1, 1, tzinfo=UTC))) as hub:
        add_factory_models(hub)
        world.build(hub.twins, lines=3)
        spec = simulation_spec(conveyors="flow")
        builder = SimulationBuilder(
            hub.twins, spec.catalog, GraphValues(hub.twins, hub.history), fleets=spec.fleets
        )
        return builder.build(spec.bindings, spec.couplings)


def day_run() -> dict[str, float]:
    """Every line's machines' outputs at the end of the day and their peaks over it."""
    sim = _factory()
    cosim = sim.cosim
    record: list[str] = []
    for line in (1, 2, 3):
        for machine, output in KEYS:
            model, prefix = sim.locate(f"line-{line}-{machine}")
            record.append(f"{_name(sim, model)}.{prefix}{output}")
    done = 0.0
    series: dict[str, list[float]] = {key: [] for key in record}
    for at, twin, inputs in (*CHANGES, (24 * HOUR, "", {})):
        results = cosim.run(at - done, 60.0, record=record)
        for key in record:
            series[key].extend(results[key][1:].tolist())
        done = at
        if twin:
            model, prefix = sim.locate(twin)
            model.set_inputs({prefix + name: value for name, value in inputs.items()})
    summary: dict[str, float] = {}
    for key, values in series.items():
        summary[f"{key} final"] = values[-1]
        summary[f"{key} peak"] = max(values)
    return summary


def _name(sim: TwinSimulation, model: object) -> str:
    return next(name for name, member in sim.cosim.members.items() if member is model)


def test_a_day_of_the_factory_gives_the_numbers_it_always_gave() -> None:
    got = day_run()
    assert got.keys() == PINNED.keys()
    for key, value in PINNED.items():
        assert got[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key


# Recorded from the code before the simulation was made cheaper (see the module docstring).
PINNED: dict[str, float] = {
    "fleet:motor.line-1-motor.temperature final": 78.55400627574691,
    "fleet:motor.line-1-motor.temperature peak": 78.55400627574691,
    "fleet:motor.line-1-motor.speed final": 1450.6055194997464,
    "fleet:motor.line-1-motor.speed peak": 1491.1680000000001,
    "fleet:motor.line-1-motor.vibration final": 0.8048996603695697,
    "fleet:motor.line-1-motor.vibration peak": 0.8109468641608512,
    "fleet:motor.line-1-motor.power final": 12.064455474916834,
    "fleet:motor.line-1-motor.power peak": 13.163621673332624,
    "fleet:motor.line-1-motor.wear final": 0.0500423357387511,
    "fleet:motor.line-1-motor.wear peak": 0.0500423357387511,
    "fleet:pump.line-1-pump.flow final": 100.05567608083456,
    "fleet:pump.line-1-pump.flow peak": 103.51108614541714,
    "fleet:pump.line-1-pump.pressure final": 313.53206636148707,
    "fleet:pump.line-1-pump.pressure peak": 330.2485652403657,
    "fleet:pump.line-1-pump.shaft_power final": 11.17188870364367,
    "fleet:pump.line-1-pump.shaft_power peak": 12.174446946275395,
    "fleet:tank.line-1-tank.level final": 2.780871754441812,
    "fleet:tank.line-1-tank.level peak": 2.780871754441812,
    "fleet:tank.line-1-tank.overflow final": 0.0,
    "fleet:tank.line-1-tank.overflow peak": 0.0,
    "fleet:conveyor-flow.line-1-conveyor.produced final": 16716.90899129684,
    "fleet:conveyor-flow.line-1-conveyor.produced peak": 16716.90899129684,
    "fleet:conveyor-flow.line-1-conveyor.throughput final": 697.5790911531253,
    "fleet:conveyor-flow.line-1-conveyor.throughput peak": 697.5790911531253,
    "fleet:motor.line-2-motor.temperature final": 71.67785566659124,
    "fleet:motor.line-2-motor.temperature peak": 79.59175802847706,
    "fleet:motor.line-2-motor.speed final": 1282.569249742524,
    "fleet:motor.line-2-motor.speed peak": 1491.1680000000001,
    "fleet:motor.line-2-motor.vibration final": 5.071957759978482,
    "fleet:motor.line-2-motor.vibration peak": 5.463877421914043,
    "fleet:motor.line-2-motor.power final": 8.320115814825376,
    "fleet:motor.line-2-motor.power peak": 13.163621673332624,
    "fleet:motor.line-2-motor.wear final": 0.20010273306769918,
    "fleet:motor.line-2-motor.wear peak": 0.20010273306769918,
    "fleet:pump.line-2-pump.flow final": 84.2531293675727,
    "fleet:pump.line-2-pump.flow peak": 103.51108614541714,
    "fleet:pump.line-2-pump.pressure final": 250.79916171071466,
    "fleet:pump.line-2-pump.pressure peak": 330.2485652403657,
    "fleet:pump.line-2-pump.shaft_power final": 7.542151553715524,
    "fleet:pump.line-2-pump.shaft_power peak": 12.174446946275395,
    "fleet:tank.line-2-tank.level final": 1.9718305022858196,
    "fleet:tank.line-2-tank.level peak": 2.7741322743525387,
    "fleet:tank.line-2-tank.overflow final": 0.0,
    "fleet:tank.line-2-tank.overflow peak": 0.0,
    "fleet:conveyor-flow.line-2-conveyor.produced final": 10513.42518268544,
    "fleet:conveyor-flow.line-2-conveyor.produced peak": 10513.42518268544,
    "fleet:conveyor-flow.line-2-conveyor.throughput final": 352.8866137135364,
    "fleet:conveyor-flow.line-2-conveyor.throughput peak": 697.5790911223638,
    "fleet:motor.line-3-motor.temperature final": 74.04070481775852,
    "fleet:motor.line-3-motor.temperature peak": 78.48272746696391,
    "fleet:motor.line-3-motor.speed final": 1452.876023285273,
    "fleet:motor.line-3-motor.speed peak": 1491.1680000000001,
    "fleet:motor.line-3-motor.vibration final": 1.784093241255841,
    "fleet:motor.line-3-motor.vibration peak": 1.7973544972868085,
    "fleet:motor.line-3-motor.power final": 11.126288933021652,
    "fleet:motor.line-3-motor.power peak": 13.163621673332624,
    "fleet:motor.line-3-motor.wear final": 0.40004019825411746,
    "fleet:motor.line-3-motor.wear peak": 0.40004019825411746,
    "fleet:pump.line-3-pump.flow final": 82.54411284321357,
    "fleet:pump.line-3-pump.flow peak": 103.51108614541714,
    "fleet:pump.line-3-pump.pressure final": 244.6593174220985,
    "fleet:pump.line-3-pump.pressure peak": 330.2485652403657,
    "fleet:pump.line-3-pump.shaft_power final": 10.308943852725681,
    "fleet:pump.line-3-pump.shaft_power peak": 12.174446946275395,
    "fleet:tank.line-3-tank.level final": 1.8926474969331808,
    "fleet:tank.line-3-tank.level peak": 5.021126060867248,
    "fleet:tank.line-3-tank.overflow final": 0.0,
    "fleet:tank.line-3-tank.overflow peak": 18.423792787248182,
    "fleet:conveyor-flow.line-3-conveyor.produced final": 16716.90899129684,
    "fleet:conveyor-flow.line-3-conveyor.produced peak": 16716.90899129684,
    "fleet:conveyor-flow.line-3-conveyor.throughput final": 697.5790911531253,
    "fleet:conveyor-flow.line-3-conveyor.throughput peak": 697.5790911531253,
}
