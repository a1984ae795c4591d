"""MQTT subscriber that feeds the ingest pipeline, acknowledging only what is stored.

Why it is built this way:

* **Its own receive path, read in bulk.** The connector speaks the subscriber's side of
  MQTT 3.1.1 and 5 itself (:mod:`~twinsight.ingest.connectors.mqtt_wire`): one thread reads
  the socket in large chunks, cuts out every complete PUBLISH in one pass, hands them to
  ``sink.submit`` as one batch and then sends all their PUBACKs in one write. paho-mqtt (a
  select, several reads and a callback per message, plus a second thread and a queue to
  get back to the worker) cost more per message than the whole pipeline; see
  docs/benchmarks.md, *Live-data ingestion*.
* **Acknowledge after storing.** QoS 1 PUBACKs are sent only after ``sink.submit`` returns
  (the contract says: durably stored). If the process dies in between, the broker still
  holds the messages and redelivers them to the same client id, so a QoS 1 message is never
  lost (it may arrive twice; the pipeline dedupes). With a ``client_id`` the session is
  persistent (MQTT 3.1.1 clean session off, MQTT 5 ``clean_start`` off plus a session
  expiry) so that redelivery survives restarts.
* **Never drop on a failing sink.** A batch whose ``submit`` raises is retried with
  exponential back-off, unacknowledged, until it is stored or the connector stops.
* **Back-pressure, not loss.** While a batch is being stored the socket is not read, so TCP
  flow control pushes back to the broker.
* **Batches bounded by what has arrived, ``batch_size`` and the broker's in-flight window.**
  A broker sends at most its in-flight window (Mosquitto's ``max_inflight_messages``, 20 by
  default; for MQTT 5 we announce ``inflight`` as Receive Maximum) of unacknowledged QoS 1
  messages, so a batch is every complete message read so far, closed at ``batch_size``
  messages or ``inflight`` unacknowledged ones. Nothing waits for a batch to fill: under
  load, messages pile up while the previous batch is stored, so batches grow by themselves.
* **Reconnect with back-off**, logged as ``lost connection to broker ... retrying in N s``
  and ``reconnected to broker ...``; subscriptions are renewed on every connect, so a broker
  restarted without persistence still delivers. Refused credentials are not retried:
  :meth:`MqttConnector.start` raises :class:`~twinsight.core.errors.ConnectorError`.
* **Shared subscriptions** (``$share/<group>/<filter>``, MQTT 5 and Mosquitto's 3.1.1
  extension) let several ingest workers split one stream: each message goes to one member.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from twinsight.core.clock import Clock
from twinsight.core.errors import ConnectorError, TwinsightError
from twinsight.core.messages import MessageSink, RawMessage
from twinsight.ingest.connectors import mqtt_wire as wire

log = logging.getLogger("twinsight.ingest.mqtt")

# CONNACK reason codes that retrying cannot fix (MQTT 5 numbering; 3.1.1's are mapped).
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
    """Kept for compatibility: batches no longer wait to fill (see the module docstring)."""
    inflight: int = 1000
    """QoS 1 messages the broker may have unacknowledged with us (see module docstring);
    the broker's own limit (Mosquitto's ``max_inflight_messages``) applies too."""
    queue_size: int = 10_000
    """Kept for compatibility: there is no queue between the socket and the sink."""
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


class _Lost(Exception):
    """The connection is gone (or must be dropped); the reason is the message."""


_READ_SIZE = 1 << 18


class MqttConnector:
    """Subscribes to ``settings.topics`` and delivers batches to ``sink`` (see module doc)."""

    def __init__(self, sink: MessageSink, settings: MqttSettings, clock: Clock) -> None:
        self.sink = sink
        self.settings = settings
        self.clock = clock
        self.persistent = bool(settings.client_id)
        self.client_id = settings.client_id or f"twinsight-{uuid.uuid4().hex[:12]}"
        self._v5 = settings.protocol == "5"
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._connected = False
        self._ever_connected = False
        self._delay: float | None = None
        self._outcome = threading.Event()
        self._refusal: str | None = None
        self._closing = threading.Event()
        self._abort = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = False
        self._received = self._submitted = self._acked = 0
        self._reconnects = self._submit_failures = 0
        self._pending = 0
        self._topics: dict[bytes, str] = {}
        self._ssl: ssl.SSLContext | None = self._tls_context() if settings.tls else None

    # -- set-up ---------------------------------------------------------------------------

    def _tls_context(self) -> ssl.SSLContext:
        s = self.settings
        try:
            context = ssl.create_default_context(cafile=s.ca_file)
            if s.cert_file is not None:
                context.load_cert_chain(s.cert_file, s.key_file)
        except (OSError, ValueError, ssl.SSLError) as exc:
            raise ConnectorError(f"cannot load TLS files for {s.safe_url}: {exc}") from exc
        return context

    def _open(self) -> socket.socket:
        """TCP (and TLS) connection to the broker, CONNECT sent; raises OSError."""
        s = self.settings
        sock = socket.create_connection((s.host, s.port), timeout=s.connect_timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._ssl is not None:
                sock = self._ssl.wrap_socket(sock, server_hostname=s.host)
            sock.sendall(
                wire.connect(
                    self.client_id,
                    v5=self._v5,
                    clean=not self.persistent,
                    keepalive=s.keepalive,
                    username=s.username,
                    password=s.password,
                    receive_maximum=s.inflight if self._v5 else None,
                    session_expiry=s.session_expiry if self._v5 and self.persistent else None,
                )
            )
            sock.settimeout(0.2)
        except BaseException:
            sock.close()
            raise
        return sock

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
        sock: socket.socket | None = None
        try:
            sock = self._open()
        except ssl.SSLError as exc:
            self._started = False
            raise ConnectorError(
                f"TLS handshake with MQTT broker {s.safe_url} failed: {exc}"
            ) from exc
        except OSError as exc:
            log.warning("cannot reach MQTT broker %s (%s); retrying", s.safe_url, exc)
        self._thread = threading.Thread(
            target=self._run, args=(sock,), name=f"mqtt-ingest-{self.client_id}", daemon=True
        )
        self._thread.start()
        if not self._outcome.wait(s.connect_timeout):
            log.warning(
                "MQTT broker %s did not accept us within %.0f s; still trying in the background",
                s.safe_url,
                s.connect_timeout,
            )
            return
        if self._refusal is not None:
            self._shutdown(0)
            raise ConnectorError(self._refusal)

    def stop(self, timeout: float = 10.0) -> None:
        """Store what was received, acknowledge it, then disconnect.

        New messages are no longer read once stopping begins: QoS 1 ones stay
        unacknowledged, so a persistent session gets them again on the next start.
        """
        if not self._started:
            return
        self._started = False
        self._shutdown(timeout)

    def _shutdown(self, timeout: float) -> None:
        self._closing.set()
        thread = self._thread
        if thread is None:
            return
        thread.join(timeout)
        if thread.is_alive():  # the sink keeps failing: give up on what is left
            self._abort.set()
            thread.join(5)
        if self._pending:
            log.error(
                "MQTT connector for %s stopped with %d message(s) not stored; QoS 1 ones were "
                "not acknowledged, so the broker redelivers them to client id %s",
                self.settings.safe_url,
                self._pending,
                self.client_id,
            )

    def stats(self) -> MqttStats:
        with self._lock:
            return MqttStats(
                received=self._received,
                submitted=self._submitted,
                acked=self._acked,
                reconnects=self._reconnects,
                submit_failures=self._submit_failures,
                queue_depth=self._pending,
                connected=self._connected,
            )

    # -- the connection thread --------------------------------------------------------------

    def _advance_delay(self) -> float:
        """The next wait before reconnecting: doubles from min to max, starts over after a
        successful connect."""
        s = self.settings
        if self._delay is None:
            self._delay = float(s.reconnect_min)
        else:
            self._delay = min(self._delay * 2, float(s.reconnect_max))
        return self._delay

    def _run(self, sock: socket.socket | None) -> None:
        s = self.settings
        while not self._closing.is_set():
            if sock is None:
                try:
                    sock = self._open()
                except OSError as exc:
                    delay = self._advance_delay()
                    log.warning(
                        "cannot reach MQTT broker %s (%s); retrying in %s s",
                        s.safe_url,
                        exc,
                        delay,
                    )
                    if self._closing.wait(delay):
                        return
                    continue
            try:
                self._session(sock)
                return  # closing, or refused for good
            except _Lost as exc:
                reason = str(exc)
            except (OSError, wire.ProtocolError) as exc:
                reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            finally:
                sock.close()
                sock = None
            with self._lock:
                was_connected = self._connected
                self._connected = False
            if self._closing.is_set():
                return
            delay = self._advance_delay()
            if was_connected:
                log.warning(
                    "lost connection to broker %s (%s); retrying in %s s (received messages "
                    "not yet stored are not acknowledged; QoS 1 ones will be redelivered)",
                    s.safe_url,
                    reason,
                    delay,
                )
            else:
                log.warning("MQTT broker %s: %s; retrying in %s s", s.safe_url, reason, delay)
            if self._closing.wait(delay):
                return

    def _session(self, sock: socket.socket) -> None:
        """One connection: CONNACK, SUBSCRIBE, then read → submit → PUBACK until closing."""
        s = self.settings
        v5 = self._v5
        buf = bytearray()
        packets: list[wire.Publish | wire.Control] = []
        last_sent = last_heard = time.monotonic()
        ping_sent = False
        subscribe_mid = 1
        connected = False
        limit = max(1, min(s.batch_size, s.inflight if s.qos else s.batch_size))
        while True:
            if self._closing.is_set():
                if connected:
                    self._take(buf, packets, v5, limit, sock)  # what was read is stored
                    with contextlib.suppress(OSError):
                        sock.sendall(wire.DISCONNECT_PACKET)
                return
            try:
                data = sock.recv(_READ_SIZE)
            except TimeoutError:
                data = None
            now = time.monotonic()
            if data is not None:
                if not data:
                    raise _Lost("closed by the broker")
                buf += data
                last_heard = now
                ping_sent = False
                # more already waiting? take it too, so a batch is as big as what has arrived
                while len(data) == _READ_SIZE:
                    try:
                        sock.setblocking(False)
                        data = sock.recv(_READ_SIZE)
                    except (BlockingIOError, ssl.SSLWantReadError):
                        break
                    finally:
                        sock.settimeout(0.2)
                    if not data:
                        break
                    buf += data
            while buf:
                del packets[:]
                used = wire.parse(buf, v5, packets, limit)
                if not used:
                    break
                del buf[:used]
                publishes = [p for p in packets if isinstance(p, wire.Publish)]
                for packet in packets:
                    if isinstance(packet, wire.Control):
                        if packet.kind == wire.CONNACK:
                            if not self._on_connack(sock, packet.body, subscribe_mid):
                                return
                            connected = True
                        elif packet.kind == wire.SUBACK:
                            self._on_suback(packet.body)
                        elif packet.kind == wire.DISCONNECT:
                            code = packet.body[0] if packet.body else 0
                            raise _Lost(f"the broker disconnected us, reason 0x{code:02x}")
                if publishes:
                    if not self._deliver(sock, publishes):
                        return
                    last_sent = time.monotonic()
            now = time.monotonic()
            if ping_sent and now - last_heard > s.keepalive * 1.5:
                raise _Lost(f"no answer from the broker for {s.keepalive * 1.5:.0f} s")
            if not ping_sent and now - last_sent > s.keepalive * 0.75:
                sock.sendall(wire.PINGREQ_PACKET)
                last_sent = now
                ping_sent = True

    def _take(
        self,
        buf: bytearray,
        packets: list[wire.Publish | wire.Control],
        v5: bool,
        limit: int,
        sock: socket.socket,
    ) -> None:
        while buf:
            del packets[:]
            used = wire.parse(buf, v5, packets, limit)
            if not used:
                return
            del buf[:used]
            publishes = [p for p in packets if isinstance(p, wire.Publish)]
            if publishes and not self._deliver(sock, publishes):
                return

    def _on_connack(self, sock: socket.socket, body: bytes, mid: int) -> bool:
        s = self.settings
        session_present, code = wire.connack(body, v5=self._v5)
        if code:
            why = _TERMINAL_CONNACK.get(code)
            if why is not None and not self._ever_connected:
                self._refusal = f"MQTT broker {s.safe_url} refused the connection: {why}" + (
                    " (check the user name and password)" if code in (0x86, 0x87) else ""
                )
                self._outcome.set()
                return False
            raise _Lost(f"refused the connection: reason 0x{code:02x}")
        with self._lock:
            self._connected = True
            reconnected = self._ever_connected
            self._ever_connected = True
            if reconnected:
                self._reconnects += 1
        self._delay = None
        if reconnected:
            log.info(
                "reconnected to broker %s as %s (session %s)",
                s.safe_url,
                self.client_id,
                "resumed" if session_present else "new",
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
        sock.sendall(wire.subscribe(mid, [(t, s.qos) for t in s.subscriptions], v5=self._v5))
        return True

    def _on_suback(self, body: bytes) -> None:
        _, reasons = wire.suback(body, v5=self._v5)
        refused = [
            f"{topic} (reason 0x{reason:02x})"
            for topic, reason in zip(self.settings.subscriptions, reasons, strict=False)
            if reason >= 0x80
        ]
        if refused:
            message = f"MQTT broker {self.settings.safe_url} refused the subscription to " + (
                ", ".join(refused)
            )
            log.error("%s", message)
            if not self._outcome.is_set():
                self._refusal = message
        self._outcome.set()

    def _topic(self, raw: bytes) -> str:
        topic = self._topics.get(raw)
        if topic is None:
            try:
                topic = raw.decode()
            except UnicodeDecodeError:  # kept, so the pipeline can dead-letter it
                topic = raw.decode("utf-8", "replace")
            if len(self._topics) < 100_000:
                self._topics[raw] = topic
        return topic

    def _deliver(self, sock: socket.socket, publishes: list[wire.Publish]) -> bool:
        """Store a batch, then acknowledge it; False when giving up at shutdown."""
        s = self.settings
        now = self.clock.now()
        client = self.client_id
        known = self._topics.get
        topic = self._topic
        new = tuple.__new__  # RawMessage's own __new__ is Python code; this runs per message
        messages = [
            new(RawMessage, ("mqtt", known(p.topic) or topic(p.topic), p.payload, now, client))
            for p in publishes
        ]
        with self._lock:
            self._received += len(messages)
            self._pending = len(messages)
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
                    return False
                delay = min(delay * 2, float(s.reconnect_max))
        mids = [p.mid for p in publishes if p.qos]
        with self._lock:
            self._submitted += len(messages)
            self._pending = 0
        if mids:
            # The acks go out on the connection the batch came in on; if it broke while the
            # batch was stored, the broker redelivers (stored twice, deduped by the pipeline).
            sock.sendall(wire.pubacks(mids))
            with self._lock:
                self._acked += len(mids)
        return True
