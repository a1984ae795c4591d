"""The 3D scene's live look in a real browser, against a demo without its simulated plant so
only what the test publishes over MQTT reaches the twins: temperature as heat colour, a hot
machine blinking, a stopped machine still and greyed, orbit and zoom with the mouse; the page
with every request to another host refused (no internet), and on a laptop-sized screen."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from harness import SCENE_DRAWN, Console, Demo, open_page, running_demo
from playwright.sync_api import Browser, Page, Request, Route, expect

from brokers import wait_until

pytestmark = pytest.mark.slow

Shot = Callable[[Page, str], Path]
HEAT_MIN, HEAT_MAX = 20.0, 120.0  # look.js: blue at 20 °C to red at 120 °C
BLINK_GLOW = 0xCC0000


@pytest.fixture(scope="module")
def quiet_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with running_demo(tmp_path_factory.mktemp("scene-demo"), "--no-simulate") as running:
        yield running


def _publish(demo: Demo, line: int, machine: str, ago: float = 0.0, **values: float) -> None:
    """Publish ``values`` as the machine's device would, stamped ``ago`` seconds back."""
    payload = json.dumps({"ts": int((time.time() - ago) * 1000), **values})
    topic = f"factory/line-{line}/{machine}/telemetry"
    subprocess.run(
        ["mosquitto_pub", "-p", str(demo.broker_port), "-q", "1", "-t", topic, "-m", payload],
        check=True,
        timeout=10,
    )


def _look(page: Page, twin: str) -> dict[str, Any]:
    look: dict[str, Any] = page.evaluate("id => window.twinsight.look(id)", twin)
    return look


def _set_state(demo: Demo, twin: str, state: str) -> None:
    patch = [{"op": "replace", "path": "/state", "value": state}]
    assert httpx.patch(f"{demo.url}/digitaltwins/{twin}", json=patch).status_code == 204


def _heat_hue(celsius: float) -> float:
    share = min(1.0, max(0.0, (celsius - HEAT_MIN) / (HEAT_MAX - HEAT_MIN)))
    return (1.0 - share) * 0.66


def _turns(page: Page, twin: str) -> bool:
    """Whether the machine's turning part moves over half a second."""
    before = _look(page, twin)["turned"]
    page.wait_for_timeout(500)
    return bool(_look(page, twin)["turned"] != before)


def test_temperature_shows_as_heat_colour_and_a_hot_machine_blinks(
    page: Page, quiet_demo: Demo, console: Console, shot: Shot
) -> None:
    open_page(page, quiet_demo)
    _publish(quiet_demo, 1, "motor", temperature=30.0)
    _publish(quiet_demo, 2, "motor", temperature=115.0)  # over the page's 110 °C alarm
    page.wait_for_function(
        "() => window.twinsight.look('line-1-motor').temperature === 30"
        " && window.twinsight.look('line-2-motor').temperature === 115",
        timeout=15_000,
    )
    cool, hot = _look(page, "line-1-motor"), _look(page, "line-2-motor")
    assert cool["hsl"]["h"] == pytest.approx(_heat_hue(30.0), abs=0.01)  # blue
    assert hot["hsl"]["h"] == pytest.approx(_heat_hue(115.0), abs=0.01)  # red
    assert not cool["alarm"] and hot["alarm"]
    expect(page.locator('#labels .label[data-twin="line-2-motor"]')).to_have_class(
        re.compile(r"\balarm\b")
    )
    # blinking: over a second of frames the hot motor glows red and dark in turn, the cool never
    glows = page.evaluate(
        """() => new Promise((done) => {
            const seen = {hot: new Set(), cool: new Set()};
            const end = performance.now() + 1200;
            const sample = () => {
                seen.hot.add(window.twinsight.look('line-2-motor').glow);
                seen.cool.add(window.twinsight.look('line-1-motor').glow);
                if (performance.now() < end) requestAnimationFrame(sample);
                else done({hot: [...seen.hot], cool: [...seen.cool]});
            };
            sample();
        })"""
    )
    assert sorted(glows["hot"]) == [0, BLINK_GLOW]
    assert glows["cool"] == [0]
    shot(page, "heat")
    assert console.errors == []


