"""The reference physics models against the closed forms of their own equations: steady
states of the thermal networks, the affinity laws, mass balance, coulomb counting. The
expected values are computed here from the parameters, not copied from a run."""

from __future__ import annotations

import doctest
import math
import re
from pathlib import Path

import numpy as np
import pytest

from twinsight.sim.ode import OdeModel
from twinsight.sim.physics import (
    SYSTEMS,
    battery_system,
    motor_system,
    pump_system,
    tank_system,
    zone_system,
)
from twinsight.sim.physics.battery import open_circuit_voltage

HOUR = 3600.0
DOC = Path(__file__).resolve().parents[2] / "docs" / "simulation-models.md"


def settled(model: OdeModel, seconds: float, step: float = 600.0) -> dict[str, float]:
    for _ in range(math.ceil(seconds / step)):
        model.advance(step)
    return model.outputs()


# -- motor ------------------------------------------------------------------------------
def motor_losses(p: dict[str, float], load: float) -> float:
    fixed = p["no_load_loss_fraction"]
    rated = 1000.0 * p["rated_power"] * (1 / p["efficiency"] - 1)
    return rated * (fixed + (1 - fixed) * load**2)


@pytest.mark.parametrize(("load", "ambient"), [(1.0, 25.0), (0.5, 40.0), (1.2, -10.0)])
def test_motor_steady_temperature_is_ambient_plus_losses_times_resistance(
    load: float, ambient: float
) -> None:
    motor = motor_system().model()
    motor.set_inputs({"load": load, "running": 1.0, "ambient_temperature": ambient})
    out = settled(motor, 12 * HOUR)
    p = motor.parameters()
    losses = motor_losses(p, load)
    r_wh, r_ha = p["winding_resistance"], p["housing_resistance"]
    assert out["temperature"] == pytest.approx(ambient + losses * (r_wh + r_ha), rel=1e-6)
    assert out["housing_temperature"] == pytest.approx(ambient + losses * r_ha, rel=1e-6)
    assert out["power"] == pytest.approx(load * p["rated_power"] + losses / 1000.0)
    slip = p["synchronous_speed"] - p["rated_speed"]
    assert out["speed"] == pytest.approx(p["synchronous_speed"] - slip * load)


def test_a_stopped_motor_cools_to_ambient_and_draws_nothing() -> None:
    motor = motor_system().model()
    motor.set_state({"winding_temperature": 90.0, "housing_temperature": 70.0, "wear": 0.3})
    motor.set_inputs({"running": 0.0, "load": 1.0, "ambient_temperature": 15.0})
    out = settled(motor, 12 * HOUR)
    assert out["temperature"] == pytest.approx(15.0, abs=1e-6)
    assert (out["power"], out["speed"], out["vibration"]) == (0.0, 0.0, 0.0)
    assert out["wear"] == pytest.approx(0.3)  # no wear while stopped


def test_motor_wear_follows_load_cubed_and_doubles_every_ten_kelvin() -> None:
    """Hold the motor in thermal steady state and compare an hour's wear with the
    closed form of the wear equation at the steady winding temperature."""
    rates = {}
    for load, ambient in ((1.0, 25.0), (1.0, 35.0), (0.5, 25.0)):
        motor = motor_system().model()
        motor.set_inputs({"load": load, "ambient_temperature": ambient})
        settled(motor, 12 * HOUR)
        before = motor.state()["wear"]
        after = settled(motor, HOUR, step=60.0)["wear"]
        p = motor.parameters()
        winding = motor.state()["winding_temperature"]
        idle = p["idle_wear_fraction"]
        expected = (
            (idle + (1 - idle) * load**3)
            * 2 ** ((winding - p["reference_temperature"]) / 10)
            / p["rated_life"]
        )
        assert after - before == pytest.approx(expected, rel=1e-6)
        rates[load, ambient] = after - before
    assert rates[1.0, 35.0] == pytest.approx(2 * rates[1.0, 25.0])  # hotter: faster
    assert rates[0.5, 25.0] < rates[1.0, 25.0] / 5  # lighter and cooler: much slower


