"""Server CPU per request for a few plain GETs: what a request costs before any message is in it.

Starts its own server (SQLite, one process), signs in ``--connections`` users, then for each
resource keeps that many keep-alive connections asking for it back to back for ``--seconds``, and
prints requests per second and the server's CPU time per request (``/proc``). ``GET /`` needs
neither the database nor a token: it is HTTP, routing and our middleware alone. ``create-again`` is
what a client sends when it comes back after a network blip: POST the applications href with the
endpointId it used before, which answers 200 with the application it already has.

    .venv/bin/python bench/request_cost.py
    .venv/bin/python bench/request_cost.py --connections 8 --seconds 5 [--only me create-again]
    .venv/bin/python bench/request_cost.py --database-url postgresql://postgres@127.0.0.1:5432/bench_rc
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import HOST, Server, database_cpu, database_option, process_cpu, use_database
from imload import APPLICATIONS, Conn, Side, application_body, link, seed_users, sign_in


@dataclass(frozen=True)
class Ask:
    method: str
    path: Callable[[Side], str]
    body: Callable[[Side], Any] = lambda s: None
    authenticated: bool = True


def _link(side: Side, resource: str, rel: str) -> str:
    return link(side.app["_embedded"][resource], rel)


RESOURCES: dict[str, Ask] = {
    "root": Ask("GET", lambda s: "/", authenticated=False),
    "application": Ask("GET", lambda s: link(s.app, "self")),
    "me": Ask("GET", lambda s: _link(s, "me", "self")),
    "presence": Ask("GET", lambda s: _link(s, "me", "presence")),
    "groups": Ask("GET", lambda s: _link(s, "people", "myGroups")),
    "conversations": Ask("GET", lambda s: _link(s, "communication", "conversations")),
    "photo": Ask("GET", lambda s: _link(s, "me", "photo")),  # generated initials: none uploaded
    "create-again": Ask(
        "POST",
        lambda s: APPLICATIONS,
        lambda s: application_body(s.user),
    ),
}


async def _ask(conn: Conn, ask: Ask, side: Side, until: float) -> int:
    done, path, body = 0, ask.path(side), ask.body(side)
    data, ctype = (json.dumps(body).encode(), "application/json") if body is not None else (b"", None)
    while time.perf_counter() < until:
        status, _, answer = await conn.request(ask.method, path, data, ctype)
        if status != 200:
            raise RuntimeError(f"{ask.method} {path}: {status} {answer[:200]!r}")
        done += 1
    return done


async def bench(
    connections: int, seconds: float, only: list[str], database_url: str | None
) -> dict[str, dict[str, float]]:
    data_dir = tempfile.mkdtemp(prefix="request-cost-")
    server = Server(data_dir=data_dir)
    try:
        users = seed_users(data_dir, connections)
        await asyncio.to_thread(server.start)
        sides = [await sign_in(HOST, server.port, u) for u in users]
        for s in sides:  # read again once available: me now links to presence, note…
            status, _, s.app = await s.conn.json("GET", link(s.app, "self"))
            assert status == 200, s.app
        results = {}
        for name, ask in RESOURCES.items():
            if only and name not in only:
                continue
            conns = [Conn(HOST, server.port, s.conn.token if ask.authenticated else None) for s in sides]
            db0 = await database_cpu(database_url) if database_url else 0.0
            cpu0, t0 = process_cpu(server.pid), time.perf_counter()
            counts = await asyncio.gather(
                *(_ask(c, ask, s, t0 + seconds) for c, s in zip(conns, sides, strict=True))
            )
            cpu, elapsed, n = process_cpu(server.pid) - cpu0, time.perf_counter() - t0, sum(counts)
            results[name] = {
                "requests_per_s": round(n / elapsed),
                "server_cpu_us_per_request": round(cpu * 1e6 / n),
                "server_cpu_share": round(cpu / elapsed, 2),
            }
            if database_url:
                db = await database_cpu(database_url) - db0
                results[name]["database_cpu_us_per_request"] = round(db * 1e6 / n)
            for c in conns:
                c.close()
        return results
    finally:
        await asyncio.to_thread(server.stop)
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--only", nargs="*", default=[], choices=sorted(RESOURCES), help="these alone")
    database_option(ap)
    args = ap.parse_args()
    use_database(args.database_url)
    print(json.dumps(asyncio.run(bench(args.connections, args.seconds, args.only, args.database_url))))


if __name__ == "__main__":
    main()
