"""What the factory estimates live: the motors' unmeasured housing temperature and load.

A factory motor reports its winding temperature, speed and vibration, but nothing measures
its housing temperature or the load its pump puts on it. Both follow from what is
measured through the motor's physics model: the winding temperature is the housing's plus
the losses through the winding-to-housing resistance, and the speed falls with the load
(the slip). A UKF on each motor's own model (``sim.physics.motor``) estimates the two
temperatures and the load (an input nobody measures, as a slow random walk) from the
winding temperature and the speed, and publishes the housing temperature and the load as
virtual sensors (``housingTemperature``/``housingTemperatureStd``, ``load``/``loadStd``).
The recorded load then lets a calibration replay the motor's history on its own. The
model's prediction of the winding temperature before each update is published too
(``windingTemperaturePredicted``/``windingTemperaturePredictedStd``): measured minus
predicted is the residual the model-based anomaly detector watches. The
model's other inputs (running or stopped, the speed set-point) come from the twin as the
world's motor binding reads them.

Noise levels are the simulated devices' (0.3 K on temperature, 2 rpm on speed).
"""

from __future__ import annotations

from twinsight.sim.estimation.config import (
    EstimatedState,
    EstimatorBinding,
    EstimatorConfig,
    Measurement,
)

MOTOR = "dtmi:twinsight:factory:Motor;1"


def motor_estimator() -> EstimatorConfig:
    """The motors' estimator: what is estimated, measured and published."""
    return EstimatorConfig(
        states=(
            EstimatedState("winding_temperature", q=1e-3, initial_std=2.0),
            EstimatedState(
                "housing_temperature", q=1e-3, initial_std=15.0, publish_as="housingTemperature"
            ),
            # A load steps when a valve moves: a q that lets it follow within seconds
            # (the outlier gate would otherwise refuse the new speed as implausible).
            EstimatedState("load", q=1e-3, initial_std=0.5, publish_as="load"),
        ),
        measurements=(
            # The model's prediction of the winding temperature before each update,
            # published for the residual anomaly detector: heat the physics does not
            # explain (lost cooling, a rubbing bearing) shows there, load changes do not.
            Measurement(
                "windingTemperature", output="temperature", r=0.3**2, publish_predicted=True
            ),
            Measurement("speed", output="speed", r=2.0**2),
        ),
        method="ukf",
    )


def estimators() -> tuple[EstimatorBinding, ...]:
    """The factory's live estimators (``SimulationSpec.estimators``): one per motor."""
    return (EstimatorBinding(motor_estimator(), dtdl_model=MOTOR, name="motor thermal and load"),)
