"""Server CPU per request for a few plain GETs: what a request costs before any message is in it.

Starts its own server (SQLite, one process), signs in ``--connections`` users, then for each
resource keeps that many keep-alive connections asking for it back to back for ``--seconds``, and
prints requests per second and the server's CPU time per request (``/proc``). ``GET /`` needs
neither the database nor a token: it is HTTP, routing and our middleware alone.

    .venv/bin/python bench/request_cost.py
    .venv/bin/python bench/request_cost.py --connections 8 --seconds 5
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import HOST, Server, process_cpu
from imload import Conn, Side, seed_users, sign_in

RESOURCES: dict[str, tuple[Callable[[Side], str], bool]] = {
    "root": (lambda s: "/", False),
    "application": (lambda s: str(s.app["_links"]["self"]["href"]), True),
    "me": (lambda s: str(s.app["_embedded"]["me"]["_links"]["self"]["href"]), True),
}


async def _ask(conn: Conn, path: str, until: float) -> int:
    done = 0
    while time.perf_counter() < until:
        status, _, data = await conn.request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {data[:200]!r}")
        done += 1
    return done


async def bench(connections: int, seconds: float) -> dict[str, dict[str, float]]:
    data_dir = tempfile.mkdtemp(prefix="request-cost-")
    server = Server(data_dir=data_dir)
    try:
        users = seed_users(data_dir, connections)
        await asyncio.to_thread(server.start)
        sides = [await sign_in(HOST, server.port, u) for u in users]
        results = {}
        for name, (path_of, authenticated) in RESOURCES.items():
            conns = [Conn(HOST, server.port, s.conn.token if authenticated else None) for s in sides]
            cpu0, t0 = process_cpu(server.pid), time.perf_counter()
            counts = await asyncio.gather(
                *(_ask(c, path_of(s), t0 + seconds) for c, s in zip(conns, sides, strict=True))
            )
            cpu, elapsed, n = process_cpu(server.pid) - cpu0, time.perf_counter() - t0, sum(counts)
            results[name] = {
                "requests_per_s": round(n / elapsed),
                "server_cpu_us_per_request": round(cpu * 1e6 / n),
                "server_cpu_share": round(cpu / elapsed, 2),
            }
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
    args = ap.parse_args()
    print(json.dumps(asyncio.run(bench(args.connections, args.seconds))))


if __name__ == "__main__":
    main()
