"""The page's files as the server hands them out, without a browser: ``/`` leads to the
page, and every script, stylesheet and library the page names is there (set-up installed
the libraries)."""

from __future__ import annotations

import re

from starlette.applications import Starlette
from starlette.testclient import TestClient

from twinsight import ui


def _client() -> TestClient:
    app = Starlette()
    ui.mount(app)
    return TestClient(app)


def test_the_root_leads_to_the_page() -> None:
    answer = _client().get("/", follow_redirects=False)
    assert answer.status_code == 307
    assert answer.headers["location"] == "/ui/"


def test_every_file_the_page_names_is_served() -> None:
    assert ui.missing_vendor_files() == []
    client = _client()
    page = client.get("/ui/")
    assert page.status_code == 200
    assert '<script type="importmap">' in page.text
    named = re.findall(r'(?:href|src)="((?:js|vendor)/[^"]+|style\.css)"', page.text)
    named += re.findall(r'"\./(vendor/[^"]+\.js)"', page.text)  # the import map's targets
    assert "js/main.js" in named and "vendor/three/three.module.js" in named
    for name in named:
        assert client.get(f"/ui/{name}").status_code == 200, name
    modules = sorted(p.name for p in (ui.STATIC_DIR / "js").glob("*.js"))
    preloaded = sorted(n.removeprefix("js/") for n in named if n.startswith("js/"))
    assert sorted(set(preloaded)) == modules  # every module is preloaded, none is missing
