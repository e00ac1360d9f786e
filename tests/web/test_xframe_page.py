"""The XFrame page as served (SPEC §5.3, §6.3), without a browser."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import httpx
import pytest

from tests.conftest import Server

# Rendering the page does not involve the store.
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
PATHS = ("/Autodiscover/XFrame/XFrame.html", "/xframe")


def fetch_both(srv: Server) -> str:
    bodies = []
    for path in PATHS:
        r = httpx.get(srv.base + path)
        assert r.status_code == 200, path
        assert r.headers["content-type"].startswith("text/html"), path
        assert "x-frame-options" not in r.headers, path
        assert "frame-ancestors" not in r.headers.get("content-security-policy", ""), path
        bodies.append(r.text)
    assert bodies[0] == bodies[1]
    page = bodies[0]
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.IGNORECASE), "external script"
    assert "/*ALLOWED_ORIGINS*/" not in page, "allow-list placeholder not substituted"
    return page


@sqlite_only
def test_page_served_with_configured_allow_list(make_server: Callable[..., Server]) -> None:
    origins = ["http://127.0.0.1:1234", "https://app.example"]
    srv = make_server("--allowed-origin", origins[0], "--allowed-origin", origins[1])
    page = fetch_both(srv)
    assert json.dumps(origins, separators=(",", ":")) in page


@sqlite_only
def test_page_served_with_default_allow_list(server: Server) -> None:
    page = fetch_both(server)
    assert re.search(r"ALLOWED\s*=\s*\[\]", page)