def test_a_stopped_machine_stands_still_and_greys_and_turns_again_when_restarted(
    page: Page, quiet_demo: Demo
) -> None:
    motor = "line-3-motor"
    _publish(quiet_demo, 3, "motor", temperature=60.0)
    open_page(page, quiet_demo)
    page.wait_for_function(f"() => window.twinsight.look('{motor}').temperature === 60")
    running = _look(page, motor)
    assert running["running"] and _turns(page, motor)
    _set_state(quiet_demo, motor, "stopped")
    try:
        page.wait_for_function(f"() => !window.twinsight.look('{motor}').running")
        assert not _turns(page, motor)
        stopped = _look(page, motor)
        assert stopped["hsl"]["s"] < 0.6 * running["hsl"]["s"]  # greyed
    finally:
        _set_state(quiet_demo, motor, "running")
    page.wait_for_function(f"() => window.twinsight.look('{motor}').running")
    assert _turns(page, motor)
    assert _look(page, motor)["hsl"]["s"] == pytest.approx(running["hsl"]["s"], abs=0.01)


def test_the_wheel_zooms_and_a_drag_orbits_the_view(page: Page, quiet_demo: Demo) -> None:
    open_page(page, quiet_demo)
    box = page.locator("#scene").bounding_box()
    assert box is not None
    centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    start = page.evaluate("() => window.twinsight.view()")
    page.mouse.move(*centre)
    page.mouse.wheel(0, -600)  # towards the plant
    page.wait_for_function(
        "d => window.twinsight.view().distance < 0.9 * d", arg=start["distance"], timeout=5_000
    )
    zoomed = page.evaluate("() => window.twinsight.view()")
    page.mouse.down()
    page.mouse.move(centre[0] + 250, centre[1], steps=10)
    page.mouse.up()
    page.wait_for_timeout(500)  # the controls' damping settles
    orbited = page.evaluate("() => window.twinsight.view()")
    moved = sum((a - b) ** 2 for a, b in zip(orbited["position"], zoomed["position"], strict=True))
    assert moved**0.5 > 0.2 * zoomed["distance"]  # the camera went round the plant
    assert orbited["target"] == pytest.approx(zoomed["target"], abs=1e-6)  # an orbit, not a pan
    assert orbited["distance"] == pytest.approx(zoomed["distance"], rel=0.05)


def test_the_page_needs_no_other_host(browser: Browser, quiet_demo: Demo) -> None:
    """Every request to another host is refused, as with no internet: the page still draws
    the plant and goes live, and it never asked another host for anything."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    elsewhere: list[str] = []

    def only_the_platform(route: Route, request: Request) -> None:
        if request.url.startswith(quiet_demo.url + "/"):
            route.continue_()
        else:
            elsewhere.append(request.url)
            route.abort()

    context.route("**/*", only_the_platform)
    page = context.new_page()
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    try:
        open_page(page, quiet_demo)
        expect(page.locator("#live-status")).to_have_text("live", timeout=15_000)
        assert page.locator(SCENE_DRAWN).count() == 1
    finally:
        context.close()
    assert elsewhere == []
    ws_origin = quiet_demo.url.replace("http://", "ws://", 1) + "/"
    assert sockets and all(url.startswith(ws_origin) for url in sockets)


def test_the_page_fits_a_laptop_screen(browser: Browser, quiet_demo: Demo, shot: Shot) -> None:
    """1366 × 768, the commonest laptop screen: nothing scrolls sideways, the 3D view keeps
    most of the width, and a selected motor's panel shows its values and a chart."""
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    try:
        _publish(quiet_demo, 1, "motor", temperature=40.0)
        open_page(page, quiet_demo, "/ui/#line-1-motor")
        expect(page.locator("#twin-panel h2")).to_have_text("line-1-motor")
        assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
        scene = page.locator("#scene").bounding_box()
        panel = page.locator("#twin-panel").bounding_box()
        assert scene is not None and panel is not None
        assert scene["width"] >= 0.45 * 1366 and scene["height"] >= 0.6 * 768
        assert panel["x"] + panel["width"] <= 1366
        cell = page.locator('#twin-panel td[data-path="windingTemperature"]')
        expect(cell).to_have_text(re.compile(r"^40(\.0+)? °C$"), timeout=15_000)
        expect(cell).to_be_in_viewport()
        chart = page.locator('#twin-panel figure.chart[data-series="windingTemperature"]')
        chart.scroll_into_view_if_needed()
        expect(chart.locator("canvas")).to_be_visible(timeout=15_000)
        page.evaluate("() => document.getElementById('twin-panel').scrollTop = 0")
        # with alarms and actions waiting, the tabs' counts keep to the tabs' one line
        page.evaluate(
            "() => { document.getElementById('alarm-count').textContent = '12';"
            " document.getElementById('action-count').textContent = '3'; }"
        )
        tab = page.locator("#tab-twin").bounding_box()  # the row is as tall as its tallest
        assert tab is not None and tab["height"] < 45  # one line: no count wrapped under its tab
        shot(page, "laptop")
    finally:
        context.close()


