"""The bulk MQTT reader's packet cutter: every complete packet, whatever its length's size."""

from __future__ import annotations

import pytest

from twinsight.ingest.connectors import mqtt_wire as wire


def publish(topic: bytes, payload: bytes, mid: int, *, v5: bool) -> bytes:
    body = len(topic).to_bytes(2, "big") + topic + mid.to_bytes(2, "big")
    body += (b"\x00" if v5 else b"") + payload
    return bytes([0x32]) + wire.varint(len(body)) + body


@pytest.mark.parametrize("v5", [True, False])
def test_packets_of_every_length_size_are_cut_whole_and_only_when_complete(v5: bool) -> None:
    # remaining lengths of 1, 2 and 3 bytes (a SenML pack is 2), a PINGRESP last
    payloads = [b"x" * 10, b"y" * 2_000, b"z" * 20_000, b"w" * 127]
    stream = b"".join(publish(b"a/b", p, k + 1, v5=v5) for k, p in enumerate(payloads))
    stream += b"\xd0\x00"
    ends = []
    position = 0
    for p in payloads:
        position += len(publish(b"a/b", p, 1, v5=v5))
        ends.append(position)
    ends.append(len(stream))
    for cut in range(len(stream) + 1):  # the socket may stop anywhere
        out: list[wire.Publish | wire.Control] = []
        used = wire.parse(bytearray(stream[:cut]), v5, out)
        complete = [e for e in ends if e <= cut]
        assert used == (complete[-1] if complete else 0), cut
        assert len(out) == len(complete)
    out = []
    assert wire.parse(bytearray(stream), v5, out) == len(stream)
    publishes = [p for p in out if isinstance(p, wire.Publish)]
    assert [(p.topic, p.payload, p.mid, p.qos) for p in publishes] == [
        (b"a/b", p, k + 1, 1) for k, p in enumerate(payloads)
    ]
    assert out[-1] == wire.Control(wire.PINGRESP, b"")
