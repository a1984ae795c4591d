"""The demo's motors show their remaining useful life in the twin panel, with the interval
and the model version that produced it, in a real browser (headless Chromium): the demo
trains a small model at start when none is registered, and serves it live."""

from __future__ import annotations

import re

import httpx
import pytest
from harness import Demo, open_page
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.slow


def test_a_motor_panel_shows_its_rul_with_interval_and_model_version(
    page: Page, demo: Demo
) -> None:
    motor = "line-1-motor"
    open_page(page, demo, f"/ui/#{motor}")
    expect(page.locator("#twin-panel h2")).to_have_text(motor)
    line = page.locator("#twin-panel p.rul")
    # training the demo's model takes seconds; its first prediction follows at once
    expect(line).to_contain_text(re.compile(r"model motor-rul v\d+"), timeout=90_000)
    numbers = r"Remaining useful life [\d,]+ h \([\d,]+ h – [\d,]+ h"
    expect(line).to_contain_text(re.compile(numbers))
    shown = int(re.search(r"v(\d+)", line.inner_text()).group(1))  # type: ignore[union-attr]
    derived = httpx.get(f"{demo.url}/twins/{motor}/derived").json()["value"]
    rul = {d["name"]: d for d in derived if d["name"].startswith("remainingUsefulLife")}
    assert rul["remainingUsefulLife"]["model"] == "motor-rul"
    assert rul["remainingUsefulLife"]["version"] == shown
    low, mid, high = (rul[f"remainingUsefulLife{s}"]["value"] for s in ("Low", "", "High"))
    assert 0 <= low <= mid <= high
    # the live table shows it as people read hours: thousands grouped, no decimals
    cell = page.locator('#twin-panel td[data-path="remainingUsefulLife"]')
    expect(cell).to_have_text(re.compile(r"^\d{1,3}(,\d{3})+ h$"))
    # a pump has no RUL model attached: no line
    open_page(page, demo, "/ui/#line-1-pump")
    page.reload()  # only the hash changed: load the page anew on it
    expect(page.locator("#twin-panel h2")).to_have_text("line-1-pump")
    expect(page.locator("#twin-panel p.rul")).to_be_hidden()
