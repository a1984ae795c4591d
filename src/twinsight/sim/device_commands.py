"""Simulated devices that obey: the demo plant's answer to commands and desired values.

A real drive takes a new speed set-point, ramps to it and reports it back; told to stop,
it stops and reports ``stopped``. The virtual devices do the same through the same data
path as their telemetry: :class:`SimulatedDeviceResponder` answers each request (with its
correlation id, through the command endpoint) and has the device *report* the applied
value with its next message. Ingest writes the reported value onto the twin, and the live
simulation reads its inputs (``speedSetpoint``, ``state``) from the twin at the next step,
so a set-point sent from the page moves the simulated motor and then its telemetry.

Protocol-free: the MQTT end (:class:`~twinsight.ingest.connectors.mqtt_commands.
MqttDeviceEndpoint`) calls :meth:`SimulatedDeviceResponder.__call__` with the device topic,
the kind of request and its JSON body, and sends the answer the way the request asked: on
MQTT 5 to its Response Topic with its Correlation Data, on 3.1.1 with the body's id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twinsight.sim.devices import VirtualDevices

COMMAND_STATES: Mapping[str, str] = {"start": "running", "stop": "stopped", "resetFault": "idle"}
"""The operating state each implemented command leaves a device in (reported back)."""

REPORTED: Mapping[str, frozenset[str]] = {
    "motor": frozenset({"speedSetpoint"}),
    "conveyor": frozenset({"beltSpeed"}),
}
"""Desired values each catalogue model's device applies and reports (the factory mapping
carries these fields to the twin's properties)."""


class SimulatedDeviceResponder:
    """Answers commands and desired values for the devices of ``devices``."""

    def __init__(
        self,
        devices: VirtualDevices,
        *,
        commands: Mapping[str, str] = COMMAND_STATES,
        reported: Mapping[str, frozenset[str]] = REPORTED,
    ) -> None:
        self._devices = devices
        self._commands = commands
        self._reported = reported
        self._twin_of = {topic: twin for twin, topic in devices.topics.items()}
        self.answered = 0

    @property
    def device_topics(self) -> dict[str, str]:
        """Twin id → device topic, for the platform's delivery table."""
        return dict(self._devices.topics)

    def __call__(self, device: str, kind: str, body: dict[str, Any]) -> dict[str, Any] | None:
        twin = self._twin_of.get(device)
        if twin is None or self._devices.is_offline(twin):
            return None  # not ours, or off the network: silence, as a real one would be
        self.answered += 1
        if kind == "desired":
            return self._desired(twin, body.get("desired"))
        return self._command(twin, kind.removeprefix("command:"))

    def _desired(self, twin: str, desired: Any) -> dict[str, Any]:
        if not isinstance(desired, dict) or not desired:
            return {"status": "failed", "error": "'desired' must be an object of values"}
        model = self._devices.model_of(twin) or ""
        allowed = self._reported.get(model, frozenset())
        unknown = sorted(set(desired) - allowed)
        if unknown:
            return {
                "status": "failed",
                "error": f"this {model or 'device'} does not apply {', '.join(unknown)}",
            }
        self._devices.report(twin, desired)
        return {"status": "accepted"}

    def _command(self, twin: str, name: str) -> dict[str, Any]:
        state = self._commands.get(name)
        if state is None:
            return {"status": "failed", "error": f"command {name!r} is not implemented"}
        self._devices.report(twin, {"state": state})
        return {"status": "done", "response": True if name in ("start", "stop") else state}