def test_motor_vibration_rises_with_wear_squared_and_saturates() -> None:
    motor = motor_system().model()
    motor.set_inputs({"load": 0.5})
    p = motor.parameters()
    new, worn = p["vibration_new"], p["vibration_worn"]
    readings = []
    for wear in (0.0, 0.5, 1.0, 1.7):
        motor.set_state({"wear": wear})
        readings.append(motor.outputs()["vibration"])
    assert readings == pytest.approx([new, new + (worn - new) * 0.25, worn, worn])
    motor.set_state({"wear": 1.7})
    assert motor.outputs()["wear"] == 1.0


# -- pump -------------------------------------------------------------------------------
def test_pump_at_half_speed_gives_half_flow_and_a_quarter_head() -> None:
    """With no static head the system curve is a parabola through the origin, on which
    the affinity laws hold exactly: Q ~ n, H ~ n², P ~ n³."""
    results = []
    for speed in (1450.0, 725.0):
        pump = pump_system().model()
        pump.set_parameters({"static_head": 0.0})
        pump.set_inputs({"speed": speed})
        results.append(settled(pump, 60.0, step=1.0))
    full, half = results
    assert half["flow"] == pytest.approx(full["flow"] / 2, rel=1e-6)
    assert half["head"] == pytest.approx(full["head"] / 4, rel=1e-6)
    assert half["shaft_power"] == pytest.approx(full["shaft_power"] / 8, rel=1e-5)
    assert half["efficiency"] == pytest.approx(full["efficiency"], rel=1e-6)


def test_pump_settles_where_pump_and_system_curves_cross() -> None:
    pump = pump_system().model()
    pump.set_inputs({"speed": 1300.0})
    out = settled(pump, 60.0, step=1.0)
    p = pump.parameters()
    s = 1300.0 / p["rated_speed"]
    k_pump = (p["shutoff_head"] - p["bep_head"]) / p["bep_flow"] ** 2
    flow = math.sqrt(
        (s**2 * p["shutoff_head"] - p["static_head"]) / (k_pump + p["system_coefficient"])
    )
    assert out["flow"] == pytest.approx(flow, rel=1e-6)
    assert out["head"] == pytest.approx(p["static_head"] + p["system_coefficient"] * flow**2)
    hydraulic = p["density"] * 9.81 * (flow / 3600) * out["head"] / out["efficiency"]
    assert out["shaft_power"] == pytest.approx(hydraulic / 1000, rel=1e-6)


def test_pump_flow_lags_the_speed_by_its_response_time() -> None:
    pump = pump_system().model(solver="rk4", max_step=0.01)
    pump.set_inputs({"speed": 1450.0})
    pump.advance(pump.parameters()["response_time"])
    at_tau = pump.outputs()["flow"]
    final = settled(pump, 60.0, step=1.0)["flow"]
    assert at_tau == pytest.approx(final * (1 - math.exp(-1)), rel=1e-4)


def test_a_pump_below_the_static_head_delivers_nothing() -> None:
    pump = pump_system().model()
    pump.set_parameters({"static_head": 45.0})  # above the shut-off head
    pump.set_inputs({"speed": 1450.0})
    out = settled(pump, 30.0, step=1.0)
    assert out["flow"] == pytest.approx(0.0, abs=1e-9)
    assert out["head"] == pytest.approx(pump.parameters()["shutoff_head"])
    assert out["shaft_power"] > 0  # a pump running against a shut valve still turns


# -- tank -------------------------------------------------------------------------------
def test_tank_with_the_valve_shut_rises_at_inflow_over_area() -> None:
    tank = tank_system().model()
    tank.set_inputs({"inflow": 36.0, "valve_opening": 0.0})
    tank.advance(HOUR)
    area = tank.parameters()["area"]
    assert tank.outputs()["level"] == pytest.approx(1.0 + 36.0 / area, rel=1e-9)
    assert tank.outputs()["volume"] == pytest.approx(area + 36.0)  # mass balance in m³


