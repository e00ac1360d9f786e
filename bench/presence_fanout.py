"""One presence change fanned out to N watching applications (default 1,000).

Starts its own server (SQLite in a temporary directory unless ``--database-url``), creates N
applications of one watcher user, each with a presence subscription on the watched user, and
parks a P-GET on every one of them. Then the watched user changes presence R times; for each
change it reports how long the POST took (the fan-out is written in that transaction) and when
the first, median and last watcher P-GET returned the ``contactPresence`` event.

    .venv/bin/python bench/presence_fanout.py
    .venv/bin/python bench/presence_fanout.py --watchers 200 --rounds 3
    .venv/bin/python bench/presence_fanout.py --database-url postgresql://127.0.0.1:5432/bench_fanout
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from openucwa.actions.users import hash_password  # noqa: E402
from openucwa.core.models import User  # noqa: E402
from openucwa.store import open_store  # noqa: E402
from openucwa.store.interface import DuplicateError  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from _common import HOST, raise_nofile  # noqa: E402
from imload import Conn, process_cpu  # noqa: E402

PASSWORD = "bench-secret"
WATCHED = "watched@contoso.com"
WATCHER = "watcher@contoso.com"
APPLICATIONS = "/ucwa/oauth/v1/applications"
SETUP_CONCURRENCY = 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


async def seed(database_url: str | None, data_dir: str) -> None:
    store = await open_store(database_url, data_dir)
    try:
        pw = hash_password(PASSWORD)
        for uri, name in ((WATCHED, "Wanda Watched"), (WATCHER, "Walter Watcher")):
            try:
                async with store.transaction() as tx:
                    await tx.add_user(User(uri=uri, name=name, password_hash=pw, email=uri))
            except DuplicateError:
                pass
    finally:
        await store.close()


async def token(port: int, user: str) -> str:
    c = Conn(HOST, port)
    form = f"grant_type=password&username={quote(user)}&password={PASSWORD}".encode()
    ctype = "application/x-www-form-urlencoded"
    status, _, data = await c.request("POST", "/WebTicket/oauthtoken", form, ctype)
    c.close()
    assert status == 200, data
    return str(json.loads(data)["access_token"])


async def create_app(conn: Conn, endpoint: str) -> dict[str, Any]:
    body = {"UserAgent": "bench/fanout", "EndpointId": endpoint, "Culture": "en-US"}
    status, _, app = await conn.json("POST", APPLICATIONS, body)
    assert status in (200, 201), app
    return app  # type: ignore[no-any-return]


class Watcher:
    """One application with its own connection for P-GETs (a client holds one per application)."""

    def __init__(self, app: dict[str, Any], conn: Conn) -> None:
        self.app = app
        self.conn = conn
        self.next = app["_links"]["events"]["href"]

    async def poll(self) -> list[str]:
        status, _, data = await self.conn.request("GET", self.next)
        assert status == 200, data[:300]
        page = json.loads(data)
        self.next = page["_links"].get("resync", page["_links"].get("next"))["href"]
        return [e["link"]["rel"] for s in page.get("sender", []) for e in s["events"]]

    async def until(self, rel: str) -> float:
        while rel not in await self.poll():
            pass
        return time.perf_counter()


async def settle(conn: Conn, href: str) -> None:
    """Waits until a cheap GET is fast three times in a row, so that the change is not measured
    queueing behind the rounds that park the P-GETs."""
    await asyncio.sleep(0.5)
    fast = 0
    while fast < 3:
        t0 = time.perf_counter()
        await conn.request("GET", href)
        fast = fast + 1 if time.perf_counter() - t0 < 0.05 else 0
        await asyncio.sleep(0.1)


async def bench(port: int, watchers: int, rounds: int, pid: int) -> list[dict[str, float]]:
    wconn = Conn(HOST, port, await token(port, WATCHED))
    watched = await create_app(wconn, "watched-1")
    mma = watched["_embedded"]["me"]["_links"]["makeMeAvailable"]["href"]
    status, _, _ = await wconn.json("POST", mma, {"SupportedModalities": ["Messaging"]})
    assert status == 204
    presence = watched["_links"]["self"]["href"] + "/me/presence"
    otok = await token(port, WATCHER)
    controls = asyncio.Queue[Conn]()
    for _ in range(SETUP_CONCURRENCY):
        controls.put_nowait(Conn(HOST, port, otok))
    started = time.perf_counter()
    cpu0, own0 = process_cpu(pid), time.process_time()

    async def one(i: int) -> Watcher:
        conn = await controls.get()
        try:
            app = await create_app(conn, f"watcher-{i}")
            href = app["_embedded"]["people"]["_links"]["presenceSubscriptions"]["href"]
            status, _, body = await conn.json("POST", href, {"duration": 30, "uris": [f"sip:{WATCHED}"]})
            assert status == 201, body
        finally:
            controls.put_nowait(conn)
        w = Watcher(app, Conn(HOST, port, otok))
        await w.until("contactPresence")  # the initial state
        return w

    ws = await asyncio.gather(*(one(i) for i in range(watchers)))
    took, cpu, own = time.perf_counter() - started, process_cpu(pid) - cpu0, time.process_time() - own0
    print(
        f"{watchers} watcher applications subscribed in {took:.1f} s "
        f"(server CPU {cpu:.1f} s, client CPU {own:.1f} s)",
        flush=True,
    )
    out = []
    for r in range(rounds):
        tasks = [asyncio.create_task(w.until("contactPresence")) for w in ws]
        await settle(wconn, presence)  # every P-GET parked: the server is idle again
        value = ("Busy", "Online")[r % 2]
        cpu0, own0 = process_cpu(pid), time.process_time()
        t0 = time.perf_counter()
        status, _, body = await wconn.json("POST", presence, {"availability": value})
        post_ms = (time.perf_counter() - t0) * 1000
        assert status == 204, body
        done = sorted((t - t0) * 1000 for t in await asyncio.gather(*tasks))
        out.append(
            {
                "post": post_ms,
                "first": done[0],
                "median": statistics.median(done),
                "last": done[-1],
                "server_cpu": (process_cpu(pid) - cpu0) * 1000,
                "client_cpu": (time.process_time() - own0) * 1000,
            }
        )
        print(f"round {r + 1}: " + ", ".join(f"{k} {v:.0f} ms" for k, v in out[-1].items()), flush=True)
    for w in ws:
        w.conn.close()
    while not controls.empty():
        controls.get_nowait().close()
    wconn.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--watchers", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()
    data_dir = tempfile.mkdtemp(prefix="openucwa-bench-fanout-")
    port = free_port()
    server: subprocess.Popen[bytes] | None = None
    try:
        asyncio.run(seed(args.database_url, data_dir))
        raise_nofile(args.watchers + 200)  # one P-GET connection per watcher (the server is its own process)
        cmd = [sys.executable, "-m", "openucwa", "serve", "--port", str(port), "--data-dir", data_dir]
        cmd += ["--no-event-aggregation", "--log-level", "warning"]
        if args.database_url:
            cmd += ["--database-url", args.database_url]
        env = {**os.environ, "OPENUCWA_MAX_APPLICATIONS_PER_USER": str(args.watchers + 10)}
        log = open(os.path.join(tempfile.gettempdir(), "openucwa-bench-fanout.log"), "wb")
        server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                httpx.get(base + "/", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        rows = asyncio.run(bench(port, args.watchers, args.rounds, server.pid))
        backend = "PostgreSQL" if args.database_url else "SQLite"
        print(f"\n{backend}, {args.watchers} watching applications, {args.rounds} presence changes (medians)")
        heads = ("POST me/presence", "first", "median", "last watcher", "server CPU", "client CPU")
        print("| " + " | ".join(heads) + " |")
        print("| --- | --- | --- | --- | --- | --- |")
        med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
        cells = [f"{med[k]:.0f} ms" for k in ("post", "first", "median", "last", "server_cpu", "client_cpu")]
        print("| " + " | ".join(cells) + " |")
    finally:
        if server is not None:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
