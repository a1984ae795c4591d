"""A motor's winding-temperature chart continues with a forecast: a dashed line inside a
shaded prediction-interval band, fetched from the forecast route. The demo publishes every
5 s, so ten minutes of readings are seeded before the demo's first one (through the
telemetry API with past source times, as a device catching up would send them): the
forecast then appears as soon as the chart is drawn."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from harness import Demo, open_page
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.slow

MOTOR = "line-1-motor"
SERIES = "windingTemperature"
SEEDED = 120  # ten minutes at the demo's 5 s


def seed_history(demo: Demo) -> None:
    """Readings every 5 s for ten minutes before the series' first recorded one."""
    first = None
    for _ in range(100):  # the demo's first reading is at most a few seconds away
        listed = httpx.get(f"{demo.url}/history/series", params={"twin": MOTOR}).json()["value"]
        first = next((s["first"] for s in listed if s["name"] == SERIES), None)
        if first:
            break
        httpx.get(f"{demo.url}/health")  # keep polling without sleeping blind
    assert first, f"the demo recorded no {SERIES} for {MOTOR}"
    start = datetime.fromisoformat(first)
    oldest = httpx.get(f"{demo.url}/history/{MOTOR}/{SERIES}", params={"limit": 1}).json()
    level = oldest["value"][0]["value"]  # seed around the demo's own first reading
    for k in range(SEEDED, 0, -1):
        time = start - timedelta(seconds=5 * k)
        value = level + 0.5 * math.sin(2 * math.pi * k / 40)
        response = httpx.post(
            f"{demo.url}/digitaltwins/{MOTOR}/telemetry",
            json={SERIES: value},
            headers={
                "Message-Id": f"forecast-seed-{k}",
                "Telemetry-Source-Time": time.isoformat().replace("+00:00", "Z"),
            },
        )
        assert response.status_code == 204, response.text


def test_a_motor_temperature_chart_shows_a_forecast_band(
    page: Page, demo: Demo, shot: Callable[[Page, str], Path]
) -> None:
    seed_history(demo)
    answer = httpx.get(f"{demo.url}/history/{MOTOR}/{SERIES}/forecast", params={"horizon": 60})
    assert answer.status_code == 200, answer.text
    open_page(page, demo, f"/ui/#{MOTOR}")
    chart = page.locator(f'#twin-panel figure.chart[data-series="{SERIES}"]')
    expect(chart).to_have_attribute("data-forecast", "60", timeout=20_000)
    expect(chart).to_have_attribute(
        "data-forecast-model", f"harmonic-ar v{answer.json()['version']}"
    )
    # the band is drawn: the plot's right end holds the band's orange tint, which nothing
    # else on the chart has (the line and its fill are blue)
    tinted = chart.locator("canvas").evaluate(
        """canvas => {
            const ctx = canvas.getContext("2d");
            const x0 = Math.floor(canvas.width * 0.8);
            const img = ctx.getImageData(x0, 0, canvas.width - x0, canvas.height).data;
            let count = 0;
            for (let i = 0; i < img.length; i += 4) {
                const [r, g, b, a] = [img[i], img[i + 1], img[i + 2], img[i + 3]];
                if (a > 0 && r - b > 25 && r > 150) count++;
            }
            return count;
        }"""
    )
    chart.scroll_into_view_if_needed()
    shot(page, "forecast")
    assert tinted > 200, f"only {tinted} band-coloured pixels at the chart's right end"