def test_tank_drains_as_torricelli_says() -> None:
    """A·dh/dt = -k·√h  ⇒  √h(t) = √h0 - k·t / (2·A), with k per hour."""
    tank = tank_system().model(rtol=1e-10, atol=1e-12)
    tank.set_state({"level": 4.0})
    tank.set_inputs({"inflow": 0.0, "valve_opening": 0.5})
    p = tank.parameters()
    k = 0.5 * p["valve_coefficient"] / 3600.0
    for minutes in (10, 20, 30):
        tank.advance(600.0)
        expected = (2.0 - k * minutes * 60.0 / (2 * p["area"])) ** 2
        assert tank.outputs()["level"] == pytest.approx(expected, rel=1e-7)


def test_tank_settles_where_outflow_meets_inflow_or_spills() -> None:
    tank = tank_system().model(rtol=1e-10, atol=1e-12)
    tank.set_inputs({"inflow": 60.0, "valve_opening": 0.8})
    out = settled(tank, 48 * HOUR)
    p = tank.parameters()
    assert out["level"] == pytest.approx((60.0 / (0.8 * p["valve_coefficient"])) ** 2, rel=1e-6)
    assert out["outflow"] == pytest.approx(60.0, rel=1e-6)
    tank.set_inputs({"valve_opening": 0.0})
    out = settled(tank, 48 * HOUR)
    over_rim = (60.0 / p["overflow_coefficient"]) ** (2 / 3)
    assert out["level"] == pytest.approx(p["max_level"] + over_rim, rel=1e-6)
    assert out["overflow"] == pytest.approx(60.0, rel=1e-6)


# -- battery ----------------------------------------------------------------------------
def test_battery_soc_is_coulomb_counting_and_voltage_the_circuit() -> None:
    battery = battery_system().model(rtol=1e-10, atol=1e-12)
    battery.set_state({"soc": 0.9})
    battery.set_inputs({"current": 40.0})
    p = battery.parameters()
    tau = p["r1"] * p["c1"]
    for t in (10.0, 60.0, 600.0, 3600.0):
        battery.advance(t - battery.time)
        soc = 0.9 - 40.0 * t / (3600.0 * p["capacity"])
        out = battery.outputs()
        assert out["soc"] == pytest.approx(soc, rel=1e-9)
        voltage = (
            open_circuit_voltage(soc, p["series_cells"])
            - 40.0 * p["r0"]
            - 40.0 * p["r1"] * (1 - math.exp(-t / tau))
        )
        assert out["voltage"] == pytest.approx(voltage, rel=1e-8)
        assert out["power"] == pytest.approx(voltage * 40.0 / 1000.0, rel=1e-8)


def test_battery_charging_stores_only_the_coulombic_efficiency() -> None:
    battery = battery_system().model()
    battery.set_state({"soc": 0.2})
    battery.set_inputs({"current": -50.0})
    battery.advance(HOUR)
    p = battery.parameters()
    stored = p["coulombic_efficiency"] * 50.0 / p["capacity"]
    assert battery.outputs()["soc"] == pytest.approx(0.2 + stored, rel=1e-9)
    assert battery.outputs()["voltage"] > battery.outputs()["ocv"]  # charging pushes up


def test_battery_warms_to_ambient_plus_losses_times_resistance() -> None:
    battery = battery_system().model()
    battery.set_parameters({"capacity": 1e6})  # hold the state of charge still meanwhile
    battery.set_inputs({"current": 100.0, "ambient_temperature": 30.0})
    p = battery.parameters()
    tau = p["thermal_capacity"] * p["thermal_resistance"]
    out = settled(battery, 30 * tau, step=HOUR)
    losses = 100.0**2 * (p["r0"] + p["r1"])  # once the RC pair has settled
    assert out["temperature"] == pytest.approx(30.0 + losses * p["thermal_resistance"], rel=1e-6)


def test_the_ocv_curve_is_monotonic_and_flat_beyond_its_ends() -> None:
    soc = np.linspace(-0.2, 1.2, 141)
    ocv = open_circuit_voltage(soc)
    assert np.all(np.diff(ocv) >= 0)
    assert (ocv[0], ocv[-1]) == (3.0, 4.2)
    assert open_circuit_voltage(0.5, 14.0) == pytest.approx(14 * 3.74)