def test_the_panels_time_range_chooses_what_the_chart_shows(page: Page, quiet_demo: Demo) -> None:
    for minutes, flow in ((40, 90.0), (10, 95.0), (0, 100.0)):
        _publish(quiet_demo, 3, "pump", ago=minutes * 60.0, flow=flow)
    wait_until(
        lambda: len(httpx.get(f"{quiet_demo.url}/history/line-3-pump/flow").json()["value"]) == 3,
        timeout=15,
        what="the three flows in history",
    )
    open_page(page, quiet_demo, "/ui/#line-3-pump")
    chart = page.locator('#twin-panel figure.chart[data-series="flow"]')
    expect(chart).to_have_attribute("data-points", "3", timeout=15_000)  # the last hour
    page.locator("#twin-panel .ranges button", has_text="15 min").click()
    expect(chart).to_have_attribute("data-points", "2")
    page.locator("#twin-panel .ranges button", has_text="6 h").click()
    expect(chart).to_have_attribute("data-points", "3")


def test_a_young_plants_panels_log_no_console_error(
    page: Page, quiet_demo: Demo, console: Console
) -> None:
    """Most series of a plant that has just started are empty or short: the panel's charts
    do not ask for forecasts the server would refuse (404, 422), since the browser logs each
    refused request as a console error."""
    _publish(quiet_demo, 2, "pump", flow=50.0)
    _publish(quiet_demo, 2, "motor", temperature=45.0)
    open_page(page, quiet_demo)
    for twin in ("line-2-motor", "line-2-pump", "line-2-tank", "line-2-conveyor"):
        page.locator(f'#explorer-list li[data-twin="{twin}"]').click()
        expect(page.locator("#twin-panel h2")).to_have_text(twin)
        expect(page.locator("#twin-panel figure.chart").first).to_be_visible(timeout=15_000)
        page.wait_for_load_state("networkidle")  # the charts' requests have been answered
    assert console.errors == []


def test_a_chart_range_ends_at_the_plants_time_when_it_runs_faster(
    browser: Browser, tmp_path: Path
) -> None:
    """At --speed 120 the plant's readings are stamped ahead of the wall clock: the panel's
    last 15 minutes are the plant's last 15 minutes, not every reading since 15 wall-clock
    minutes ago."""
    with running_demo(tmp_path, "--speed", "120", "--no-line-mpc", "--no-faults") as demo:
        series = f"{demo.url}/history/line-1-motor/windingTemperature"

        def newest() -> datetime | None:
            answer = httpx.get(series, params={"limit": 1, "order": "desc"})
            points = answer.json()["value"] if answer.status_code == 200 else []
            return datetime.fromisoformat(points[0]["time"]) if points else None

        ahead = timedelta(minutes=30)
        wait_until(
            lambda: (n := newest()) is not None and n > datetime.now(UTC) + ahead,
            timeout=60,
            what="the plant to run 30 min ahead of the wall clock",
        )
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        try:
            page = context.new_page()
            open_page(page, demo, "/ui/#line-1-motor")
            expect(page.locator("#twin-panel figure.chart").first).to_be_visible(timeout=15_000)
            listing = f"{demo.url}/history/series?twin=line-1-motor"
            with (
                page.expect_response(listing) as listed,
                page.expect_request(lambda r: r.url.startswith(series + "?")) as asked,
            ):
                page.locator("#twin-panel .ranges button", has_text="15 min").click()
            last = next(
                s["last"] for s in listed.value.json()["value"] if s["name"] == "windingTemperature"
            )
            start = parse_qs(urlsplit(asked.value.url).query)["start"][0]
            # the series' own last 15 minutes, though they lie ahead of the wall clock
            expected = datetime.fromisoformat(last) - timedelta(minutes=15)
            assert abs(datetime.fromisoformat(start) - expected) < timedelta(milliseconds=1)
            assert expected > datetime.now(UTC)
        finally:
            context.close()
