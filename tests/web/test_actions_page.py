"""The actions tab in a real browser against the running demo: a speed set-point an
optimiser only recommends is listed with who asked and why, the page's Apply button sends
it through the API, and the demo's simulated motor applies and reports it (done, with the
reported value); a stop held for approval is rejected from the page and nothing is sent."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from harness import Demo, open_page
from playwright.sync_api import Page, expect

Shot = Callable[[Page, str], Path]

pytestmark = pytest.mark.slow

MOTOR = "line-3-motor"  # not the motors the other page tests use


def test_a_recommendation_is_applied_and_a_pending_stop_rejected_from_the_page(
    page: Page, demo: Demo, shot: Shot
) -> None:
    speed = httpx.put(
        f"{demo.url}/twins/{MOTOR}/desired/speedSetpoint",
        json=1350.0,
        params={"mode": "recommend", "requestedBy": "optimizer:line-mpc", "reason": "more parts"},
    ).json()
    stop = httpx.post(
        f"{demo.url}/digitaltwins/{MOTOR}/commands/stop",
        params={"mode": "approve", "requestedBy": "rule:hot-winding", "reason": "too hot"},
    ).json()
    assert (speed["state"], stop["state"]) == ("recommended", "pending_approval")
    open_page(page, demo, "/ui/")
    expect(page.locator("#live-status")).to_have_text("live", timeout=15_000)
    page.locator("#tab-actions").click()
    expect(page.locator("#action-count")).to_have_text("2")
    recommended = page.locator(f'#actions-panel li[data-action="{speed["id"]}"]')
    expect(recommended).to_contain_text("asked by optimizer:line-mpc — more parts")
    expect(recommended).to_contain_text("speedSetpoint → 1350")
    pending = page.locator(f'#actions-panel li[data-action="{stop["id"]}"]')
    expect(pending).to_contain_text("asked by rule:hot-winding — too hot")
    shot(page, "waiting")

    pending.get_by_role("button", name="Reject").click()
    expect(pending).to_have_attribute("data-state", "rejected", timeout=10_000)
    recommended.get_by_role("button", name="Apply").click()
    # The simulated motor reports the set-point with its next message (every 5 s).
    expect(recommended).to_have_attribute("data-state", "done", timeout=30_000)
    expect(recommended.locator(".outcome")).to_contain_text("decided by operator")
    expect(page.locator("#action-count")).to_have_text("")
    shot(page, "applied")
    assert httpx.get(f"{demo.url}/digitaltwins/{MOTOR}").json()["speedSetpoint"] == 1350.0
    rejected = httpx.get(f"{demo.url}/actions/{stop['id']}").json()
    assert (rejected["state"], rejected["decidedBy"], rejected["attempts"]) == (
        "rejected", "operator", 0,
    )  # fmt: skip
    assert httpx.get(f"{demo.url}/digitaltwins/{MOTOR}").json()["state"] == "running"
