"""What the web page's tests and its load benchmark share: the demo started as a user starts
it (its own free ports, data folder and embedded broker) and Debian's headless Chromium
driven by Playwright (``playwright install`` is never needed: the browser is the system's).
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright

TWINSIGHT = Path(sys.executable).parent / "twinsight"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--no-sandbox",
    # No GPU here: Chromium falls back to ANGLE on SwiftShader's Vulkan by itself, and that
    # path creates a WebGL context in ~20 ms where --use-angle=swiftshader takes ~200 ms.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)
VIEWPORT = {"width": 1440, "height": 900}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Demo:
    url: str
    port: int
    broker_port: int
    process: subprocess.Popen[bytes]
    log: Path


def _wait_for_health(demo: Demo, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if demo.process.poll() is not None:
            raise RuntimeError(f"the demo exited early:\n{demo.log.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{demo.url}/health", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"the demo did not answer /health within {timeout} s")


@contextlib.contextmanager
def running_demo(folder: Path, *extra: str, timeout: float = 60.0) -> Iterator[Demo]:
    """``twinsight demo`` on free ports with its data and log in ``folder``; stopped after."""
    folder.mkdir(parents=True, exist_ok=True)
    port, broker = free_port(), free_port()
    log = folder / "demo.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(TWINSIGHT),
                "demo",
                "--port",
                str(port),
                "--broker-port",
                str(broker),
                "--data-dir",
                str(folder / "data"),
                *extra,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    demo = Demo(f"http://127.0.0.1:{port}", port, broker, process, log)
    try:
        _wait_for_health(demo, timeout)
        yield demo
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def launch_chromium(playwright: Playwright) -> Browser:
    """Headless Debian Chromium; Playwright gives every launch a fresh temporary profile."""
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing: run scripts/setup.sh (Debian package chromium)")
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=list(CHROMIUM_ARGS)
    )


SCENE_DRAWN = "html[data-scene=drawn]"
"""The page marks its root element once the 3D scene's first frame with machines is drawn
(and sets the performance mark ``twinsight:scene-drawn`` at the same moment)."""


def open_page(page: Page, demo: Demo, path: str = "/") -> None:
    """Open the page and wait for the 3D scene's first drawn frame."""
    page.goto(demo.url + path)
    page.wait_for_selector(SCENE_DRAWN, timeout=30_000)


@dataclass
class Console:
    """What the page said: console errors and uncaught exceptions."""

    errors: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)

    def on_message(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"{message.text} ({message.location.get('url', '')})")
