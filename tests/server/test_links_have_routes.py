"""Every href core/links.py can make is served by a route, so a link and its route cannot drift."""

from __future__ import annotations

import inspect
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from starlette.routing import Match, Route

from openucwa.config import Settings
from openucwa.core.links import AppLinks, ConvLinks, Discovery
from openucwa.server.app import create_app

# Not resources of their own: a base and a path prefix.
NOT_ROUTES = {"base", "photos_path"}
ARGS = {"user": "lenea@contoso.com", "n": 3, "ack": 2, "inv_id": "0f6c", "query": "?x=1"}


def _hrefs() -> list[tuple[str, str]]:
    out = []
    for maker in (Discovery("http://openucwa.test"), AppLinks("123"), ConvLinks("123", "c1")):
        for name, fn in inspect.getmembers(maker, inspect.ismethod):
            if name.startswith("_") or name in NOT_ROUTES:
                continue
            kwargs = {p: ARGS[p] for p in inspect.signature(fn).parameters}
            out.append((f"{type(maker).__name__}.{name}", fn(**kwargs)))
    return out


@pytest.mark.parametrize(("name", "href"), _hrefs(), ids=lambda x: x if "." in x else "")
def test_link_is_routed(name: str, href: str, tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=str(tmp_path)))
    path = urlsplit(href).path.lower()  # routes are declared on the case-folded path
    scope = {"type": "http", "path": path, "method": "GET", "root_path": ""}
    matches = [r for r in app.router.routes if isinstance(r, Route) and r.matches(scope)[0] != Match.NONE]
    assert matches, f"{name} makes {href}, which no route serves"
