"""MQTT subscriber that feeds the ingest pipeline, acknowledging only what is stored.

Why it is built this way:

* **Acknowledge after storing.** paho runs with ``manual_ack=True``: ``on_message`` only puts
  the message on a bounded queue; a worker thread hands batches to ``sink.submit`` and only
  after it returns (the contract says: durably stored) sends the QoS 1 PUBACKs. If the
  process dies in between, the broker still holds the messages and redelivers them to the
  same client id, so a QoS 1 message is never lost (it may arrive twice; the pipeline
  dedupes). With a ``client_id`` the session is persistent (MQTT 3.1.1 clean session off,
  MQTT 5 ``clean_start`` off plus a session expiry) so that redelivery survives restarts.
* **Never drop on a failing sink.** A batch whose ``submit`` raises is retried with
  exponential back-off, unacknowledged, until it is stored or the connector stops.
* **Back-pressure, not loss.** When the queue is full ``on_message`` waits, which stops
  paho reading the socket, so TCP flow control pushes back to the broker.
* **Batches bounded by count, time and the broker's in-flight window.** A broker sends at
  most its in-flight window (Mosquitto's ``max_inflight_messages``, 20 by default; for
  MQTT 5 we announce ``inflight`` as Receive Maximum) of unacknowledged QoS 1 messages, so
  waiting for more than that would only add latency: a batch is closed at ``batch_size``
  messages, after ``batch_latency_ms``, or when it holds ``inflight`` unacknowledged ones.
* **Reconnect with back-off**, logged as ``lost connection to broker ... retrying in N s``
  and ``reconnected to broker ...``; subscriptions are renewed on every connect, so a broker
  restarted without persistence still delivers. Refused credentials are not retried:
  :meth:`MqttConnector.start` raises :class:`~twinsight.core.errors.ConnectorError`.
* **Shared subscriptions** (``$share/<group>/<filter>``, MQTT 5 and Mosquitto's 3.1.1
  extension) let several ingest workers split one stream: each message goes to one member.
"""

from __future__ import annotations

import logging
import queue
import ssl
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from twinsight.core.clock import Clock
from twinsight.core.errors import ConnectorError, TwinsightError
from twinsight.core.messages import MessageSink, RawMessage

log = logging.getLogger("twinsight.ingest.mqtt")

# CONNACK reason codes that retrying cannot fix (MQTT 5 numbering; paho maps 3.1.1's too).
_TERMINAL_CONNACK = {
    0x84: "unsupported protocol version",
    0x85: "client identifier not valid",
    0x86: "bad user name or password",
    0x87: "not authorized",
    0x8A: "banned",
    0x8C: "bad authentication method",
}


def _invalid(message: str) -> TwinsightError:
    return TwinsightError(message, code="InvalidArgument")


