"""Webhooks against a real local receiver: signed batched deliveries, retries with back-off
on 500s, timeouts and refused connections, the dead letter of failed bodies and its re-send,
persistence of routes, the API's validation and scopes, and the CLI."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from adt import free_port, running_server
from ingest.test_pipeline import make_hub
from streams.clients import wait_for
from streams.receiver import Receiver, webhook_receiver
from twinsight.cli import app as cli_app
from twinsight.core.clock import ManualClock
from twinsight.hub import Hub
from twinsight.streams.http_sender import HttpxSender
from twinsight.streams.webhooks import RetryPolicy

FAST = RetryPolicy(attempts=3, backoff=0.01, max_backoff=0.05)


@pytest.fixture
def hub(clock: ManualClock) -> Iterator[Hub]:
    with make_hub(clock, webhook_retry=FAST) as h:
        h.webhooks.sender = HttpxSender(timeout=0.5)
        yield h


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as r:
        yield r


def telemetry(hub: Hub, twin: str, **payload: object) -> None:
    hub.twins.publish_telemetry(twin, payload, message_id="m")


def test_delivery_is_batched_signed_and_filtered(hub: Hub, receiver: Receiver) -> None:
    route = hub.webhooks.add(
        url=receiver.url, filter={"twins": ["line-1-*"]}, secret="s3cret", route_id="r1"
    )
    telemetry(hub, "line-2-pump", pressure=1.0)  # filtered out
    for i in range(3):
        telemetry(hub, "line-1-pump", pressure=float(i))
    wait_for(
        lambda: sum(len(json.loads(r.body)["events"]) for r in receiver.requests) == 3,
        what="three events delivered",
    )
    request = receiver.requests[0]
    expected = "sha256=" + hmac.new(b"s3cret", request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Twinsight-Signature"] == expected
    body = json.loads(request.body)
    assert body["route"] == route.id
    assert body["events"][0]["event"]["twinId"] == "line-1-pump"
    assert isinstance(body["events"][0]["id"], int)
    pressures = [
        e["event"]["telemetry"]["pressure"]
        for r in receiver.requests
        for e in json.loads(r.body)["events"]
    ]
    assert pressures == [0.0, 1.0, 2.0]
    stats = hub.webhooks.stats(route.id)
    assert stats is not None
    wait_for(lambda: stats.delivered_events == 3, what="stats")


def test_failing_receiver_retries_then_dead_letter_then_resend(
    hub: Hub, receiver: Receiver
) -> None:
    receiver.script = [500, 500, 500]
    route = hub.webhooks.add(url=receiver.url, filter={"twins": "site"})
    telemetry(hub, "site", level=1)
    wait_for(lambda: hub.webhooks.registry.store.count_failures(route.id) == 1, what="failure")
    assert len(receiver.requests) == 3  # attempts in all
    # Every retry carries the same delivery id (receivers can deduplicate) and body.
    assert len({r.headers["X-Twinsight-Delivery"] for r in receiver.requests}) == 1
    assert len({r.body for r in receiver.requests}) == 1
    (failure,) = hub.webhooks.registry.failures(route.id)
    assert failure.attempts == 3
    assert failure.status_code == 500
    assert "receiver is on fire" in failure.error
    assert failure.events == 1
    # The receiver recovers; the dead letter is re-sent with the exact body.
    sent, failed = hub.webhooks.resend(route.id)
    assert (sent, failed) == ([failure.id], {})
    assert receiver.requests[-1].body == failure.body
    assert hub.webhooks.registry.failures(route.id) == []
    (done,) = hub.webhooks.registry.failures(route.id, status="delivered")
    assert done.attempts == 4


def test_timeout_and_refused_connection_become_failures(hub: Hub, receiver: Receiver) -> None:
    receiver.default = "hang"
    slow = hub.webhooks.add(url=receiver.url, filter={"twins": "site"}, route_id="slow")
    dead = hub.webhooks.add(
        url=f"http://127.0.0.1:{free_port()}/nobody-home", filter={"twins": "site"}
    )
    telemetry(hub, "site", level=2)
    store = hub.webhooks.registry.store
    wait_for(
        lambda: store.count_failures(slow.id) == 1 and store.count_failures(dead.id) == 1,
        timeout=20,
        what="both failures",
    )
    (timed_out,) = hub.webhooks.registry.failures(slow.id)
    (refused,) = hub.webhooks.registry.failures(dead.id)
    assert timed_out.error.startswith("timeout")
    assert timed_out.status_code is None
    assert refused.error.startswith("ConnectError")
    _, failed = hub.webhooks.resend(dead.id)
    assert list(failed) == [refused.id]
    assert hub.webhooks.registry.failures(dead.id)[0].attempts == FAST.attempts + 1


def test_a_dead_receiver_never_blocks_the_bus_or_other_routes(hub: Hub, receiver: Receiver) -> None:
    with webhook_receiver() as stuck:
        stuck.default = "hang"
        hub.webhooks.add(url=stuck.url)
        good = hub.webhooks.add(url=receiver.url, filter={"twins": "site"})
        for i in range(50):
            telemetry(hub, "site", i=i)  # returns at once though one receiver hangs
        wait_for(
            lambda: sum(len(json.loads(r.body)["events"]) for r in receiver.requests) == 50,
            what="the healthy route to get everything",
        )
        stats = hub.webhooks.stats(good.id)
        assert stats is not None
        assert stats.failed_batches == 0


def test_routes_persist_and_restart_delivering(
    clock: ManualClock, tmp_path: Path, receiver: Receiver
) -> None:
    with make_hub(clock, tmp_path, webhook_retry=FAST) as hub:
        route = hub.webhooks.add(url=receiver.url, secret="k", description="ops")
        paused = hub.webhooks.add(url=receiver.url, enabled=False)
    with make_hub(clock, tmp_path, webhook_retry=FAST) as hub:
        stored = {r.id: r for r in hub.webhooks.registry.routes()}
        assert stored[route.id].secret == "k"
        assert stored[route.id].description == "ops"
        assert stored[paused.id].enabled is False
        telemetry(hub, "site", again=True)
        wait_for(lambda: len(receiver.requests) == 1, what="delivery after restart")
        assert hub.webhooks.stats(paused.id) is None  # no worker for a paused route


# ----------------------------------------------------------------------------- API


@pytest.fixture
def base(hub: Hub) -> Iterator[str]:
    with running_server(hub) as url:
        yield url


def test_api_create_list_get_failures_retry_delete(hub: Hub, base: str, receiver: Receiver) -> None:
    receiver.script = [503, 503, 503]
    with httpx.Client(base_url=base, timeout=10) as client:
        created = client.post(
            "/webhooks",
            json={
                "id": "alarms",
                "url": receiver.url,
                "filter": {"models": ["dtmi:twinsight:factory:Machine;1"], "types": "telemetry"},
                "secret": "x",
            },
        )
        assert created.status_code == 201, created.text
        route = created.json()
        assert route["signed"] is True
        assert "secret" not in route
        assert route["filter"] == {
            "models": ["dtmi:twinsight:factory:Machine;1"],
            "types": ["telemetry"],
        }
        telemetry(hub, "line-1-motor", speed=1500.0)
        wait_for(lambda: client.get("/webhooks/alarms").json()["pendingFailures"] == 1)
        listed = client.get("/webhooks").json()["value"]
        assert [r["id"] for r in listed] == ["alarms"]
        assert listed[0]["stats"]["failedBatches"] == 1
        failures = client.get("/webhooks/alarms/failures").json()["value"]
        assert failures[0]["statusCode"] == 503
        assert '"speed":1500.0' in failures[0]["bodyPreview"]
        retried = client.post("/webhooks/alarms/failures/retry", json={"ids": [failures[0]["id"]]})
        assert retried.json() == {"delivered": [failures[0]["id"]], "failed": []}
        paused = client.patch("/webhooks/alarms", json={"enabled": False})
        assert paused.json()["enabled"] is False
        assert client.delete("/webhooks/alarms").status_code == 204
        assert client.get("/webhooks/alarms").status_code == 404
        assert client.get("/webhooks/alarms/failures").status_code == 404


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"url": "ftp://example.com/x"}, "must start with http:// or https://"),
        ({"url": "http:///path-only"}, "has no host"),
        ({"url": 42}, "needs a 'url'"),
        ({}, "needs a 'url'"),
        ({"url": "http://u:p@example.com/"}, "credentials in the url"),
        ({"url": "http://example.com:99999/"}, "not a valid URL"),
        ({"url": "http://example.com/", "filter": {"twins": 3}}, "must be a string or a list"),
        ({"url": "http://example.com/", "filter": {"model": "dtmi:no:Such;1"}}, "no model"),
        ({"url": "http://example.com/", "secret": ""}, "'secret' must be a string"),
        ({"url": "http://example.com/", "enabled": "yes"}, "'enabled' must be true or false"),
        ({"url": "http://example.com/", "colour": "red"}, "unknown field(s) ['colour']"),
        ({"url": "http://example.com/", "id": "no spaces please"}, "'id' must be"),
    ],
)
def test_api_refuses_bad_routes_clearly(base: str, body: dict[str, object], message: str) -> None:
    response = httpx.post(f"{base}/webhooks", json=body, timeout=10)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]["message"]


def test_api_refuses_duplicates_and_bad_retry_bodies(base: str, receiver: Receiver) -> None:
    with httpx.Client(base_url=base, timeout=10) as client:
        assert client.post("/webhooks", json={"id": "a", "url": receiver.url}).status_code == 201
        again = client.post("/webhooks", json={"id": "a", "url": receiver.url})
        assert again.status_code == 400
        assert "already exists" in again.json()["error"]["message"]
        bad = client.post("/webhooks/a/failures/retry", json={"ids": ["one"]})
        assert bad.status_code == 400
        missing = client.post("/webhooks/a/failures/retry", json={"ids": [12345]})
        assert missing.status_code == 404
        assert client.get("/webhooks/a/failures", params={"status": "weird"}).status_code == 400


def test_webhook_writes_need_admin(hub: Hub, receiver: Receiver) -> None:
    write = hub.tokens.create("writer", ["write"])
    admin = hub.tokens.create("admin", ["admin"])
    with running_server(hub, require_auth=True) as url, httpx.Client(timeout=10) as client:
        body = {"url": receiver.url}
        as_writer = client.post(
            f"{url}/webhooks", json=body, headers={"Authorization": f"Bearer {write}"}
        )
        assert as_writer.status_code == 403
        as_admin = client.post(
            f"{url}/webhooks", json=body, headers={"Authorization": f"Bearer {admin}"}
        )
        assert as_admin.status_code == 201
        listed = client.get(f"{url}/webhooks", headers={"Authorization": f"Bearer {write}"})
        assert listed.status_code == 200


# ----------------------------------------------------------------------------- CLI


def test_cli_add_list_failures_remove(clock: ManualClock, tmp_path: Path) -> None:
    with make_hub(clock, tmp_path):
        pass  # models and twins on disk, as a served data folder would have
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path)]
    added = runner.invoke(
        cli_app,
        ["webhooks", "add", "http://127.0.0.1:9/hook", "--twin", "line-1-*", "--type",
         "telemetry", "--model", "dtmi:twinsight:factory:Machine;1", "--id", "ops", *data],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert added.output.strip() == "ops"
    listed = runner.invoke(cli_app, ["webhooks", "list", "--json", *data])
    rows = json.loads(listed.output)
    assert rows[0]["filter"]["twins"] == ["line-1-*"]
    assert rows[0]["signed"] is False
    bad = runner.invoke(cli_app, ["webhooks", "add", "gopher://x", *data])
    assert bad.exit_code == 1
    assert "http://" in bad.output
    failures = runner.invoke(cli_app, ["webhooks", "failures", "ops", "--json", *data])
    assert json.loads(failures.output) == []
    assert runner.invoke(cli_app, ["webhooks", "remove", "ops", *data]).exit_code == 0
    gone = runner.invoke(cli_app, ["webhooks", "remove", "ops", *data])
    assert gone.exit_code == 1
    assert "WebhookNotFound" in gone.output


def test_route_queue_is_bounded_while_the_receiver_hangs(hub: Hub) -> None:
    """A route whose receiver hangs keeps at most ``queue_size`` events: the oldest are
    dropped and counted, and publishing never waits for it."""
    hub.webhooks.queue_size = 5
    with webhook_receiver() as stuck:
        stuck.default = "hang"
        route = hub.webhooks.add(url=stuck.url, filter={"twins": "site"})
        telemetry(hub, "site", i=0)
        wait_for(lambda: len(stuck.requests) == 1, what="the first POST to hang")
        for i in range(1, 31):
            telemetry(hub, "site", i=i)
        stats = hub.webhooks.stats(route.id)
        assert stats is not None
        assert stats.dropped == 25
        assert stats.queued == 5
