"""Virtual devices: simulated machines that publish real MQTT messages.

A simulation can stand in for the plant itself. Each simulated twin gets a device that
publishes what a real sensor would — its model's outputs in the device's own units, with
sensor noise, rounded, stamped with the (simulated) measurement time — on the topic a real
device would use. The messages then travel the same way a real plant's do: broker,
connector, mapping, validation, twin, history. The demo worlds and the benchmarks run on
them, so everything downstream is exercised for real.

Profiles are declared, one per catalogue model::

    DeviceProfile(
        model="motor",
        twin="{line}-motor",                      # captures 'line' from the twin id
        topic="factory/{line}/motor/telemetry",   # ... and uses it in the topic
        fields=(DeviceField("temperature", "temperature", unit="degreeCelsius", noise=0.2),),
    )
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import orjson

from twinsight.core.errors import SimulationError, TwinsightError
from twinsight.core.messages import MessagePublisher
from twinsight.ingest.units import converter
from twinsight.sim.binding import Route, TwinSimulation


@dataclass(frozen=True, slots=True)
class DeviceField:
    """One value in the device's JSON payload: ``field`` carries model output ``output``,
    converted into ``unit`` (when both have one), with Gaussian ``noise`` (standard
    deviation in the device's unit), kept inside the sensor's measuring ``range`` and
    rounded to ``digits`` (0: sent as an integer, as a counter or a status code is).

    The noise is bounded like a real sensor's: a draw further than
    :data:`NOISE_BOUND` standard deviations from the truth is clipped there (a transmitter
    filters out spikes), and a reading never leaves the range (a level gauge does not
    read below empty, a stopped shaft's encoder not below 0 rpm)."""

    field: str
    output: str
    unit: str = ""
    noise: float = 0.0
    digits: int | None = 3
    range: tuple[float, float] = (-math.inf, math.inf)


NOISE_BOUND = 4.0
"""Standard deviations beyond which sensor noise is clipped."""


@dataclass(frozen=True, slots=True)
class DeviceProfile:
    """How the devices of twins simulated by catalogue model ``model`` publish."""

    model: str
    topic: str
    fields: tuple[DeviceField, ...]
    twin: str = "{twin}"
    """Pattern of the twin ids, with ``{name}`` captures used in ``topic``."""
    time_field: str = "ts"
    """Field for the measurement time, in epoch milliseconds (empty: none sent)."""
    every: float = 1.0
    """Simulated seconds between two messages of one device."""
    qos: int = 1
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Constant fields every message carries (a firmware version, a unit tag)."""


@dataclass(frozen=True, slots=True)
class _Device:
    twin: str
    member: str
    topic: str
    fields: tuple[tuple[str, str, Any, float, int | None, tuple[float, float]], ...]
    profile: DeviceProfile


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", template)
    regex = "".join(
        re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts)
    )
    return re.compile(f"^{regex}$")


class VirtualDevices:
    """Publishes every simulated twin's device messages through ``publisher``.

    Use it as an output writer of a :class:`~twinsight.sim.live.LiveSimulation`: after each
    communication step, each device whose period has passed publishes one message.
    """

    def __init__(
        self,
        simulation: TwinSimulation,
        profiles: Sequence[DeviceProfile],
        publisher: MessagePublisher,
        *,
        seed: int = 0,
    ) -> None:
        self._simulation = simulation
        self._publisher = publisher
        # A publisher that takes a whole step's messages at once (MqttPublisher) writes
        # them in one go instead of one socket write per message.
        self._publish_many: Callable[[Sequence[tuple[str, bytes, int]]], None] | None = getattr(
            publisher, "publish_many", None
        )
        self._rng = np.random.default_rng(seed)
        self._devices: list[_Device] = []
        self._next_due: dict[str, datetime] = {}
        by_model = {p.model: p for p in profiles}
        for twin_id, model_name in simulation.models.items():
            profile = by_model.get(model_name)
            if profile is not None:
                self._devices.append(self._device(twin_id, profile))
        self.sent = 0
        self.sent_by: dict[str, int] = {}
        """Messages published per twin's device."""
        # Values a device reports with its next message (a desired value it applied, the
        # state a command left it in) and devices told to go offline; set from the
        # command endpoint's thread (sim/device_commands.py).
        self._reports: dict[str, dict[str, Any]] = {}
        self._offline: set[str] = set()
        self._report_lock = threading.Lock()

    @property
    def devices(self) -> list[str]:
        """The twins that have a device, with its topic: ``"twin → topic"``."""
        return [f"{d.twin} → {d.topic}" for d in self._devices]

    @property
    def topics(self) -> dict[str, str]:
        """Each simulated twin's device topic: its telemetry topic without the last level
        (``factory/line-1/motor``), where it listens for commands and desired values."""
        return {d.twin: d.topic.rsplit("/", 1)[0] for d in self._devices}

    def model_of(self, twin_id: str) -> str | None:
        """The catalogue model of a twin's device (``motor``), or ``None``."""
        for device in self._devices:
            if device.twin == twin_id:
                return device.profile.model
        return None

    def report(self, twin_id: str, values: Mapping[str, Any]) -> None:
        """Send ``values`` with the device's next message (as a real device reports the
        set-point it applied or the state a command left it in)."""
        with self._report_lock:
            self._reports.setdefault(twin_id, {}).update(values)

    def set_offline(self, twin_id: str, offline: bool = True) -> None:
        """Take a device off the network (it publishes and answers nothing) or back."""
        with self._report_lock:
            if offline:
                self._offline.add(twin_id)
            else:
                self._offline.discard(twin_id)

    def is_offline(self, twin_id: str) -> bool:
        with self._report_lock:
            return twin_id in self._offline

    def _device(self, twin_id: str, profile: DeviceProfile) -> _Device:
        match = _pattern(profile.twin).match(twin_id)
        if match is None:
            raise SimulationError(
                f"device profile for {profile.model!r}: twin {twin_id!r} does not match "
                f"the pattern {profile.twin!r}",
                model=twin_id,
            )
        captures = {"twin": twin_id, **match.groupdict()}
        try:
            topic = profile.topic.format(**captures)
        except KeyError as error:
            raise SimulationError(
                f"device profile for {profile.model!r}: topic {profile.topic!r} uses "
                f"{error.args[0]!r}, which the twin pattern {profile.twin!r} does not capture"
            ) from None
        model, prefix = self._simulation.locate(twin_id)
        outputs = {
            v.name[len(prefix) :]: v for v in model.description.outputs if v.name.startswith(prefix)
        }
        fields = []
        for spec in profile.fields:
            variable = outputs.get(spec.output)
            if variable is None:
                raise SimulationError(
                    f"device profile for {profile.model!r}: the model has no output "
                    f"{spec.output!r} (its outputs: {', '.join(sorted(outputs))})",
                    model=twin_id,
                )
            convert: Any = None
            if spec.unit and variable.unit:
                try:
                    convert = converter(variable.unit, spec.unit)
                except TwinsightError as error:
                    raise SimulationError(
                        f"device field {spec.field!r}: {error.message}", model=twin_id
                    ) from None
            if not (math.isfinite(spec.noise) and spec.noise >= 0):
                raise SimulationError(
                    f"device field {spec.field!r}: noise must be ≥ 0, not {spec.noise!r}"
                )
            low, high = spec.range
            if not low < high:
                raise SimulationError(
                    f"device field {spec.field!r}: the range {spec.range!r} is empty"
                )
            fields.append(
                (spec.field, prefix + spec.output, convert, spec.noise, spec.digits, spec.range)
            )
        member = self._simulation.locations.get(twin_id, (twin_id, ""))[0]
        return _Device(twin_id, member, topic, tuple(fields), profile)

    def write(self, when: datetime, values: Sequence[tuple[Route, float]] = ()) -> None:
        """Publish the messages due at ``when`` (the bound ``values`` are not needed: a
        device reads its model's outputs directly, bound to a twin or not)."""
        outputs: dict[str, dict[str, float]] = {}  # per member, read once per step
        batch: list[tuple[str, bytes, int]] = []
        with self._report_lock:
            offline = set(self._offline)
        for device in self._devices:
            due = self._next_due.get(device.twin)
            if due is not None and when < due:
                continue
            if device.twin in offline:
                continue
            self._next_due[device.twin] = when + timedelta(seconds=device.profile.every)
            produced = outputs.get(device.member)
            if produced is None:
                produced = outputs[device.member] = self._simulation.members[
                    device.member
                ].outputs()
            batch.append((device.topic, self._payload(device, when, produced), device.profile.qos))
            self.sent_by[device.twin] = self.sent_by.get(device.twin, 0) + 1
        if self._publish_many is not None:
            self._publish_many(batch)
        else:
            for topic, payload, qos in batch:
                self._publisher.publish(topic, payload, qos=qos)
        self.sent += len(batch)

    def _payload(self, device: _Device, when: datetime, outputs: Mapping[str, float]) -> bytes:
        body: dict[str, Any] = dict(device.profile.extra)
        if self._reports:
            with self._report_lock:
                body.update(self._reports.pop(device.twin, {}))
        if device.profile.time_field:
            body[device.profile.time_field] = int(when.timestamp() * 1000)
        for name, output, convert, noise, digits, (low, high) in device.fields:
            value = outputs[output]
            if convert is not None:
                value = convert(value)
            if noise:
                value += noise * min(max(float(self._rng.normal()), -NOISE_BOUND), NOISE_BOUND)
            value = min(max(value, low), high)
            if digits == 0:
                body[name] = round(value)
            else:
                body[name] = round(value, digits) if digits is not None else value
        return orjson.dumps(body)
