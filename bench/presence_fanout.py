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

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from openucwa.actions.users import hash_password  # noqa: E402
from openucwa.core.models import User  # noqa: E402
from openucwa.store import open_store  # noqa: E402
from openucwa.store.interface import DuplicateError  # noqa: E402

PASSWORD = "bench-secret"
WATCHED = "watched@contoso.com"
WATCHER = "watcher@contoso.com"
JSON = {"Accept": "application/json"}


async def request(http: httpx.AsyncClient, method: str, url: str, **kw: Any) -> httpx.Response:
    """One request, sent again when a pooled keep-alive connection was closed under it (uvicorn
    closes idle ones after 5 s; with a thousand pooled connections that race is common)."""
    for attempt in range(3):
        try:
            return await http.request(method, url, **kw)
        except (httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError):
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
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


async def token(http: httpx.AsyncClient, user: str) -> tuple[str, str]:
    root = (await http.get("/", headers=JSON)).json()
    user_href = root["_links"]["user"]["href"]
    challenge = (await http.get(user_href, headers=JSON)).headers["www-authenticate"]
    token_url = challenge.split('href="', 1)[1].split('"', 1)[0]
    form = {"grant_type": "password", "username": user, "password": PASSWORD}
    tok = (await http.post(token_url, data=form)).json()["access_token"]
    auth = {**JSON, "Authorization": f"Bearer {tok}"}
    apps = (await http.get(user_href, headers=auth)).json()["_links"]["applications"]["href"]
    return tok, apps


async def create_app(
    http: httpx.AsyncClient, apps: str, auth: dict[str, str], endpoint: str
) -> dict[str, Any]:
    body = {"UserAgent": "bench/fanout", "EndpointId": endpoint, "Culture": "en-US"}
    r = await request(http, "POST", apps, headers=auth, json=body)
    assert r.status_code in (200, 201), r.text
    return r.json()  # type: ignore[no-any-return]


class Watcher:
    def __init__(self, app: dict[str, Any]) -> None:
        self.app = app
        self.next = app["_links"]["events"]["href"]

    async def poll(self, http: httpx.AsyncClient, auth: dict[str, str]) -> list[str]:
        r = await request(http, "GET", self.next, headers=auth, timeout=120)
        assert r.status_code == 200, r.text
        page = r.json()
        self.next = page["_links"].get("resync", page["_links"].get("next"))["href"]
        return [e["link"]["rel"] for s in page.get("sender", []) for e in s["events"]]

    async def until(self, http: httpx.AsyncClient, auth: dict[str, str], rel: str) -> float:
        while rel not in await self.poll(http, auth):
            pass
        return time.perf_counter()


async def settle(http: httpx.AsyncClient, href: str, auth: dict[str, str]) -> None:
    """Waits until a cheap GET is fast three times in a row, so that the change is not measured
    queueing behind the rounds that park the P-GETs (SQLite runs one transaction at a time)."""
    await asyncio.sleep(0.5)
    fast = 0
    while fast < 3:
        t0 = time.perf_counter()
        await request(http, "GET", href, headers=auth)
        fast = fast + 1 if time.perf_counter() - t0 < 0.05 else 0
        await asyncio.sleep(0.1)


async def bench(base: str, watchers: int, rounds: int) -> list[dict[str, float]]:
    limits = httpx.Limits(max_connections=watchers + 50, max_keepalive_connections=watchers + 50)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:
        wtok, wapps = await token(http, WATCHED)
        wauth = {**JSON, "Authorization": f"Bearer {wtok}"}
        watched = await create_app(http, wapps, wauth, "watched-1")
        mma = watched["_embedded"]["me"]["_links"]["makeMeAvailable"]["href"]
        assert (
            await http.post(mma, headers=wauth, json={"SupportedModalities": ["Messaging"]})
        ).status_code == 204
        presence = watched["_links"]["self"]["href"] + "/me/presence"
        otok, oapps = await token(http, WATCHER)
        oauth = {**JSON, "Authorization": f"Bearer {otok}"}
        gate = asyncio.Semaphore(20)
        started = time.perf_counter()

        async def one(i: int) -> Watcher:
            async with gate:
                app = await create_app(http, oapps, oauth, f"watcher-{i}")
                href = app["_embedded"]["people"]["_links"]["presenceSubscriptions"]["href"]
                body = {"duration": 30, "uris": [f"sip:{WATCHED}"]}
                r = await request(http, "POST", href, headers=oauth, json=body)
                assert r.status_code == 201, r.text
                w = Watcher(app)
                await w.until(http, oauth, "contactPresence")  # the initial state
                return w

        ws = await asyncio.gather(*(one(i) for i in range(watchers)))
        print(
            f"{watchers} watcher applications subscribed in {time.perf_counter() - started:.1f} s", flush=True
        )
        out = []
        for r in range(rounds):
            tasks = [asyncio.create_task(w.until(http, oauth, "contactPresence")) for w in ws]
            await settle(http, presence, wauth)  # every P-GET parked: the server is idle again
            value = ("Busy", "Online")[r % 2]
            t0 = time.perf_counter()
            resp = await request(http, "POST", presence, headers=wauth, json={"availability": value})
            post_ms = (time.perf_counter() - t0) * 1000
            assert resp.status_code == 204, resp.text
            done = sorted((t - t0) * 1000 for t in await asyncio.gather(*tasks))
            out.append(
                {
                    "post": post_ms,
                    "first": done[0],
                    "median": statistics.median(done),
                    "last": done[-1],
                }
            )
            print(f"round {r + 1}: " + ", ".join(f"{k} {v:.0f} ms" for k, v in out[-1].items()), flush=True)
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
        cmd = [str(ROOT / ".venv" / "bin" / "openucwa"), "serve", "--port", str(port), "--data-dir", data_dir]
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
        rows = asyncio.run(bench(base, args.watchers, args.rounds))
        backend = "PostgreSQL" if args.database_url else "SQLite"
        print(f"\n{backend}, {args.watchers} watching applications, {args.rounds} presence changes (medians)")
        print("| POST me/presence | first watcher | median watcher | last watcher |")
        print("| --- | --- | --- | --- |")
        med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
        cells = [f"{med[k]:.0f} ms" for k in ("post", "first", "median", "last")]
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
