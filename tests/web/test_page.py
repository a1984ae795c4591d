"""The web page in a real browser (headless Chromium) against a running demo: it loads
cleanly, shows live values, selects machines in the 3D scene, explores the twin graph, and
says so when its live connection drops, then reconnects."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from harness import TWINSIGHT, VIEWPORT, Console, Demo, open_page
from playwright.sync_api import Browser, Page, WebSocketRoute, expect

pytestmark = pytest.mark.slow

NS = "dtmi:twinsight:factory"
Shot = Callable[[Page, str], Path]


def _query(demo: Demo, query: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = httpx.post(f"{demo.url}/query", json={"query": query}).json()[
        "value"
    ]
    return rows


def _ids_of(demo: Demo, model: str) -> list[str]:
    rows = _query(demo, f"SELECT T.$dtId FROM DIGITALTWINS T WHERE IS_OF_MODEL('{NS}:{model};1')")
    return sorted(r["$dtId"] for r in rows)


def test_the_page_loads_with_no_console_errors_and_draws_every_machine(
    page: Page, demo: Demo, console: Console, shot: Shot
) -> None:
    open_page(page, demo)
    assert page.url == f"{demo.url}/ui/"
    expect(page.locator("#live-status")).to_have_text("live", timeout=15_000)
    twins = httpx.get(f"{demo.url}/health").json()["twins"]
    expect(page.locator("#explorer-list li")).to_have_count(twins)
    machines = _ids_of(demo, "Machine")
    labels = page.locator("#labels .label[data-twin]")
    expect(labels).to_have_count(len(machines))
    assert sorted(labels.evaluate_all("els => els.map(e => e.dataset.twin)")) == machines
    page.wait_for_timeout(2000)  # let a few stream events arrive and be drawn
    shot(page, "overview")
    assert console.errors == []


def test_live_values_change_over_time(page: Page, demo: Demo, shot: Shot) -> None:
    motor = _ids_of(demo, "Motor")[0]
    open_page(page, demo, f"/ui/#{motor}")
    cell = page.locator('#twin-panel td[data-path="windingTemperature"]')
    expect(cell).to_have_text(re.compile(r"°C$"), timeout=20_000)
    first = cell.inner_text()
    chart = page.locator('#twin-panel figure.chart[data-series="windingTemperature"]')
    expect(chart).to_be_visible()
    points = int(chart.get_attribute("data-points") or 0)
    # the simulated plant publishes every 5 s: within 30 s the value and the chart move on
    expect(cell).not_to_have_text(first, timeout=30_000)
    page.wait_for_function(
        "([el, n]) => Number(el.dataset.points) > n", arg=[chart.element_handle(), points]
    )
    shot(page, "live")


def test_a_senml_pack_draws_every_sample_on_the_chart(page: Page, demo: Demo) -> None:
    motor = _ids_of(demo, "Motor")[0]
    line, machine = motor.rsplit("-", 1)
    open_page(page, demo, f"/ui/#{motor}")
    chart = page.locator('#twin-panel figure.chart[data-series="vibration"]')
    expect(chart).to_be_visible(timeout=20_000)
    page.wait_for_function("el => Number(el.dataset.points) > 0", arg=chart.element_handle())
    before = int(chart.get_attribute("data-points") or 0)
    now = time.time()
    samples = 40
    pack = [{"bt": now - samples * 0.05, "n": "vibration", "v": 0.1, "t": 0}]
    pack += [{"n": "vibration", "v": 0.1 + 0.001 * i, "t": i * 0.05} for i in range(1, samples)]
    topic, port = f"factory/{line}/{machine}/senml", str(demo.broker_port)
    subprocess.run(
        ["mosquitto_pub", "-p", port, "-q", "1", "-t", topic, "-m", json.dumps(pack)],
        check=True,
        timeout=10,
    )
    # one stream event carries the pack; the chart takes all its samples, not the newest
    page.wait_for_function(
        "([el, n]) => Number(el.dataset.points) >= n",
        arg=[chart.element_handle(), before + samples],
        timeout=15_000,
    )


def test_a_click_on_a_machine_opens_its_panel_with_a_zoomable_chart(
    page: Page, demo: Demo, shot: Shot
) -> None:
    open_page(page, demo)
    pump = _ids_of(demo, "Pump")[0]
    point = page.evaluate("id => window.twinsight.screenPoint(id)", pump)
    page.mouse.click(point["x"], point["y"])
    expect(page.locator("#twin-panel h2")).to_have_text(pump)
    expect(page.locator(f'#labels .label[data-twin="{pump}"]')).to_have_class(
        re.compile("selected")
    )
    chart = page.locator('#twin-panel figure.chart[data-series="flow"]')
    expect(chart.locator("canvas")).to_be_visible(timeout=15_000)
    page.wait_for_function("el => Number(el.dataset.points) > 0", arg=chart.element_handle())
    box = chart.locator(".u-over").bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    for _ in range(3):  # on a loaded machine a drag was once not taken as one: try again
        page.mouse.move(box["x"] - 20, y)  # from outside, so the chart measures itself anew
        page.mouse.move(box["x"] + box["width"] * 0.3, y)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.7, y, steps=10)
        page.wait_for_timeout(100)
        page.mouse.up()
        if chart.get_attribute("data-zoomed") == "true":
            break
    expect(chart).to_have_attribute("data-zoomed", "true")
    shot(page, "panel")
    chart.locator(".u-over").dblclick()
    expect(chart).not_to_have_attribute("data-zoomed", "true")


def test_the_explorer_filters_by_model_and_follows_relationships(page: Page, demo: Demo) -> None:
    open_page(page, demo)
    page.select_option("#explorer-model", f"{NS}:Machine;1")  # Machine: its subtypes too
    items = page.locator("#explorer-list li")
    expect(items).to_have_count(len(_ids_of(demo, "Machine")))
    page.fill("#explorer-search", "tank")
    tanks = _ids_of(demo, "Tank")
    expect(items).to_have_count(len(tanks))
    items.first.click()
    expect(page.locator("#twin-panel h2")).to_have_text(tanks[0])
    line = next(
        r["$sourceId"]
        for r in _query(demo, "SELECT * FROM RELATIONSHIPS")
        if r["$targetId"] == tanks[0] and r["$relationshipName"] == "hasMachine"
    )
    page.locator(f'#twin-panel .relationships button[data-twin="{line}"]').click()
    expect(page.locator("#twin-panel h2")).to_have_text(line)
    expect(page.locator("#twin-panel .relationships button").first).to_be_visible()


def test_a_dropped_websocket_shows_a_message_and_reconnects(
    page: Page, demo: Demo, shot: Shot
) -> None:
    connections: list[WebSocketRoute] = []

    def through(ws: WebSocketRoute) -> None:
        ws.connect_to_server()  # frames pass unchanged both ways
        connections.append(ws)

    page.route_web_socket(re.compile(r"/streams/ws"), through)
    motor = _ids_of(demo, "Motor")[0]
    open_page(page, demo, f"/ui/#{motor}")
    status, banner = page.locator("#live-status"), page.locator("#banner")
    expect(status).to_have_text("live", timeout=15_000)
    connections[-1].close(code=1011, reason="dropped")
    expect(status).to_have_text("offline")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Live updates stopped")
    shot(page, "offline")
    expect(status).to_have_text("live", timeout=15_000)
    expect(banner).to_be_hidden()
    assert len(connections) >= 2  # the page opened a new connection
    cell = page.locator('#twin-panel td[data-path="windingTemperature"]')
    before = cell.inner_text()
    expect(cell).not_to_have_text(before, timeout=30_000)  # live again


def test_a_change_made_before_the_stream_is_live_still_reaches_the_page(
    page: Page, demo: Demo
) -> None:
    """The stream is held back until after the page has read the twins and a property has
    changed: once the stream is live the page shows the change (it used to keep the value it
    read, since the change was in neither what it read nor the stream)."""
    held: list[WebSocketRoute] = []
    from_page: list[str | bytes] = []

    def keep(message: str | bytes) -> None:  # Playwright takes Python functions only
        from_page.append(message)

    def hold(ws: WebSocketRoute) -> None:
        ws.on_message(keep)  # the page's subscription waits here
        held.append(ws)

    page.route_web_socket(re.compile(r"/streams/ws"), hold)
    tank = _ids_of(demo, "Tank")[0]
    limits = httpx.get(f"{demo.url}/digitaltwins/{tank}").json()["alarmLimits"]
    open_page(page, demo, f"/ui/#{tank}")
    label = page.locator(f'#labels .label[data-twin="{tank}"]')
    expect(page.locator("#live-status")).to_have_text("connecting…")
    expect(label).not_to_have_class(re.compile("alarm"))
    patch = [{"op": "replace", "path": "/alarmLimits", "value": {"low": -2.0, "high": -1.0}}]
    assert httpx.patch(f"{demo.url}/digitaltwins/{tank}", json=patch).status_code == 204
    try:
        server = held[-1].connect_to_server()

        def forward(message: str | bytes) -> None:
            server.send(message)

        held[-1].on_message(forward)
        for message in from_page:
            server.send(message)
        expect(page.locator("#live-status")).to_have_text("live", timeout=15_000)
        expect(label).to_have_class(re.compile("alarm"), timeout=15_000)
    finally:
        patch[0]["value"] = limits
        assert httpx.patch(f"{demo.url}/digitaltwins/{tank}", json=patch).status_code == 204


def test_a_second_demo_on_the_same_port_is_refused_and_the_first_keeps_running(
    page: Page, demo: Demo, tmp_path: Path
) -> None:
    second = subprocess.run(
        [
            str(TWINSIGHT),
            "demo",
            "--port",
            str(demo.port),
            "--broker-port",
            "0",
            "--data-dir",
            str(tmp_path / "second"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert second.returncode != 0
    assert f"cannot serve on 127.0.0.1:{demo.port}: the port is already in use" in second.stderr
    assert not (tmp_path / "second").exists()  # refused before opening anything
    assert httpx.get(f"{demo.url}/health").status_code == 200
    open_page(page, demo)
    expect(page.locator("#live-status")).to_have_text("live", timeout=15_000)


def test_a_browser_closed_mid_stream_leaves_the_platform_serving(
    browser: Browser, page: Page, demo: Demo
) -> None:
    gone = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    tab = gone.new_page()
    open_page(tab, demo)
    expect(tab.locator("#live-status")).to_have_text("live", timeout=15_000)
    gone.close()  # the tab goes away with its WebSocket open, as a closed browser does
    assert httpx.get(f"{demo.url}/health").status_code == 200
    open_page(page, demo)
    expect(page.locator("#live-status")).to_have_text("live", timeout=15_000)
    motor = _ids_of(demo, "Motor")[0]
    expect(page.locator(f'#explorer-list li[data-twin="{motor}"]')).to_be_visible()
    assert "Traceback" not in demo.log.read_text()  # nothing went wrong on the server side


def test_an_alarm_shows_in_the_scene_and_the_panel_says_why(page: Page, demo: Demo) -> None:
    tank = _ids_of(demo, "Tank")[-1]
    limits = httpx.get(f"{demo.url}/digitaltwins/{tank}").json()["alarmLimits"]
    open_page(page, demo, f"/ui/#{tank}")
    label = page.locator(f'#labels .label[data-twin="{tank}"]')
    expect(label).not_to_have_class(re.compile("alarm"))

    def set_limits(value: dict[str, float]) -> None:
        patch = [{"op": "replace", "path": "/alarmLimits", "value": value}]
        assert httpx.patch(f"{demo.url}/digitaltwins/{tank}", json=patch).status_code == 204

    set_limits({"low": -2.0, "high": -1.0})  # any level is now over the high limit
    try:
        expect(label).to_have_class(re.compile("alarm"), timeout=15_000)
        expect(page.locator("#twin-panel .alarm-text")).to_contain_text("over the high limit -1")
    finally:
        set_limits(limits)
    expect(label).not_to_have_class(re.compile("alarm"), timeout=15_000)
