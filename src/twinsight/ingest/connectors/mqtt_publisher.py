"""Publishing to an MQTT broker: what virtual devices (and later, commands) go out on.

Why not paho: paho-mqtt costs about 60 µs of Python per published message on the 2-core
benchmark machine (a message-info object with its own condition variable, a wake-up of its
network thread through a socket pair, one socket write per message), and its QoS 1 queue
is scanned on every acknowledgement, so a wide window makes it slower still. That was more
than the whole ingest pipeline spends on the message at the other end (see
docs/benchmarks.md, *Virtual plant*). Like the connector's receive side, this publisher
speaks the few MQTT 3.1.1 packets it needs itself (:mod:`mqtt_wire` for CONNECT/CONNACK;
PUBLISH, PUBACK and PINGREQ here):

* **Batches**: :meth:`MqttPublisher.publish_many` encodes a whole batch (a simulation
  step's messages) and writes it with one ``sendall``; :meth:`MqttPublisher.publish` is a
  batch of one.
* **No waiting per message**: QoS 1 messages stay in an in-flight window of
  ``max_inflight`` until the broker's PUBACK, which a reader thread collects in bulk.
  Back-pressure, not loss: when the window is full, publishing blocks until the broker
  acknowledges; if it acknowledges nothing within the connect timeout, publishing fails
  with :class:`~twinsight.core.errors.ConnectorError`. :meth:`MqttPublisher.flush` (and
  :meth:`MqttPublisher.stop`) waits until every QoS 1 message is acknowledged, so what a
  run published is really at the broker.
* **Reconnects by itself** (1 s doubling to 30 s): QoS 1 messages not yet acknowledged are
  sent again (flagged DUP) once the broker is back; QoS 0 messages published while it is
  away are dropped, as QoS 0 allows.
* **MQTT 5 when asked** (``protocol="5"``, or ``"auto"``: try 5 and fall back to 3.1.1 when
  the broker refuses the protocol level with CONNACK return code 0x01, as a 3.1.1-only
  broker does): :meth:`MqttPublisher.publish` can then carry the Response Topic and
  Correlation Data properties (MQTT 5.0 §3.3.2.3.5-6), the broker's Receive Maximum bounds
  the in-flight window, and PUBACK reason codes ≥ 0x80 are logged. Which version was
  used is logged and is :attr:`MqttPublisher.protocol_used`.
* **Subscribes when asked** (:meth:`MqttPublisher.subscribe`, before :meth:`start`): the
  command path answers on the same connection and needs each message's MQTT 5
  properties, which the ingest connector does not keep. Subscriptions are renewed on
  every reconnect; received QoS 1 messages are acknowledged after the handler ran.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from twinsight.core.errors import ConnectorError
from twinsight.ingest.connectors import mqtt_wire as wire

log = logging.getLogger(__name__)

PUBACK = 0x40
PROTOCOLS = ("3.1.1", "5", "auto")
UNACCEPTABLE_PROTOCOL_V311 = 0x01
"""What a 3.1.1-only broker answers an MQTT 5 CONNECT with (MQTT 3.1.1 §3.2.2.3)."""

Received = Callable[[str, bytes, dict[int, bytes]], None]
"""``(topic, payload, MQTT 5 properties)`` of a message a subscribing publisher receives
(properties are empty on MQTT 3.1.1)."""
_REFUSED = {
    0x84: "unsupported protocol version",
    0x85: "client identifier not valid",
    0x86: "bad user name or password",
    0x87: "not authorized",
}


def publish_packet(
    topic: bytes,
    payload: bytes,
    qos: int,
    mid: int,
    *,
    dup: bool = False,
    props: bytes | None = None,
) -> bytes:
    """One PUBLISH (``topic`` already UTF-8): MQTT 3.1.1 when ``props`` is None, else
    MQTT 5 with ``props`` as its property block (length included; ``b"\\x00"`` for none)."""
    extra = props or b""
    length = 2 + len(topic) + (2 if qos else 0) + len(extra) + len(payload)
    first = 0x30 | (qos << 1) | (0x08 if dup else 0)
    header = bytes((first, length)) if length < 0x80 else bytes((first,)) + wire.varint(length)
    ident = mid.to_bytes(2, "big") if qos else b""
    return b"".join((header, len(topic).to_bytes(2, "big"), topic, ident, extra, payload))


class MqttPublisher:
    """Publishes messages to ``url`` (``mqtt://host:port``), QoS 0 or 1; MQTT 3.1.1 unless
    ``protocol`` is ``"5"`` or ``"auto"``."""

    def __init__(
        self,
        url: str,
        *,
        client_id: str = "",
        username: str | None = None,
        password: str | None = None,
        connect_timeout: float = 10.0,
        max_inflight: int = 1000,
        keepalive: int = 30,
        protocol: str = "3.1.1",
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme != "mqtt" or not parts.hostname:
            raise ConnectorError(f"MQTT publisher URL must look like mqtt://host:port: {url!r}")
        if not 1 <= max_inflight <= 65_535:
            raise ConnectorError(f"max_inflight must be 1..65535, not {max_inflight!r}")
        if protocol not in PROTOCOLS:
            raise ConnectorError(
                f"MQTT publisher protocol must be one of {', '.join(PROTOCOLS)}, not {protocol!r}"
            )
        self._protocol = protocol
        # The version spoken: decided by the first connection for "auto", kept afterwards
        # (messages in flight are encoded for it).
        self._v5: bool | None = None if protocol == "auto" else protocol == "5"
        self._subscriptions: list[tuple[str, int]] = []
        self._on_message: Received | None = None
        # Received with the SUBACK, before the reader ran: parsed packets and the rest.
        self._early: list[wire.Publish | wire.Control] = []
        self._leftover = bytearray()
        self._host = parts.hostname
        self._port = parts.port or 1883
        self._client_id = client_id
        self._username = username
        self._password = password
        self._timeout = connect_timeout
        self._max_inflight = max_inflight
        self._window = max_inflight  # lowered to the broker's Receive Maximum on MQTT 5
        self._keepalive = keepalive
        # Guards the window and the connection state; notified on every PUBACK and connect.
        self._lock = threading.Condition()
        # One writer at a time, held without the window lock so PUBACKs keep being counted
        # while a large batch is written.
        self._send_lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._inflight: dict[int, bytes] = {}  # mid → PUBLISH packet, until its PUBACK
        self._next_mid = 0
        self._topics: dict[str, bytes] = {}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.published = 0
        """Messages accepted for publishing (QoS 1 ones are kept until acknowledged)."""
        self.reconnects = 0

    @property
    def url(self) -> str:
        return f"mqtt://{self._host}:{self._port}"

    @property
    def protocol_used(self) -> str | None:
        """``"5"`` or ``"3.1.1"`` once known (after :meth:`start` for ``"auto"``)."""
        return None if self._v5 is None else "5" if self._v5 else "3.1.1"

    def subscribe(self, topics: Iterable[str], handler: Received, *, qos: int = 1) -> None:
        """Receive the messages on ``topics`` through ``handler`` (call before :meth:`start`;
        the handler runs on the reader thread, so it must not block for long)."""
        if self._thread is not None:
            raise ConnectorError("subscribe before the MQTT publisher starts")
        if qos not in (0, 1):
            raise ConnectorError(f"the MQTT publisher subscribes at QoS 0 or 1, not {qos!r}")
        self._subscriptions = [(topic, qos) for topic in topics]
        if not self._subscriptions:
            raise ConnectorError("subscribe needs at least one topic")
        self._on_message = handler

    @property
    def connected(self) -> bool:
        with self._lock:
            return self._sock is not None

    @property
    def window(self) -> int:
        """QoS 1 messages allowed in flight: ``max_inflight``, or the broker's Receive
        Maximum (MQTT 5) when lower."""
        return self._window

    @property
    def unacknowledged(self) -> int:
        """QoS 1 messages published and not yet acknowledged by the broker."""
        with self._lock:
            return len(self._inflight)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._stopping.clear()
        # QoS 1 messages published before the start go out now, like after a reconnect.
        self._attach(self._open())
        self._thread = threading.Thread(
            target=self._run, name="twinsight-mqtt-publisher", daemon=True
        )
        self._thread.start()
        log.info("publishing to %s (MQTT %s)", self.url, self.protocol_used)

    def stop(self) -> None:
        """Give the broker a moment to acknowledge what is in flight, then disconnect."""
        if self.connected and not self.flush():
            log.warning(
                "publisher stops with %d message(s) not acknowledged by %s",
                self.unacknowledged,
                self.url,
            )
        self._stopping.set()
        with self._lock:
            sock, self._sock = self._sock, None
            self._lock.notify_all()
        if sock is not None:
            with contextlib.suppress(OSError), self._send_lock:
                sock.sendall(wire.DISCONNECT_PACKET)
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _open(self) -> socket.socket:
        """Connect (MQTT 5 first when ``"auto"``, 3.1.1 if the broker refuses that), wait
        for the CONNACK and the subscriptions; any failure is a :class:`ConnectorError`."""
        if self._v5 is not None:
            return self._open_as(self._v5)
        try:
            sock = self._open_as(True)
        except _Unacceptable:
            log.info("MQTT broker %s speaks only MQTT 3.1.1; the publisher uses 3.1.1", self.url)
            sock = self._open_as(False)
            self._v5 = False
            return sock
        self._v5 = True
        return sock

    def _open_as(self, v5: bool) -> socket.socket:
        try:
            sock = socket.create_connection((self._host, self._port), timeout=self._timeout)
        except OSError as error:
            raise ConnectorError(f"cannot reach MQTT broker {self.url}: {error}") from error
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(
                wire.connect(
                    self._client_id,
                    v5=v5,
                    clean=True,
                    keepalive=self._keepalive,
                    username=self._username,
                    password=self._password,
                )
            )
            buf = bytearray()
            packets: list[wire.Publish | wire.Control] = []
            while not packets:
                data = sock.recv(4096)
                if not data:
                    raise ConnectorError(f"MQTT broker {self.url} closed the connection")
                buf += data
                del buf[: wire.parse(buf, v5, packets)]
            first = packets.pop(0)
            if not isinstance(first, wire.Control) or first.kind != wire.CONNACK:
                raise ConnectorError(f"MQTT broker {self.url} did not answer with a CONNACK")
            if v5 and len(first.body) == 2 and first.body[1] == UNACCEPTABLE_PROTOCOL_V311:
                raise _Unacceptable(f"MQTT broker {self.url} does not speak MQTT 5")
            code = wire.connack(first.body, v5=v5)[1]
            if code:
                reason = _REFUSED.get(code, f"reason code 0x{code:02x}")
                raise ConnectorError(f"MQTT broker {self.url} refused the publisher: {reason}")
            if v5:
                receive_maximum = wire.connack_properties(first.body).get(wire.RECEIVE_MAXIMUM)
                if receive_maximum:
                    self._window = min(self._max_inflight, int.from_bytes(receive_maximum, "big"))
            if self._subscriptions:
                self._subscribe_on(sock, v5, buf, packets)
            # The reader wakes up this often to keep the connection alive.
            sock.settimeout(max(0.5, self._keepalive / 2))
        except (OSError, wire.ProtocolError) as error:
            sock.close()
            if isinstance(error, TimeoutError):
                raise ConnectorError(
                    f"MQTT broker {self.url} did not accept the publisher within "
                    f"{self._timeout:g} s"
                ) from error
            raise ConnectorError(f"MQTT connect to {self.url} failed: {error}") from error
        except BaseException:
            sock.close()
            raise
        return sock

    def _subscribe_on(
        self,
        sock: socket.socket,
        v5: bool,
        buf: bytearray,
        packets: list[wire.Publish | wire.Control],
    ) -> None:
        """Subscribe and wait for the SUBACK; what came with it is left for the reader."""
        sock.sendall(wire.subscribe(1, self._subscriptions, v5=v5))
        while True:
            for i, packet in enumerate(packets):
                if not isinstance(packet, wire.Control) or packet.kind != wire.SUBACK:
                    continue
                codes = wire.suback(packet.body, v5=v5)[1]
                refused = [
                    topic
                    for (topic, _), code in zip(self._subscriptions, codes, strict=False)
                    if code >= 0x80
                ]
                if refused:
                    raise ConnectorError(
                        f"MQTT broker {self.url} refused the subscription to {', '.join(refused)}"
                    )
                self._early = packets[:i] + packets[i + 1 :]
                self._leftover = bytearray(buf)
                return
            data = sock.recv(4096)
            if not data:
                raise ConnectorError(f"MQTT broker {self.url} closed the connection")
            buf += data
            del buf[: wire.parse(buf, v5, packets)]

    # -- publishing --------------------------------------------------------------------------

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 0,
        response_topic: str | None = None,
        correlation: bytes | None = None,
    ) -> None:
        """Publish one message; on MQTT 5 with the Response Topic and Correlation Data
        properties when given (on MQTT 3.1.1 they are left out: the broker cannot carry
        them)."""
        props: bytes | None = None
        if self._v5 is None:
            raise ConnectorError("with protocol 'auto', publish after the publisher started")
        if self._v5:
            fields: dict[int, bytes] = {}
            if response_topic is not None:
                fields[wire.RESPONSE_TOPIC] = response_topic.encode()
            if correlation is not None:
                fields[wire.CORRELATION_DATA] = correlation
            props = wire.encode_properties(fields)
        self.publish_many(((topic, payload, qos),), props=props)

    def publish_many(
        self, messages: Iterable[tuple[str, bytes, int]], *, props: bytes | None = None
    ) -> None:
        """Publish ``(topic, payload, qos)`` messages in order, written in one go (split only
        where the in-flight window is full and must wait for the broker); ``props``, an
        encoded MQTT 5 property block, goes with each (MQTT 5 only)."""
        if self._v5 is None:
            raise ConnectorError("with protocol 'auto', publish after the publisher started")
        if self._v5 and props is None:
            props = b"\x00"
        elif not self._v5:
            props = None
        out: list[bytes] = []
        count = 0
        for topic, payload, qos in messages:
            name = self._topics.get(topic)
            if name is None:
                if not topic or "+" in topic or "#" in topic:
                    raise ConnectorError(f"cannot publish to topic {topic!r}")
                name = self._topics[topic] = topic.encode()
            if qos == 0:
                out.append(publish_packet(name, payload, 0, 0, props=props))
                count += 1
                continue
            if qos != 1:
                raise ConnectorError(f"the MQTT publisher sends QoS 0 or 1, not {qos!r}")
            while True:
                with self._lock:
                    if len(self._inflight) < self._window:
                        mid = self._next_free_mid()
                        packet = self._inflight[mid] = publish_packet(
                            name, payload, 1, mid, props=props
                        )
                        self.published += count + 1
                        count = 0
                        break
                # The window is full: send what is ready first (its acknowledgements are
                # what opens the window), then wait for the broker.
                self._write(out)
                out = []
                with self._lock:
                    if len(self._inflight) >= self._window:
                        self._wait_for_window()
            out.append(packet)
        with self._lock:
            self.published += count
        self._write(out)

    def _next_free_mid(self) -> int:
        mid = self._next_mid
        while True:
            mid = mid % 65_535 + 1
            if mid not in self._inflight:
                self._next_mid = mid
                return mid

    def _wait_for_window(self) -> None:
        """Called with the lock held: wait until the broker acknowledges one message."""
        waiting = len(self._inflight)
        if not self._lock.wait_for(
            lambda: len(self._inflight) < waiting or self._stopping.is_set(),
            timeout=self._timeout,
        ):
            raise ConnectorError(
                f"MQTT broker {self.url} acknowledged none of {waiting} messages in flight "
                f"within {self._timeout:g} s"
            )
        if self._stopping.is_set():
            raise ConnectorError("the MQTT publisher is stopped")

    def _write(self, packets: list[bytes]) -> None:
        """Send ``packets`` if connected; a failed write is the reader's to handle (QoS 1
        packets are still in the window and go out again after the reconnect)."""
        if not packets:
            return
        data = b"".join(packets)
        with self._send_lock:
            sock = self._sock
            if sock is None:
                return
            try:
                sock.sendall(data)
            except OSError as error:
                log.debug("publisher write failed: %s", error)
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until the broker has acknowledged every QoS 1 message published so far (at
        most ``timeout`` seconds, the connect timeout by default); True if it has."""
        with self._lock:
            return self._lock.wait_for(
                lambda: not self._inflight, timeout=self._timeout if timeout is None else timeout
            )

    # -- the reader thread -------------------------------------------------------------------

    def _run(self) -> None:
        delay = 1.0
        while not self._stopping.is_set():
            with self._lock:
                sock = self._sock
            if sock is None:
                try:
                    sock = self._open()
                except ConnectorError as error:
                    log.warning("publisher cannot reach %s (%s); retrying", self.url, error)
                    self._stopping.wait(delay)
                    delay = min(30.0, delay * 2)
                    continue
                again = self._attach(sock)
                self.reconnects += 1
                log.info("publisher reconnected to %s (%d message(s) sent again)", self.url, again)
                delay = 1.0
            try:
                self._read(sock)
            except (OSError, wire.ProtocolError) as error:
                if self._stopping.is_set():
                    return
                log.warning("publisher lost %s (%s); reconnecting", self.url, error)
            with self._lock:
                if self._sock is sock:
                    self._sock = None
            sock.close()

    def _attach(self, sock: socket.socket) -> int:
        """Make ``sock`` the connection and send the unacknowledged QoS 1 messages on it
        again (flagged DUP); returns how many."""
        with self._send_lock, self._lock:
            if self._stopping.is_set():
                sock.close()
                return 0
            # In the order they were published (a dict keeps insertion order; ids wrap).
            again = [publish_packet_dup(packet) for packet in self._inflight.values()]
            self._sock = sock
            self._lock.notify_all()
            if again:
                try:
                    sock.sendall(b"".join(again))
                except OSError as error:
                    log.debug("publisher resend failed: %s", error)
        return len(again)

    def _read(self, sock: socket.socket) -> None:
        """Collect PUBACKs (and, when subscribed, messages) until the connection ends; ping
        when it has been quiet."""
        v5 = bool(self._v5)
        buf, self._leftover = self._leftover, bytearray()
        packets, self._early = self._early, []
        while not self._stopping.is_set():
            if buf:
                del buf[: wire.parse(buf, v5, packets)]
            if packets:
                self._handle(sock, packets, v5)
                del packets[:]
            try:
                data = sock.recv(1 << 16)
            except TimeoutError:
                with self._send_lock:
                    sock.sendall(wire.PINGREQ_PACKET)
                continue
            if not data:
                raise OSError("the broker closed the connection")
            buf += data

    def _handle(
        self, sock: socket.socket, packets: list[wire.Publish | wire.Control], v5: bool
    ) -> None:
        acked: list[int] = []
        received: list[int] = []
        for p in packets:
            if isinstance(p, wire.Publish):
                if self._on_message is not None:
                    try:
                        props = wire.properties(p.props) if p.props else {}
                        self._on_message(p.topic.decode(errors="replace"), p.payload, props)
                    except wire.ProtocolError as error:
                        log.warning("message on %r ignored: %s", p.topic, error)
                    except Exception:
                        log.exception("handling the message on %r failed", p.topic)
                if p.qos:
                    received.append(p.mid)
            elif p.kind == PUBACK:
                acked.append(int.from_bytes(p.body[:2], "big"))
                if v5 and len(p.body) > 2 and p.body[2] >= 0x80:
                    log.warning(
                        "MQTT broker %s refused a published message: reason code 0x%02x",
                        self.url,
                        p.body[2],
                    )
            elif p.kind == wire.DISCONNECT:
                code = p.body[0] if p.body else 0
                raise OSError(f"the broker disconnected (reason code 0x{code:02x})")
        if received:
            with self._send_lock:
                sock.sendall(wire.pubacks(received))
        if acked:
            with self._lock:
                for mid in acked:
                    self._inflight.pop(mid, None)
                self._lock.notify_all()


class _Unacceptable(ConnectorError):
    """The broker refused MQTT 5 as a 3.1.1-only broker does (return code 0x01)."""


def publish_packet_dup(packet: bytes) -> bytes:
    """``packet`` (a QoS 1 PUBLISH) flagged as sent again."""
    return bytes((packet[0] | 0x08,)) + packet[1:]
