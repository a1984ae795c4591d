"""The CoAP endpoint, driven by a real CoAP client (libcoap's ``coap-client``)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

import orjson
import pytest

from sinks import RecordingSink
from twinsight.core.clock import ManualClock
from twinsight.core.errors import ConnectorError
from twinsight.hub import Hub
from twinsight.ingest.connectors.coap import CoapEndpoint
from twinsight.ingest.mapping import parse_mapping
from twinsight.models.loader import load_paths
from twinsight.scenarios.factory import MODELS_DIR, world

COAP_CLIENT = next(
    (
        found
        for name in (
            "coap-client",
            "coap-client-notls",
            "coap-client-openssl",
            "coap-client-gnutls",
        )
        if (found := shutil.which(name))
    ),
    None,
)
pytestmark = pytest.mark.skipif(
    COAP_CLIENT is None, reason="coap-client missing (Debian package libcoap3-bin)"
)


def coap(method: str, url: str, payload: str | None = None) -> str:
    """Run coap-client; return what it printed (the diagnostic payload on 4.xx/5.xx)."""
    assert COAP_CLIENT is not None
    args = [COAP_CLIENT, "-m", method, "-B", "10"]
    if payload is not None:
        args += ["-e", payload]
    done = subprocess.run([*args, url], capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    return (done.stdout + done.stderr).strip()


@pytest.fixture
def endpoint_factory(clock: ManualClock) -> Iterator[list[CoapEndpoint]]:
    started: list[CoapEndpoint] = []
    yield started
    for e in started:
        e.stop()


def start(started: list[CoapEndpoint], sink: object, clock: ManualClock, **kw: int) -> CoapEndpoint:
    endpoint = CoapEndpoint(sink, clock, port=0, **kw)  # type: ignore[arg-type]
    endpoint.start()
    started.append(endpoint)
    return endpoint


def test_post_and_put_on_any_path_reach_the_sink(
    clock: ManualClock, endpoint_factory: list[CoapEndpoint]
) -> None:
    sink = RecordingSink()
    ep = start(endpoint_factory, sink, clock)
    assert coap("post", f"{ep.url}/sensors/room1", '{"t":21.5}') == ""  # 2.04: silent
    assert coap("put", f"{ep.url}/a/b/c", "42") == ""
    got = [(m.source, m.address, m.payload, m.received) for m in sink.messages]
    assert got == [
        ("coap", "sensors/room1", b'{"t":21.5}', clock.now()),
        ("coap", "a/b/c", b"42", clock.now()),
    ]
    assert sink.messages[0].client.startswith("127.0.0.1")
    assert ep.received == 2


def test_bad_requests_get_a_4xx_with_a_diagnostic(
    clock: ManualClock, endpoint_factory: list[CoapEndpoint]
) -> None:
    sink = RecordingSink()
    ep = start(endpoint_factory, sink, clock, max_payload_bytes=8)
    assert coap("post", f"{ep.url}/", "x").startswith("4.00 give the message's address")
    assert coap("post", f"{ep.url}/a", "123456789").startswith("4.13 payload is 9 bytes")
    assert coap("get", f"{ep.url}/a").startswith("4.05")
    assert sink.attempts == 0


def test_a_failing_pipeline_answers_5_03_so_the_device_retries(
    clock: ManualClock, endpoint_factory: list[CoapEndpoint]
) -> None:
    sink = RecordingSink(fail_first=1)
    ep = start(endpoint_factory, sink, clock)
    assert coap("post", f"{ep.url}/s", "1").startswith("5.03 not stored")
    assert coap("post", f"{ep.url}/s", "1") == ""
    assert sink.payloads() == [b"1"] and ep.failures == 1


def test_a_taken_port_is_a_clear_error(
    clock: ManualClock, endpoint_factory: list[CoapEndpoint]
) -> None:
    first = start(endpoint_factory, RecordingSink(), clock)
    with pytest.raises(ConnectorError, match="cannot start the CoAP endpoint"):
        CoapEndpoint(RecordingSink(), clock, port=first.port).start()


def test_end_to_end_through_the_pipeline(
    clock: ManualClock, endpoint_factory: list[CoapEndpoint]
) -> None:
    mapping = parse_mapping(
        """
mappings:
  - name: motor
    topic: "plant/{twin}/motor"
    twin: "{twin}"
    format: json
    values:
      - {field: power, property: ratedPower}
""",
        "coap-test.yaml",
    )
    with Hub(clock=clock, mapping=mapping) as hub:
        docs, errors = load_paths([MODELS_DIR])
        assert errors == []
        hub.models.add(docs)
        world.build(hub.twins)
        ep = start(endpoint_factory, hub.ingest, clock)
        payload = orjson.dumps({"power": 7.5}).decode()
        assert coap("post", f"{ep.url}/plant/line-1-motor/motor", payload) == ""
        assert hub.twins.get_twin("line-1-motor")["ratedPower"] == 7.5
        ep.stop()
