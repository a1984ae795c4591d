"""The page's what-if panel against a running demo: fork, change, run ahead, compare — and a
change the simulation cannot make is refused with the server's words while the page goes on
working."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from harness import Demo, open_page
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.slow

Shot = Callable[[Page, str], Path]


def _fork(page: Page) -> list[str]:
    page.click("#tab-whatif")
    page.click("#whatif-fork")
    expect(page.locator("#whatif-fork-info")).to_contain_text("Forked", timeout=20_000)
    twins: list[str] = page.locator(".change select[name=twin] option").evaluate_all(
        "els => els.map(e => e.value)"
    )
    return twins


def _set_change(page: Page, twin: str, kind: str, name: str, value: str) -> None:
    row = page.locator(".change").first
    row.locator("select[name=twin]").select_option(twin)
    row.locator("select[name=kind]").select_option(kind)
    row.locator("input[name=name]").fill(name)
    row.locator("input[name=value]").fill(value)


def _motor(twins: list[str]) -> str:
    return next(t for t in twins if t.endswith("motor"))


def test_a_what_if_run_completes_and_shows_its_comparison(
    page: Page, demo: Demo, shot: Shot
) -> None:
    open_page(page, demo)
    motor = _motor(_fork(page))
    _set_change(page, motor, "input", "running", "0")  # stop the motor
    page.select_option("select[name=horizon]", "7200")
    page.click("#whatif-run")
    table = page.locator("#whatif-comparison")
    expect(table).to_be_visible(timeout=60_000)
    expect(page.locator("#whatif-message")).to_contain_text("Done")
    changed = table.locator("tbody tr.changed th").all_inner_texts()
    assert f"{motor}.temperature" in changed and f"{motor}.speed" in changed
    plot = page.locator("#whatif-plot")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=plot.element_handle())
    scenarios = httpx.get(f"{demo.url}/scenarios").json()["value"]
    stopped = {motor: {"running": 0.0}}
    assert any(s["status"] == "done" and s["changes"]["inputs"] == stopped for s in scenarios)
    plot.scroll_into_view_if_needed()
    shot(page, "comparison")


def test_a_nonsense_parameter_shows_a_clear_error_and_the_page_keeps_working(
    page: Page, demo: Demo, shot: Shot
) -> None:
    open_page(page, demo)
    motor = _motor(_fork(page))
    message = page.locator("#whatif-message")
    _set_change(page, motor, "parameter", "warp_factor", "9")
    page.click("#whatif-run")
    expect(message).to_have_class(re.compile("error"))
    expect(message).to_contain_text(f"'{motor}' has no parameter 'warp_factor'")
    expect(message).to_contain_text("rated_power")  # the server lists the real ones
    shot(page, "refused")
    _set_change(page, motor, "parameter", "rated_power", "lots")
    page.click("#whatif-run")
    expect(message).to_contain_text("rated_power must be a number")
    _set_change(page, motor, "parameter", "rated_power", "-5")
    page.click("#whatif-run")
    expect(message).to_contain_text("outside its bounds")
    # the page goes on working: the same scenario runs with a sound change, and live too
    _set_change(page, motor, "parameter", "rated_power", "22")
    page.click("#whatif-run")
    expect(page.locator("#whatif-comparison")).to_be_visible(timeout=60_000)
    expect(message).not_to_have_class(re.compile("error"))
    expect(page.locator("#live-status")).to_have_text("live")
    page.click("#tab-twin")
    point = page.evaluate("id => window.twinsight.screenPoint(id)", motor)
    page.mouse.click(point["x"], point["y"])
    expect(page.locator("#twin-panel h2")).to_have_text(motor)
