"""The few MQTT 3.1.1 / 5 packets a subscriber needs, encoded and parsed in bulk.

Why not paho on the receive path: paho reads each packet with several small socket reads,
one ``select`` per packet and a callback per message, about 80 µs a message on the 2-core
benchmark machine — more than the whole ingest pipeline. A subscriber only ever receives
CONNACK, SUBACK, PUBLISH, PINGRESP and (MQTT 5) DISCONNECT, so the connector reads the
socket in large chunks and :func:`parse` cuts every complete packet out of the buffer in one
pass (a few µs a message). Sending is CONNECT, SUBSCRIBE, PUBACK (one write for a whole
batch), PINGREQ and DISCONNECT.

Only what a subscriber that never announces topic aliases can meet is handled: an incoming
PUBLISH always carries its topic, QoS is at most 1 (we subscribe at 0 or 1, so the broker
downgrades). An MQTT 5 PUBLISH's properties are kept as raw bytes (:attr:`Publish.props`,
empty when it has none) and decoded only by who needs them (:func:`properties`: the
command path reads Response Topic and Correlation Data from them).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

CONNACK = 0x20
PUBLISH = 0x30
SUBACK = 0x90
PINGRESP = 0xD0
DISCONNECT = 0xE0

PINGREQ_PACKET = b"\xc0\x00"
DISCONNECT_PACKET = b"\xe0\x00"

# MQTT 3.1.1 CONNACK return codes in MQTT 5 numbering, so one table explains both.
V311_CONNACK = {1: 0x84, 2: 0x85, 3: 0x88, 4: 0x86, 5: 0x87}


class ProtocolError(Exception):
    """The broker sent something a subscriber cannot make sense of: drop the connection."""


class Publish(NamedTuple):
    topic: bytes
    payload: bytes
    mid: int
    qos: int
    props: bytes = b""
    """MQTT 5 properties, undecoded (see :func:`properties`)."""


# MQTT 5 property identifiers (MQTT 5.0 §2.2.2.2) the command path reads or writes.
RESPONSE_TOPIC = 0x08
CORRELATION_DATA = 0x09
RECEIVE_MAXIMUM = 0x21
REASON_STRING = 0x1F

# How each MQTT 5 property's value is encoded: a fixed width in bytes, or "s" (a UTF-8 or
# binary string with a 2-byte length), "v" (a variable byte integer), "p" (a string pair).
_PROPERTY_FORM: dict[int, int | str] = {
    0x01: 1, 0x02: 4, 0x03: "s", 0x08: "s", 0x09: "s", 0x0B: "v", 0x11: 4, 0x12: "s",
    0x13: 2, 0x15: "s", 0x16: "s", 0x17: 1, 0x18: 4, 0x19: 1, 0x1A: "s", 0x1C: "s",
    0x1F: "s", 0x21: 2, 0x22: 2, 0x23: 2, 0x24: 1, 0x25: 1, 0x26: "p", 0x27: 4, 0x28: 1,
    0x29: 1, 0x2A: 1,
}  # fmt: skip


def properties(data: bytes) -> dict[int, bytes]:
    """Decode an MQTT 5 property block (without its length) into identifier → value
    (strings without their length prefix, integers as their big-endian bytes; of a
    repeated property such as User Property, the last)."""
    out: dict[int, bytes] = {}
    pos = 0
    try:
        while pos < len(data):
            ident, pos = _read_varint(data, pos)
            form = _PROPERTY_FORM.get(ident)
            if form is None:
                raise ProtocolError(f"unknown MQTT 5 property 0x{ident:02x}")
            if form == "v":
                start = pos
                _, pos = _read_varint(data, pos)
                out[ident] = data[start:pos]
                continue
            if isinstance(form, int):
                value, pos = data[pos : pos + form], pos + form
            else:
                size = int.from_bytes(data[pos : pos + 2], "big")
                value, pos = data[pos + 2 : pos + 2 + size], pos + 2 + size
                if form == "p":
                    size = int.from_bytes(data[pos : pos + 2], "big")
                    value, pos = value + b"=" + data[pos + 2 : pos + 2 + size], pos + 2 + size
            if pos > len(data):
                raise ProtocolError("truncated MQTT 5 property")
            out[ident] = value
    except IndexError as error:
        raise ProtocolError("truncated MQTT 5 property") from error
    return out


def encode_properties(props: dict[int, bytes]) -> bytes:
    """An MQTT 5 property block with its length, for string/binary properties (Response
    Topic, Correlation Data) and fixed-width ones, values as :func:`properties` gives them."""
    body = bytearray()
    for ident, value in props.items():
        form = _PROPERTY_FORM.get(ident)
        if form not in ("s",) and not (isinstance(form, int) and len(value) == form):
            raise ValueError(f"cannot encode MQTT 5 property 0x{ident:02x} = {value!r}")
        body += varint(ident)
        body += len(value).to_bytes(2, "big") + value if form == "s" else value
    return varint(len(body)) + bytes(body)


def connack_properties(body: bytes) -> dict[int, bytes]:
    """The properties of an MQTT 5 CONNACK (``body`` without the fixed header)."""
    if len(body) <= 2:
        return {}
    length, pos = _read_varint(body, 2)
    return properties(body[pos : pos + length])


class Control(NamedTuple):
    """Any other packet: its type (high nibble of the first byte) and its body."""

    kind: int
    body: bytes


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(text: str | bytes) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    return len(data).to_bytes(2, "big") + data


def _packet(first: int, body: bytes) -> bytes:
    return bytes((first,)) + varint(len(body)) + body


def connect(
    client_id: str,
    *,
    v5: bool,
    clean: bool,
    keepalive: int,
    username: str | None = None,
    password: str | None = None,
    receive_maximum: int | None = None,
    session_expiry: int | None = None,
) -> bytes:
    flags = 0x02 if clean else 0
    if username is not None:
        flags |= 0x80
        if password is not None:
            flags |= 0x40
    header = _string("MQTT") + bytes((5 if v5 else 4, flags)) + keepalive.to_bytes(2, "big")
    if v5:
        props = b""
        if session_expiry:
            props += b"\x11" + session_expiry.to_bytes(4, "big")
        if receive_maximum:
            props += b"\x21" + min(receive_maximum, 65535).to_bytes(2, "big")
        header += varint(len(props)) + props
    body = header + _string(client_id)
    if username is not None:
        body += _string(username)
        if password is not None:
            body += _string(password.encode())
    return _packet(0x10, body)


def subscribe(mid: int, topics: list[tuple[str, int]], *, v5: bool) -> bytes:
    body = mid.to_bytes(2, "big") + (b"\x00" if v5 else b"")
    for topic, qos in topics:
        body += _string(topic) + bytes((qos,))
    return _packet(0x82, body)


def pubacks(mids: list[int]) -> bytes:
    """PUBACKs for ``mids`` in one buffer (success, so MQTT 5 may omit the reason code)."""
    packets = np.empty((len(mids), 4), dtype=np.uint8)  # one array pass, not a loop per ack
    ids = np.asarray(mids, dtype=np.uint16)
    packets[:, 0], packets[:, 1] = 0x40, 0x02
    packets[:, 2], packets[:, 3] = ids >> 8, ids & 0xFF
    return packets.tobytes()


def connack(body: bytes, *, v5: bool) -> tuple[bool, int]:
    """(session present, reason code in MQTT 5 numbering; 0 is success)."""
    if len(body) < 2:
        raise ProtocolError("short CONNACK")
    code = body[1]
    return bool(body[0] & 1), code if v5 else V311_CONNACK.get(code, 0x80 if code else 0)


def suback(body: bytes, *, v5: bool) -> tuple[int, list[int]]:
    """(packet id, one reason code per topic; ≥ 0x80 is a refusal)."""
    if len(body) < 3:
        raise ProtocolError("short SUBACK")
    mid = int.from_bytes(body[:2], "big")
    pos = 2
    if v5:
        length, pos = _read_varint(body, pos)
        pos += length
    return mid, list(body[pos:])


def _read_varint(data: bytes | bytearray, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise IndexError
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 21:
            raise ProtocolError("malformed remaining length")


def parse(buf: bytearray, v5: bool, out: list[Publish | Control], limit: int = 1 << 30) -> int:
    """Append every complete packet at the start of ``buf`` to ``out`` (at most ``limit``
    PUBLISH packets); returns how many bytes were consumed.

    The buffer is copied to ``bytes`` once, so each topic and payload is one slice (a
    ``bytearray`` slice would be copied twice), and a PUBLISH is built as a plain tuple
    (a named tuple's ``__new__`` is Python code): this loop runs once per message."""
    data = bytes(buf)
    pos = 0
    end = len(data)
    publishes = 0
    append = out.append
    new = tuple.__new__
    while pos < end and publishes < limit:
        first = data[pos]
        # remaining length: 1 byte for packets under 128 bytes, 2 under 16 KB (a SenML pack)
        if pos + 1 >= end:
            break
        byte = data[pos + 1]
        if byte < 0x80:
            length, start = byte, pos + 2
        elif pos + 2 < end and data[pos + 2] < 0x80:
            length, start = (byte & 0x7F) | (data[pos + 2] << 7), pos + 3
        else:
            try:
                length, start = _read_varint(data, pos + 1)
            except IndexError:
                break
        stop = start + length
        if stop > end:
            break
        kind = first & 0xF0
        if kind == PUBLISH:
            qos = (first >> 1) & 3
            p = start + 2 + ((data[start] << 8) | data[start + 1])
            topic = data[start + 2 : p]
            mid = 0
            if qos:
                mid = (data[p] << 8) | data[p + 1]
                p += 2
            props = b""
            if v5:
                plen = data[p]
                if plen < 0x80:
                    p += 1
                else:
                    plen, p = _read_varint(data, p)
                if plen:
                    props = data[p : p + plen]
                p += plen
            if p > stop:
                raise ProtocolError("malformed PUBLISH")
            append(new(Publish, (topic, data[p:stop], mid, qos, props)))
            publishes += 1
        else:
            append(Control(kind, data[start:stop]))
        pos = stop
    return pos
