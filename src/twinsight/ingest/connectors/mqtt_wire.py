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
downgrades), and MQTT 5 properties of a PUBLISH are skipped.
"""

from __future__ import annotations

from typing import NamedTuple

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
    return b"".join(b"\x40\x02" + mid.to_bytes(2, "big") for mid in mids)


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
    PUBLISH packets); returns how many bytes were consumed."""
    pos = 0
    end = len(buf)
    publishes = 0
    while pos < end and publishes < limit:
        first = buf[pos]
        # remaining length: 1 byte for packets under 128 bytes (the common case)
        if pos + 1 >= end:
            break
        byte = buf[pos + 1]
        if byte < 0x80:
            length, start = byte, pos + 2
        else:
            try:
                length, start = _read_varint(buf, pos + 1)
            except IndexError:
                break
        stop = start + length
        if stop > end:
            break
        kind = first & 0xF0
        if kind == PUBLISH:
            qos = (first >> 1) & 3
            tlen = (buf[start] << 8) | buf[start + 1]
            p = start + 2 + tlen
            topic = bytes(buf[start + 2 : p])
            mid = 0
            if qos:
                mid = (buf[p] << 8) | buf[p + 1]
                p += 2
            if v5:
                plen = buf[p]
                if plen < 0x80:
                    p += 1 + plen
                else:
                    plen, p = _read_varint(buf, p)
                    p += plen
            if p > stop:
                raise ProtocolError("malformed PUBLISH")
            out.append(Publish(topic, bytes(buf[p:stop]), mid, qos))
            publishes += 1
        else:
            out.append(Control(kind, bytes(buf[start:stop])))
        pos = stop
    return pos
