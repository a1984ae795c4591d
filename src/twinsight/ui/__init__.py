"""The web page: static files served beside the API, and a client of the public API only.

The page (``static/``) talks to the platform through the same HTTP and WebSocket routes any
client uses; this module only tells the app where the files are. Its browser libraries
(three.js, uPlot) come from the npm registry at set-up (``package.json``, pinned by
``package-lock.json``) and are copied into ``static/vendor/`` by ``scripts/setup.sh``, so
the page works without internet access.
"""

from __future__ import annotations

import logging
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"
VENDOR_DIR = STATIC_DIR / "vendor"
PREFIX = "/ui"
REQUIRED_VENDOR_FILES = (
    "three/three.module.js",
    "three/three.core.js",
    "three/addons/controls/OrbitControls.js",
    "uplot/uPlot.esm.js",
    "uplot/uPlot.min.css",
)

log = logging.getLogger("twinsight.ui")


def missing_vendor_files() -> list[str]:
    """The browser libraries set-up has not installed yet (the page cannot draw without
    them, so the server says so at start rather than the browser failing quietly)."""
    return [name for name in REQUIRED_VENDOR_FILES if not (VENDOR_DIR / name).is_file()]


def mount(app: Starlette) -> None:
    """Serve the page at ``/ui/`` and send ``/`` there."""
    missing = missing_vendor_files()
    if missing:
        log.warning(
            "the web page's libraries are missing (%s): run scripts/setup.sh", ", ".join(missing)
        )

    async def home(request: Request) -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/", status_code=307)

    app.add_route("/", home, methods=["GET"], include_in_schema=False)
    app.mount(PREFIX, StaticFiles(directory=STATIC_DIR, html=True), name="ui")