@dataclass(frozen=True, slots=True)
class MqttSettings:
    """Where to subscribe and how: a small declarative record (one per broker).

    >>> s = MqttSettings("mqtts://broker.example:8883", topics=("plant/#",), shared_group="ingest")
    >>> (s.host, s.port, s.tls, s.subscriptions)
    ('broker.example', 8883, True, ('$share/ingest/plant/#',))
    """

    url: str = "mqtt://127.0.0.1:1883"
    """``mqtt://host[:port]`` (default port 1883) or ``mqtts://host[:port]`` (TLS, 8883)."""
    topics: tuple[str, ...] = ("#",)
    qos: Literal[0, 1] = 1
    protocol: Literal["3.1.1", "5"] = "5"
    client_id: str = ""
    """Fixed id → persistent session (redelivery across restarts); empty → random, clean."""
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    """CA bundle to verify the broker with (``mqtts``); the system's when not given."""
    cert_file: str | None = None
    key_file: str | None = None
    shared_group: str | None = None
    """Subscribe as ``$share/<group>/<topic>``: members of the group split the stream."""
    batch_size: int = 500
    batch_latency_ms: int = 50
    inflight: int = 20
    """QoS 1 messages the broker may have unacknowledged with us (see module docstring)."""
    queue_size: int = 10_000
    keepalive: int = 30
    session_expiry: int = 3600
    """Seconds an MQTT 5 broker keeps a persistent session while we are away."""
    reconnect_min: int = 1
    reconnect_max: int = 30
    connect_timeout: float = 10.0
    """How long :meth:`MqttConnector.start` waits for the first connect and subscribe."""

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise _invalid(
                f"MQTT URL must look like mqtt://host:port or mqtts://host:port: {self.url!r}"
            )
        try:
            parts.port  # noqa: B018 (parsing raises on a bad port)
        except ValueError as exc:
            raise _invalid(f"bad port in MQTT URL {self.url!r}") from exc
        if not self.topics or any(not t for t in self.topics):
            raise _invalid("at least one non-empty MQTT topic filter is needed")
        if self.qos not in (0, 1):
            raise _invalid(f"MQTT QoS must be 0 or 1, not {self.qos!r}")
        if self.protocol not in ("3.1.1", "5"):
            raise _invalid(f"MQTT protocol must be '3.1.1' or '5', not {self.protocol!r}")
        if self.shared_group is not None and (
            not self.shared_group or any(c in self.shared_group for c in "/+#")
        ):
            raise _invalid(f"shared subscription group must be a plain name: {self.shared_group!r}")
        for name in ("batch_size", "batch_latency_ms", "inflight", "queue_size", "keepalive"):
            if getattr(self, name) <= 0:
                raise _invalid(f"MQTT setting {name} must be positive")
        if (self.cert_file is None) != (self.key_file is None):
            raise _invalid("a client certificate needs both cert_file and key_file")

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme == "mqtts"

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or (8883 if self.tls else 1883)

    @property
    def subscriptions(self) -> tuple[str, ...]:
        if self.shared_group is None:
            return self.topics
        return tuple(f"$share/{self.shared_group}/{t}" for t in self.topics)

    @property
    def safe_url(self) -> str:
        """The URL for logs: never with credentials."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class MqttStats:
    """Counters for the data-quality API: compare received with acked to see what is still
    in flight, and reconnects/submit_failures to see an unhealthy link or pipeline."""

    received: int
    submitted: int
    acked: int
    reconnects: int
    submit_failures: int
    queue_depth: int
    connected: bool


class _Pending(NamedTuple):
    message: RawMessage
    mid: int
    qos: int
    session: int
    """Which connection it came in on: a PUBACK is only valid on that one."""


class MqttConnector:
    """Subscribes to ``settings.topics`` and delivers batches to ``sink`` (see module doc)."""

    def __init__(self, sink: MessageSink, settings: MqttSettings, clock: Clock) -> None:
        self.sink = sink
        self.settings = settings
        self.clock = clock
        self.persistent = bool(settings.client_id)
        self.client_id = settings.client_id or f"twinsight-{uuid.uuid4().hex[:12]}"
        self._queue: queue.Queue[_Pending] = queue.Queue(maxsize=settings.queue_size)
        self._lock = threading.Lock()
        self._session = 0
        self._connected = False
        self._ever_connected = False
        self._next_delay: float | None = None
        self._outcome = threading.Event()
        self._refusal: str | None = None
        self._pending_subscribe: set[int] = set()
        self._closing = threading.Event()
        self._abort = threading.Event()
        self._worker: threading.Thread | None = None
        self._started = False
        self._received = self._submitted = self._acked = 0
        self._reconnects = self._submit_failures = 0
        self._client = self._make_client()

    # -- set-up ---------------------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        s = self.settings
        v5 = s.protocol == "5"
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            clean_session=None if v5 else not self.persistent,
            manual_ack=True,
        )
        client.reconnect_delay_set(s.reconnect_min, s.reconnect_max)
        if s.username is not None:
            client.username_pw_set(s.username, s.password)
        if s.tls:
            try:
                client.tls_set(ca_certs=s.ca_file, certfile=s.cert_file, keyfile=s.key_file)
            except (OSError, ValueError) as exc:
                raise ConnectorError(f"cannot load TLS files for {s.safe_url}: {exc}") from exc
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    def _connect_kwargs(self) -> dict[str, Any]:
        s = self.settings
        if s.protocol != "5":
            return {}
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.ReceiveMaximum = s.inflight
        if self.persistent:
            props.SessionExpiryInterval = s.session_expiry
        return {"clean_start": not self.persistent, "properties": props}

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Connect, subscribe and start delivering.

        Waits up to ``connect_timeout`` for the subscription to be in place, so messages
        published after ``start`` returns are received. A broker that is down is not an
        error (the connector keeps retrying in the background and says so in the log);
        refused credentials, a refused subscription or a failed TLS handshake are, because
        retrying cannot fix them.
        """
        if self._started:
            raise ConnectorError("MQTT connector already started")
        self._started = True
        s = self.settings
        self._worker = threading.Thread(
            target=self._drain, name=f"mqtt-ingest-{self.client_id}", daemon=True
        )
        self._worker.start()
        try:
            self._client.connect(s.host, s.port, s.keepalive, **self._connect_kwargs())
        except ssl.SSLError as exc:
            self._shutdown_worker(0)
            raise ConnectorError(
                f"TLS handshake with MQTT broker {s.safe_url} failed: {exc}"
            ) from exc
        except OSError as exc:  # paho's loop retries at once, then logs each back-off
            log.warning("cannot reach MQTT broker %s (%s); retrying", s.safe_url, exc)
            self._client.connect_async(s.host, s.port, s.keepalive, **self._connect_kwargs())
        self._client.loop_start()
        if not self._outcome.wait(s.connect_timeout):
            log.warning(
                "MQTT broker %s did not accept us within %.0f s; still trying in the background",
                s.safe_url,
                s.connect_timeout,
            )
            return
        if self._refusal is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._shutdown_worker(0)
            raise ConnectorError(self._refusal)

    def stop(self, timeout: float = 10.0) -> None:
        """Store what was received, acknowledge it, then disconnect.

        New messages are no longer taken once stopping begins: QoS 1 ones stay
        unacknowledged, so a persistent session gets them again on the next start.
        """
        if not self._started:
            return
        self._started = False
        self._shutdown_worker(timeout)
        self._client.disconnect()
        self._client.loop_stop()
        left = self._queue.qsize()
        if left:
            log.error(
                "MQTT connector for %s stopped with %d message(s) not stored; QoS 1 ones were "
                "not acknowledged, so the broker redelivers them to client id %s",
                self.settings.safe_url,
                left,
                self.client_id,
            )

    def _shutdown_worker(self, timeout: float) -> None:
        self._closing.set()
        worker = self._worker
        if worker is None:
            return
        worker.join(timeout)
        if worker.is_alive():  # the sink keeps failing: give up on what is left
            self._abort.set()
            worker.join(5)

    def stats(self) -> MqttStats:
        with self._lock:
            return MqttStats(
                received=self._received,
                submitted=self._submitted,
                acked=self._acked,
                reconnects=self._reconnects,
                submit_failures=self._submit_failures,
                queue_depth=self._queue.qsize(),
                connected=self._connected,
            )

    # -- paho callbacks (network thread) ----------------------------------------------------

    def _advance_delay(self) -> float:
        """The wait paho's reconnect loop is about to do (it doubles from min to max and
        starts over after a successful connect); mirrored here only to log it."""
        s = self.settings
        with self._lock:
            if self._next_delay is None:
                self._next_delay = float(s.reconnect_min)
            else:
                self._next_delay = min(self._next_delay * 2, float(s.reconnect_max))
            return self._next_delay

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        s = self.settings
        if reason.is_failure:
            why = _TERMINAL_CONNACK.get(reason.value)
            if why is not None and not self._ever_connected:
                self._refusal = f"MQTT broker {s.safe_url} refused the connection: {why}" + (
                    " (check the user name and password)" if reason.value in (0x86, 0x87) else ""
                )
                client.disconnect()
                self._outcome.set()
                return
            log.warning("MQTT broker %s refused the connection: %s", s.safe_url, reason)
            return
        with self._lock:
            self._session += 1
            self._connected = True
            self._next_delay = None
            reconnected = self._ever_connected
            self._ever_connected = True
            if reconnected:
                self._reconnects += 1
        if reconnected:
            log.info(
                "reconnected to broker %s as %s (session %s)",
                s.safe_url,
                self.client_id,
                "resumed" if flags.session_present else "new",
            )
        else:
            log.info(
                "connected to MQTT broker %s as %s (MQTT %s, QoS %d): %s",
                s.safe_url,
                self.client_id,
                s.protocol,
                s.qos,
                ", ".join(s.subscriptions),
            )
        topics: list[tuple[str, int]] = [(t, s.qos) for t in s.subscriptions]
        result, mid = client.subscribe(topics)
        if result == MQTTErrorCode.MQTT_ERR_SUCCESS and mid is not None:
            self._pending_subscribe.add(mid)

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reasons: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        self._pending_subscribe.discard(mid)
        refused = [
            f"{topic} ({reason})"
            for topic, reason in zip(self.settings.subscriptions, reasons, strict=False)
            if reason.is_failure
        ]
        if refused:
            message = f"MQTT broker {self.settings.safe_url} refused the subscription to " + (
                ", ".join(refused)
            )
            log.error("%s", message)
            if not self._outcome.is_set():
                self._refusal = message
        self._outcome.set()

    def _on_connect_fail(self, client: mqtt.Client, userdata: object) -> None:
        log.warning(
            "cannot reach MQTT broker %s; retrying in %s s",
            self.settings.safe_url,
            self._advance_delay(),
        )

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self._lock:
            was_connected = self._connected
            self._connected = False
        if self._closing.is_set() or self._refusal is not None or not was_connected:
            return
        with self._lock:
            unacked = self._queue.qsize()
        log.warning(
            "lost connection to broker %s (%s); retrying in %s s (%d received message(s) not "
            "yet stored; QoS 1 ones will be redelivered)",
            self.settings.safe_url,
            reason,
            self._advance_delay(),
            unacked,
        )

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        if self._closing.is_set():
            return  # not acknowledged: a persistent session gets it again on the next start
        try:
            topic = msg.topic
        except UnicodeDecodeError:  # kept, so the pipeline can dead-letter it with the bytes
            topic = msg._topic.decode("utf-8", "replace")
        item = _Pending(
            RawMessage("mqtt", topic, bytes(msg.payload), self.clock.now(), client=self.client_id),
            msg.mid,
            msg.qos,
            self._session,
        )
        with self._lock:
            self._received += 1
        while True:  # a full queue blocks the network loop: TCP back-pressure, no loss
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                if self._closing.is_set():
                    return

    # -- worker thread ------------------------------------------------------------------

    def _drain(self) -> None:
        while True:
            batch = self._next_batch()
            if batch:
                self._deliver(batch)
            elif self._closing.is_set() or self._abort.is_set():
                return

    def _next_batch(self) -> list[_Pending]:
        s = self.settings
        try:
            first = self._queue.get(timeout=0.1)
        except queue.Empty:
            return []
        batch = [first]
        unacked = int(first.qos > 0)
        deadline = time.monotonic() + s.batch_latency_ms / 1000
        while len(batch) < s.batch_size and unacked < s.inflight:
            remaining = deadline - time.monotonic()
            try:
                item = (
                    self._queue.get(timeout=remaining)
                    if remaining > 0
                    else self._queue.get_nowait()
                )
            except queue.Empty:
                break
            batch.append(item)
            unacked += item.qos > 0
        return batch

    def _deliver(self, batch: list[_Pending]) -> None:
        s = self.settings
        messages = [p.message for p in batch]
        delay = float(s.reconnect_min)
        while True:
            try:
                self.sink.submit(messages)
                break
            except Exception as exc:  # any sink failure: keep the batch, never drop it
                with self._lock:
                    self._submit_failures += 1
                log.warning(
                    "ingest sink failed on a batch of %d MQTT message(s) (%s: %s); retrying in "
                    "%.1f s, nothing acknowledged",
                    len(messages),
                    type(exc).__name__,
                    exc,
                    delay,
                )
                if self._abort.wait(delay):
                    log.error(
                        "gave up on %d MQTT message(s) at shutdown; QoS 1 ones stay "
                        "unacknowledged for redelivery",
                        len(messages),
                    )
                    return
                delay = min(delay * 2, float(s.reconnect_max))
        with self._lock:
            self._submitted += len(batch)
            session = self._session
        acked = 0
        for p in batch:
            # An ack belongs to the connection the message came in on; one from before a
            # reconnect is redelivered by the broker instead (stored twice, deduped later).
            if p.qos > 0 and p.session == session:
                self._client.ack(p.mid, p.qos)
                acked += 1
        with self._lock:
            self._acked += acked
