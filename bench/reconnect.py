"""A burst of clients coming back at once: a network blip, a proxy restart, every browser tab reloaded.

Each client holds a token and knows its endpoint. When it comes back it does what a client does at
start with a token it already has (as the browser client and the deployed library do, links
followed from the answers): POST the applications href with its endpointId (200: the application
it already had), POST makeMeAvailable if the answer still offers it, GET the application, GET
me/presence, GET myGroups, GET conversations, then its P-GET at the channel's next href (its last
ack).

Steps (every wait bounded; the server is stopped on every path):

1. start a server (SQLite, or ``--database-url``), seed N users, sign each in once with its
   password, create its application, make it available and park its P-GET;
2. the blip: every connection closes; wait until the server holds no P-GET (``/metrics``). With
   ``--restart`` the server process is stopped and started again instead (an upgrade, a crash):
   the clients come back to cold caches (tokens, applications, SQLite's pages);
3. all N clients at once, each on new connections, run the sequence above;
4. wait until the server holds N P-GETs again.

It reports the time until all N were held again, each client's time to its P-GET (p50, p99), and
the server's CPU per client coming back (and the database's, on PostgreSQL).

    .venv/bin/python bench/reconnect.py [--clients 500] [--restart] [--database-url postgresql://…]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import HOST, Server, database_cpu, database_option, process_cpu, use_database
from imload import APPLICATIONS, Conn, Side, application_body, link, pct, seed_users, sign_in


async def held(port: int) -> int:
    """``openucwa_pgets_held`` from ``/metrics`` (served to loopback clients)."""
    conn = Conn(HOST, port)
    try:
        status, _, data = await conn.request("GET", "/metrics")
    finally:
        conn.close()
    if status != 200:
        raise RuntimeError(f"/metrics: {status} {data[:200]!r}")
    for line in data.decode().splitlines():
        if line.startswith("openucwa_pgets_held "):
            return int(float(line.split()[1]))
    raise RuntimeError("/metrics has no openucwa_pgets_held")


async def wait_held(port: int, wanted: int, limit: float) -> float:
    """Seconds until the server holds ``wanted`` P-GETs (raises past ``limit``)."""
    t0 = time.perf_counter()
    while (n := await held(port)) != wanted:
        if time.perf_counter() - t0 > limit:
            raise RuntimeError(f"{n} P-GETs held after {limit:.0f} s, {wanted} wanted")
        await asyncio.sleep(0.02)
    return time.perf_counter() - t0


def park(side: Side) -> asyncio.Task[Any]:
    """The P-GET at the channel's next href, pending until answered or its connection closes."""
    return asyncio.ensure_future(side.poll.request("GET", side.next_href))


async def come_back(side: Side, port: int, t0: float) -> tuple[float, asyncio.Task[Any]]:
    """The start of a client that holds a token: seconds from the burst's start to its P-GET, and
    that P-GET."""
    side.conn.close()
    side.conn, side.poll = Conn(HOST, port, side.conn.token), Conn(HOST, port, side.conn.token)
    status, _, app = await side.conn.json("POST", APPLICATIONS, application_body(side.user))
    if status != 200 or link(app, "self") != link(side.app, "self"):
        raise RuntimeError(f"coming back: {status}, not the same application")
    if "makeMeAvailable" in app["_embedded"]["me"]["_links"]:  # offered only while unavailable
        status, _, _ = await side.conn.json("POST", link(app["_embedded"]["me"], "makeMeAvailable"), {})
        if status not in (200, 204):
            raise RuntimeError(f"makeMeAvailable: {status}")
    status, _, app = await side.conn.json("GET", link(app, "self"))
    assert status == 200, app
    for resource, rel in (("me", "presence"), ("people", "myGroups"), ("communication", "conversations")):
        status, _, data = await side.conn.request("GET", link(app["_embedded"][resource], rel))
        if status != 200:
            raise RuntimeError(f"GET {rel}: {status} {data[:200]!r}")
    side.app = app
    return time.perf_counter() - t0, park(side)


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    data_dir = tempfile.mkdtemp(prefix="reconnect-")
    server = Server(data_dir=data_dir, nofile=4 * args.clients + 1024)
    try:
        users = seed_users(data_dir, args.clients)
        await asyncio.to_thread(server.start)
        sem = asyncio.Semaphore(16)  # sign-in checks passwords: a few at a time

        async def first(user: str) -> Side:
            async with sem:
                side = await sign_in(HOST, server.port, user)
            status, _, data = await side.poll.request("GET", link(side.app, "events"))
            assert status == 200, data
            side.next_href = json.loads(data)["_links"]["next"]["href"]
            return side

        t0 = time.perf_counter()
        sides = list(await asyncio.gather(*(first(u) for u in users)))
        setup = time.perf_counter() - t0
        parked = [park(s) for s in sides]
        await wait_held(server.port, args.clients, 60)
        for task in parked:  # the client side stops waiting; the sockets stay open until the blip
            task.cancel()
        await asyncio.gather(*parked, return_exceptions=True)
        t0 = time.perf_counter()
        if args.restart:
            await asyncio.to_thread(server.stop)
            await asyncio.to_thread(server.start)
        for s in sides:  # the blip
            s.conn.close()
            s.poll.close()
        await wait_held(server.port, 0, 60)
        freed = time.perf_counter() - t0
        await asyncio.sleep(1.0)  # let the freeing settle before measuring CPU
        print(f"{args.clients} clients coming back…", file=sys.stderr, flush=True)
        db0 = await database_cpu(args.database_url) if args.database_url else 0.0
        cpu0, t0 = process_cpu(server.pid), time.perf_counter()
        back = await asyncio.gather(*(come_back(s, server.port, t0) for s in sides))
        each = [seconds for seconds, _ in back]
        all_held = time.perf_counter() - t0 + await wait_held(server.port, args.clients, 120)
        cpu = process_cpu(server.pid) - cpu0
        result: dict[str, Any] = {
            "clients": args.clients,
            "setup_s": round(setup, 1),
            "restart": args.restart,
            ("restarted_in_s" if args.restart else "freed_after_blip_s"): round(freed, 2),
            "all_held_again_s": round(all_held, 2),
            "client_p50_ms": round(pct(each, 50), 1),
            "client_p99_ms": round(pct(each, 99), 1),
            "server_cpu_ms_per_client": round(cpu * 1000 / args.clients, 2),
        }
        if args.database_url:
            db = await database_cpu(args.database_url) - db0
            result["database_cpu_ms_per_client"] = round(db * 1000 / args.clients, 2)
        for _, task in back:
            task.cancel()
        await asyncio.gather(*(task for _, task in back), return_exceptions=True)
        for s in sides:
            s.conn.close()
            s.poll.close()
        return result
    finally:
        await asyncio.to_thread(server.stop)
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=500)
    ap.add_argument("--restart", action="store_true", help="restart the server instead of a blip")
    database_option(ap)
    args = ap.parse_args()
    use_database(args.database_url)
    print(json.dumps(asyncio.run(bench(args))))


if __name__ == "__main__":
    main()
