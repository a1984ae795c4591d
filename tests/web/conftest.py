"""Fixtures of the web page's tests: one demo and one headless Chromium per test process
(they take seconds to start), a fresh browser context per test, and screenshots kept under
``test-artifacts/web/`` (or ``$TWINSIGHT_ARTIFACTS``) for a person to look at."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

sys.path.insert(0, str(Path(__file__).parent))

from harness import VIEWPORT, Console, Demo, launch_chromium, running_demo

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("TWINSIGHT_ARTIFACTS", ROOT / "test-artifacts")) / "web"


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    # Without the line MPC: the page tests count the actions they make themselves.
    with running_demo(tmp_path_factory.mktemp("web-demo"), "--no-line-mpc") as running:
        yield running


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def page(browser: Browser, console: Console) -> Iterator[Page]:
    """A fresh context (no cache, no storage) and page; fails the test on any uncaught
    exception in the page's scripts."""
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    tab = context.new_page()
    tab.on("console", console.on_message)
    tab.on("pageerror", lambda error: console.exceptions.append(str(error)))
    yield tab
    context.close()
    assert console.exceptions == [], console.exceptions


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Callable[[Page, str], Path]:
    """``shot(page, "name")`` saves a screenshot as ``<test>-<name>.png``."""

    def take(tab: Page, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{request.node.name}-{name}.png"
        tab.screenshot(path=str(path))
        return path

    return take