# -- zone -------------------------------------------------------------------------------
def test_zone_steady_state_is_the_rc_network_solution() -> None:
    zone = zone_system().model()
    inputs = {
        "outdoor_temperature": -5.0,
        "hvac_heat": 2.0,
        "solar_gain": 0.4,
        "internal_gain": 0.3,
    }
    zone.set_inputs(inputs)
    out = settled(zone, 30 * 24 * HOUR, step=HOUR)
    p = zone.parameters()
    to_air = 1000.0 * (inputs["hvac_heat"] + inputs["internal_gain"])
    total = to_air + 1000.0 * inputs["solar_gain"]
    mass = -5.0 + total * p["mass_outdoor_resistance"]
    assert out["mass_temperature"] == pytest.approx(mass, rel=1e-6)
    assert out["temperature"] == pytest.approx(mass + to_air * p["air_mass_resistance"], rel=1e-6)
    assert out["hvac_power"] == pytest.approx(2.0 / p["cop_heating"])


def test_zone_cooling_costs_heat_over_the_cooling_cop() -> None:
    zone = zone_system().model()
    zone.set_inputs({"outdoor_temperature": 32.0, "hvac_heat": -3.0, "solar_gain": 1.0})
    out = settled(zone, 30 * 24 * HOUR, step=HOUR)
    p = zone.parameters()
    assert out["hvac_power"] == pytest.approx(3.0 / p["cop_cooling"])
    mass = 32.0 + (-3000.0 + 1000.0) * p["mass_outdoor_resistance"]
    assert out["temperature"] == pytest.approx(mass - 3000.0 * p["air_mass_resistance"], rel=1e-6)


def test_the_zone_air_answers_within_the_hour_and_the_mass_takes_days() -> None:
    zone = zone_system().model()
    zone.set_inputs({"outdoor_temperature": 20.0, "hvac_heat": 3.0})
    zone.advance(2 * HOUR)
    after_two_hours = zone.outputs()
    assert after_two_hours["temperature"] - 20.0 > 3.0
    assert after_two_hours["mass_temperature"] - 20.0 < 1.0


# -- all of them ------------------------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(SYSTEMS))
def test_every_reference_model_runs_as_a_fleet_equal_to_its_members(kind: str) -> None:
    system = SYSTEMS[kind](kind)
    fleet = system.fleet(3, solver="rk4", max_step=1.0)
    singles = [system.model(m, solver="rk4", max_step=1.0) for m in fleet.members]
    first_input = system.description.inputs[0]
    high = min(first_input.max, max(first_input.start, 1.0) * 1.1)
    values = np.linspace(max(first_input.min, 0.0), high, 3)
    fleet.set_inputs_array(first_input.name, values)
    for single, value in zip(singles, values.tolist(), strict=True):
        single.set_inputs({first_input.name: value})
    for _ in range(20):
        fleet.advance(5.0)
        for single in singles:
            single.advance(5.0)
    arrays = fleet.output_arrays()
    for i, single in enumerate(singles):
        for name, value in single.outputs().items():
            assert arrays[name][i] == pytest.approx(value, rel=1e-12, abs=1e-12), (kind, name)


@pytest.mark.parametrize("kind", sorted(SYSTEMS))
def test_every_reference_parameter_is_documented_bounded_and_has_a_unit(kind: str) -> None:
    description = SYSTEMS[kind](kind).description
    assert description.description
    for variable in description.parameters + description.inputs:
        assert variable.unit and variable.description, variable.name
        assert math.isfinite(variable.min) and math.isfinite(variable.max), variable.name
        assert variable.min <= variable.start <= variable.max, variable.name
    for variable in description.states + description.outputs:
        assert variable.unit, variable.name


# -- docs -------------------------------------------------------------------------------
def test_the_docs_cover_every_reference_model() -> None:
    text = DOC.read_text(encoding="utf-8")
    for kind, factory in SYSTEMS.items():
        assert f"## {kind.capitalize()}" in text or f"{factory.__name__}" in text, kind
        for parameter in factory(kind).description.parameters:
            assert re.search(rf"\| `{parameter.name}` \|", text), (kind, parameter.name)


def test_the_docs_examples_print_what_they_say() -> None:
    result = doctest.testfile(
        str(DOC), module_relative=False, optionflags=doctest.ELLIPSIS, encoding="utf-8"
    )
    assert result.attempted > 10
    assert result.failed == 0
