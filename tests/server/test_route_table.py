"""The route table is ordered for speed (the event channel first); no route may shadow another."""

from __future__ import annotations

import re
from pathlib import Path

from starlette.routing import Match, Route

from openucwa.config import from_env
from openucwa.server.app import create_app


def test_every_route_is_the_first_full_match_for_its_own_paths(tmp_path: Path) -> None:
    app = create_app(from_env(data_dir=str(tmp_path)))
    routes = [r for r in app.router.routes if isinstance(r, Route)]
    assert len(routes) > 40
    assert routes[0].path.endswith("/events")
    for route in routes:
        path = re.sub(r"\{[^}]+\}", "x1", route.path)
        for method in route.methods or {"GET"}:
            scope = {"type": "http", "path": path, "method": method, "root_path": ""}
            first = next(r for r in routes if r.matches(scope)[0] == Match.FULL)
            assert first is route, (method, path, first.path)
