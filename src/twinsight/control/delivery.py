"""Delivering actions to devices: the topic scheme, correlation ids, timeout and retry.

Protocol-free on purpose: a :class:`CommandTransport` (the MQTT adapter,
:mod:`twinsight.ingest.connectors.mqtt_commands`) moves bytes; this module decides what
goes where, matches answers to requests by correlation id, sends a request again when no
answer came in time (with the *same* id, so a device can drop the duplicate) and gives up
after the last retry.

Topic scheme (``prefix`` default ``twinsight``, ``device`` the twin's device topic)::

    <prefix>/<device>/commands/<name>/request              {"id": corr, "request": ...}
    <prefix>/<device>/commands/<component>/<name>/request  (a component's command)
    <prefix>/<device>/commands/.../response                {"id": corr, "status": ...,
                                                            "response": ...}
    <prefix>/<device>/desired                              {"id": corr, "desired": {"path": value}}
    <prefix>/<device>/desired/response                     {"id": corr, "status": ...}

``status`` is ``accepted`` (the device took it and works on it), ``done`` or ``failed``
(with ``"error": "why"``). Where the transport carries the correlation id outside the body
(MQTT 5's Correlation Data), an answer is matched by that, else by the body's ``"id"``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

log = logging.getLogger(__name__)

RESPONSE_STATUSES = ("accepted", "done", "failed")


class CommandTransport(Protocol):
    """Moves requests to devices and their answers back (MQTT in the platform)."""

    def publish(self, topic: str, payload: bytes, correlation: str | None = None) -> None:
        """Send ``payload``; ``correlation`` (the id also in the body) may travel outside the
        body too (MQTT 5 Correlation Data) for a device to echo."""
        ...

    def listen(self, handler: Callable[[str, bytes, str | None], None]) -> None:
        """Call ``handler(topic, payload, correlation)`` for every message on a
        ``.../response`` topic (``correlation`` None when the message carried none outside
        its body)."""
        ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True, slots=True)
class DeviceTopics:
    """Which topic a twin's device listens on: ``table`` (twin id → device topic, declared
    by the scenario), else the twin id itself."""

    prefix: str = "twinsight"
    table: Mapping[str, str] = field(default_factory=dict)

    def device(self, twin_id: str) -> str:
        return self.table.get(twin_id, twin_id)

    def command(self, twin_id: str, name: str, component: str | None = None) -> str:
        path = f"{component}/{name}" if component else name
        return f"{self.prefix}/{self.device(twin_id)}/commands/{path}/request"

    def desired(self, twin_id: str) -> str:
        return f"{self.prefix}/{self.device(twin_id)}/desired"


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    """``timeout``: seconds to wait for a device's first answer before sending again;
    ``retries``: how many times to send again; ``completion``: seconds an accepted
    command may take to finish."""

    timeout: float = 5.0
    retries: int = 2
    completion: float = 60.0


Outcome = Callable[[str, str, Any, str, int], None]
"""``(action_id, state, response, error, attempts)``: what became of a delivered action;
``state`` is ``accepted``, ``done``, ``failed``, ``timed_out`` or ``retry``."""


@dataclass(slots=True)
class _InFlight:
    action_id: str
    correlation: str
    topic: str
    payload: bytes
    attempts: int
    deadline: float
    accepted: bool = False
    await_report: bool = False


class Delivery:
    """Sends requests, matches answers by correlation id, retries and times out."""

    def __init__(
        self,
        transport: CommandTransport,
        topics: DeviceTopics,
        settings: DeliverySettings | None = None,
    ) -> None:
        self.transport = transport
        self.topics = topics
        self.settings = settings or DeliverySettings()
        self._outcome: Outcome | None = None
        self._inflight: dict[str, _InFlight] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        transport.listen(self._on_message)

    def on_outcome(self, outcome: Outcome) -> None:
        self._outcome = outcome

    def start(self) -> None:
        self.transport.start()
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="command-delivery", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.transport.stop()

    def send(
        self,
        action_id: str,
        correlation_id: str,
        topic: str,
        body: dict[str, Any],
        *,
        await_report: bool = False,
    ) -> None:
        """Publish ``body`` (the correlation id added) on ``topic`` and watch for its answer.

        ``await_report``: a desired value is finished when the device *reports* it (the
        command service calls :meth:`settle`), so the device's ``done`` counts as
        ``accepted`` and ``completion`` is the deadline to converge."""
        payload = orjson.dumps({"id": correlation_id, **body})
        with self._lock:
            self._inflight[correlation_id] = _InFlight(
                action_id,
                correlation_id,
                topic,
                payload,
                1,
                time.monotonic() + self.settings.timeout,
                await_report=await_report,
            )
        self.transport.publish(topic, payload, correlation_id)

    def settle(self, correlation_id: str) -> bool:
        """Stop watching ``correlation_id`` (its outcome is known otherwise); whether it was
        still watched."""
        with self._lock:
            return self._inflight.pop(correlation_id, None) is not None

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._inflight)

    def _report(self, action_id: str, state: str, response: Any, error: str, n: int) -> None:
        if self._outcome is not None:
            try:
                self._outcome(action_id, state, response, error, n)
            except Exception:
                log.exception("recording the outcome of action %s failed", action_id)

    def _on_message(self, topic: str, payload: bytes, correlation: str | None = None) -> None:
        try:
            body = orjson.loads(payload)
        except orjson.JSONDecodeError:
            log.warning("device answer on %s is not JSON; ignored", topic)
            return
        if not isinstance(body, dict):
            log.warning("device answer on %s is not a JSON object; ignored", topic)
            return
        corr = correlation or body.get("id")
        if not isinstance(corr, str) or not corr:
            log.warning("device answer on %s has no correlation id; ignored", topic)
            return
        status = body.get("status")
        if status not in RESPONSE_STATUSES:
            log.warning("device answer on %s: unknown status %r; ignored", topic, status)
            return
        with self._lock:
            flight = self._inflight.get(corr)
            if flight is None:
                return  # a late or duplicate answer: the action is already settled
            if status == "done" and flight.await_report:
                status = "accepted"
            if status == "accepted":
                if flight.accepted:
                    return
                flight.accepted = True
                flight.deadline = time.monotonic() + self.settings.completion
            else:
                del self._inflight[corr]
            attempts = flight.attempts
        error = str(body.get("error", "")) if status == "failed" else ""
        self._report(flight.action_id, status, body.get("response"), error, attempts)

    def _watch(self) -> None:
        while not self._stop.wait(0.05):
            now = time.monotonic()
            resend: list[_InFlight] = []
            expired: list[tuple[_InFlight, str]] = []
            with self._lock:
                for corr, flight in list(self._inflight.items()):
                    if now < flight.deadline:
                        continue
                    if not flight.accepted and flight.attempts <= self.settings.retries:
                        flight.attempts += 1
                        flight.deadline = now + self.settings.timeout
                        resend.append(flight)
                    else:
                        del self._inflight[corr]
                        why = (
                            f"the device did not report the desired value within "
                            f"{self.settings.completion:g} s (never converged)"
                            if flight.accepted and flight.await_report
                            else f"accepted but not finished within {self.settings.completion:g} s"
                            if flight.accepted
                            else f"no answer after {flight.attempts} attempt(s), "
                            f"{self.settings.timeout:g} s each"
                        )
                        expired.append((flight, why))
            for flight in resend:
                try:
                    self.transport.publish(flight.topic, flight.payload, flight.correlation)
                except Exception as exc:  # the broker may be away: the next retry may pass
                    log.warning("resending to %s failed: %s", flight.topic, exc)
                self._report(flight.action_id, "retry", None, "", flight.attempts)
            for flight, why in expired:
                self._report(flight.action_id, "timed_out", None, why, flight.attempts)
