"""The alarms on the page, in a real browser against the running demo: a tank patched so
its level is over the high limit gets a server-side limit alarm, which the alarms tab
lists, the 3D scene blinks and the twin panel lists; the page's Acknowledge button
acknowledges it through the API; patching the limit back clears it on the page."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from harness import Demo, open_page
from playwright.sync_api import Page, expect

Shot = Callable[[Page, str], Path]

pytestmark = pytest.mark.slow

TANK = "dtmi:twinsight:factory:Tank;1"


def _tank(demo: Demo) -> str:
    rows = httpx.post(
        f"{demo.url}/query",
        json={"query": f"SELECT T.$dtId FROM DIGITALTWINS T WHERE IS_OF_MODEL('{TANK}')"},
    ).json()["value"]
    tanks = sorted(r["$dtId"] for r in rows)
    return tanks[1]  # not the tanks the other page tests patch


def _alarms(demo: Demo, twin: str) -> list[dict[str, Any]]:
    page = httpx.get(f"{demo.url}/alarms", params={"twin": twin}).json()
    value: list[dict[str, Any]] = page["value"]
    return value


def test_an_alarm_is_listed_blinks_is_acknowledged_from_the_page_and_clears(
    page: Page, demo: Demo, shot: Shot
) -> None:
    tank = _tank(demo)
    limits = httpx.get(f"{demo.url}/digitaltwins/{tank}").json()["alarmLimits"]
    before = {a["id"] for a in _alarms(demo, tank)}
    open_page(page, demo, f"/ui/#{tank}")
    expect(page.locator("#live-status")).to_have_text("live", timeout=15_000)
    label = page.locator(f'#labels .label[data-twin="{tank}"]')
    expect(label).not_to_have_class(re.compile("alarm"))

    def set_limits(value: dict[str, float]) -> None:
        patch = [{"op": "replace", "path": "/alarmLimits", "value": value}]
        assert httpx.patch(f"{demo.url}/digitaltwins/{tank}", json=patch).status_code == 204

    set_limits({"low": -2.0, "high": -1.0})  # any level is now over the high limit
    try:
        # The server's limit monitor raises it; the scene and the panel show it.
        expect(label).to_have_class(re.compile("alarm"), timeout=20_000)
        expect(page.locator("#twin-panel .twin-alarms li")).to_contain_text(
            "over the high limit -1"
        )
        (alarm,) = [a for a in _alarms(demo, tank) if a["id"] not in before]
        assert (alarm["condition"], alarm["state"]) == ("limit:level:high", "raised")
        page.locator("#tab-alarms").click()
        expect(page.locator("#alarm-count")).not_to_have_text("")
        row = page.locator(f'#alarms-panel li[data-alarm="{alarm["id"]}"]')
        expect(row).to_have_attribute("data-state", "raised")
        expect(row.locator(".message")).to_contain_text("over the high limit -1")
        expect(row).to_contain_text("critical")
        row.get_by_role("button", name="Acknowledge").click()
        expect(row).to_have_attribute("data-state", "acknowledged", timeout=10_000)
        acked = httpx.get(f"{demo.url}/alarms/{alarm['id']}").json()
        assert (acked["state"], acked["acknowledgedBy"]) == ("acknowledged", "operator")
        shot(page, "acknowledged")
    finally:
        set_limits(limits)
    expect(row).to_have_attribute("data-state", "cleared", timeout=20_000)
    expect(row.locator(".state")).to_have_text("cleared")
    expect(label).not_to_have_class(re.compile("alarm"), timeout=15_000)
    assert httpx.get(f"{demo.url}/alarms/{alarm['id']}").json()["state"] == "cleared"
