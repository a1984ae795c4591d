"""Web page load time: from navigation to the 3D scene's first drawn frame, with the demo
running.

Starts ``twinsight demo`` on free ports (its own data folder and embedded broker, the
simulated plant publishing), waits until history holds some readings, then opens the page
in Debian's headless Chromium (software WebGL, SwiftShader) through Playwright, ``--loads``
times, each in a fresh browser context (empty cache and storage, as a first visit). A
load's figure is the page's performance mark ``twinsight:scene-drawn``: the time from the
start of navigation until the first frame with every machine is drawn, which needs the page,
its libraries, the models, the twin graph and the first render. One unmeasured load first
starts the browser. The goal is under 2 s.

Usage (from the repository root): ``python bench/web.py [--quick] [--loads N] [--lines N]``
(quick: 3 loads; ``--lines`` is passed to the demo: how many production lines the plant
has). The last line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "web"))

from harness import SCENE_DRAWN, VIEWPORT, launch_chromium, running_demo

GOAL_MS = 2000.0
WARM_UP_READINGS = 3
"""Readings of one series to wait for, so the panel-less first view has state to colour."""


def load_once(browser: Browser, url: str) -> dict[str, Any]:
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    page.wait_for_selector(SCENE_DRAWN, timeout=30_000)
    timing: dict[str, Any] = page.evaluate(
        """() => {
            const nav = performance.getEntriesByType("navigation")[0];
            const drawn = performance.getEntriesByName("twinsight:scene-drawn")[0];
            const bytes = performance.getEntriesByType("resource")
                .reduce((sum, r) => sum + (r.decodedBodySize || 0), nav.decodedBodySize || 0);
            return {scene_ms: drawn.startTime, dom_ms: nav.domContentLoadedEventEnd, bytes};
        }"""
    )
    context.close()
    if errors:
        raise RuntimeError(f"the page raised: {errors}")
    return timing


def wait_for_readings(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        series = httpx.get(f"{url}/history/series", params={"kind": "telemetry"}).json()["value"]
        if series and max(s["count"] for s in series) >= WARM_UP_READINGS:
            return
        time.sleep(0.5)
    raise RuntimeError("the simulated plant published no readings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 loads")
    parser.add_argument("--loads", type=int, default=10, help="measured loads (default 10)")
    parser.add_argument("--lines", type=int, help="production lines of the demo's plant")
    args = parser.parse_args()
    loads = 3 if args.quick else args.loads

    extra = ("--lines", str(args.lines)) if args.lines else ()
    with tempfile.TemporaryDirectory() as folder, running_demo(Path(folder), *extra) as demo:
        print(f"demo on {demo.url}; waiting for readings", file=sys.stderr)
        wait_for_readings(demo.url)
        twins = httpx.get(f"{demo.url}/health").json()["twins"]
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            version = browser.version
            load_once(browser, demo.url + "/")  # starts the browser's processes
            runs = []
            for n in range(loads):
                run = load_once(browser, demo.url + "/")
                runs.append(run)
                print(
                    f"  load {n + 1}: scene drawn {run['scene_ms']:.0f} ms "
                    f"(DOM ready {run['dom_ms']:.0f} ms, {run['bytes'] / 1e6:.2f} MB)",
                    file=sys.stderr,
                )
            browser.close()

    scene = [r["scene_ms"] for r in runs]
    median = statistics.median(scene)
    figures = {
        "benchmark": "web",
        "quick": args.quick,
        "loads": loads,
        "twins": twins,
        "scene_drawn_median_ms": round(median),
        "scene_drawn_min_ms": round(min(scene)),
        "scene_drawn_max_ms": round(max(scene)),
        "scene_drawn_runs_ms": [round(s) for s in scene],
        "dom_ready_median_ms": round(statistics.median(r["dom_ms"] for r in runs)),
        "transferred_mb": round(runs[-1]["bytes"] / 1e6, 2),
        "goal_ms": GOAL_MS,
        "met": median < GOAL_MS,
        "browser": f"chromium {version} headless, software WebGL (SwiftShader)",
        "viewport": f"{VIEWPORT['width']}x{VIEWPORT['height']}",
        "cores": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
