"""Instant-message load: send-to-delivery latency and delivered messages per second.

Starts its own server (SQLite in a temporary directory, one process), signs in P pairs of users,
connects each pair with startMessaging/accept, then each sender sends messages one after another
while both sides keep their event channels polled. Every message carries a unique id; the
recipient's channel must show each exactly once.

The load client speaks HTTP/1.1 over raw asyncio streams (keep-alive, Content-Length bodies) so
that the client, which shares the 2-core machine with the server, costs as little as possible.

    .venv/bin/python bench/imload.py --pairs 1 --messages 500
    .venv/bin/python bench/imload.py --pairs 8 --seconds 10
    .venv/bin/python bench/imload.py --pairs 1 --seconds 20 --gap      # idle server: 50 ms between
    .venv/bin/python bench/imload.py --pairs 8 --database-url postgresql://127.0.0.1:5432/bench_im

With ``--database-url`` every process it starts (seeding, ``openucwa demo``, the server) uses that
database (``OPENUCWA_DATABASE_URL``); give it an empty one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote_plus

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import HOST, NO_QUOTAS, Server, database_cpu, database_option, process_cpu, use_database

PASSWORD = "bench-secret"


class Conn:
    """One keep-alive HTTP/1.1 connection; one request at a time."""

    def __init__(self, host: str, port: int, token: str | None = None) -> None:
        self.host, self.port, self.token = host, port, token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: bytes = b"", ctype: str | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        try:
            return await self._request(method, path, body, ctype)
        except (ConnectionError, EOFError):
            # The server closed a keep-alive connection that sat idle (its keep-alive timeout)
            # before reading this request: open a new one and send it again.
            self.close()
            return await self._request(method, path, body, ctype)

    async def _request(
        self, method: str, path: str, body: bytes, ctype: str | None
    ) -> tuple[int, dict[str, str], bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", "Accept: application/json"]
        if self.token:
            head.append(f"Authorization: Bearer {self.token}")
        if ctype:
            head.append(f"Content-Type: {ctype}")
        head.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        assert self.reader is not None
        status_line = await self.reader.readline()
        if not status_line:
            raise EOFError("connection closed by the server")
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            k, _, v = line.decode().partition(":")
            headers[k.strip().lower()] = v.strip()
        length = int(headers.get("content-length", "0"))
        data = await self.reader.readexactly(length) if length else b""
        return status, headers, data

    async def json(self, method: str, path: str, obj: Any = None) -> tuple[int, dict[str, str], Any]:
        body = json.dumps(obj).encode() if obj is not None else b""
        status, headers, data = await self.request(method, path, body, "application/json" if body else None)
        return status, headers, (json.loads(data) if data else None)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


@dataclass
class Side:
    user: str
    conn: Conn
    poll: Conn
    app: dict[str, Any] = field(default_factory=dict)
    next_href: str = ""
    events: asyncio.Queue[tuple[float, dict[str, Any]]] = field(default_factory=asyncio.Queue)

    async def pump(self) -> None:
        """Keeps a P-GET pending and hands every event to the queue with its arrival time."""
        while True:
            status, _, data = await self.poll.request("GET", self.next_href)
            now = time.perf_counter()
            if status != 200:
                raise RuntimeError(f"P-GET {status}: {data[:200]!r}")
            page = json.loads(data)
            links = page["_links"]
            self.next_href = links.get("resync", links.get("next"))["href"]
            for block in page.get("sender", []):
                for ev in block["events"]:
                    self.events.put_nowait((now, ev))

    async def until(self, rel: str, type_: str) -> dict[str, Any]:
        while True:
            _, ev = await self.events.get()
            if ev["link"]["rel"] == rel and ev["type"] == type_:
                return ev


def seed_users(data_dir: str, n: int) -> list[str]:
    users = [f"bench{i:03d}@contoso.com" for i in range(n)]
    code = (
        "import asyncio,sys\n"
        "from openucwa.cli import services\n"
        "from openucwa.actions import users\n"
        "async def main():\n"
        f"  async with services({data_dir!r}, None) as svc:\n"
        f"    for u in {users!r}:\n"
        f"      await users.add_user(svc, u, u.split('@')[0].title(), {PASSWORD!r})\n"
        "asyncio.run(main())\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    return users


APPLICATIONS = "/ucwa/oauth/v1/applications"  # an entry point: every other href comes from links


def application_body(user: str) -> dict[str, str]:
    """What the load's clients POST to the applications href; the same again when they come back."""
    return {"userAgent": "imload", "endpointId": user, "culture": "en-US"}


def link(resource: dict[str, Any], rel: str) -> str:
    return str(resource["_links"][rel]["href"])


async def sign_in(host: str, port: int, user: str) -> Side:
    c = Conn(host, port)
    form = f"grant_type=password&username={quote(user)}&password={PASSWORD}".encode()
    ctype = "application/x-www-form-urlencoded"
    status, _, data = await c.request("POST", "/WebTicket/oauthtoken", form, ctype)
    assert status == 200, data
    token = json.loads(data)["access_token"]
    conn, poll = Conn(host, port, token), Conn(host, port, token)
    status, _, app = await conn.json("POST", APPLICATIONS, application_body(user))
    assert status in (200, 201), app
    side = Side(user, conn, poll, app, app["_links"]["events"]["href"])
    status, _, _ = await conn.json("POST", app["_embedded"]["me"]["_links"]["makeMeAvailable"]["href"], {})
    assert status == 204
    c.close()
    return side


async def connect_pair(a: Side, b: Side) -> str:
    start = a.app["_embedded"]["communication"]["_links"]["startMessaging"]["href"]
    status, _, _ = await a.conn.json("POST", start, {"to": f"sip:{b.user}", "subject": "load"})
    assert status == 201
    inv = await b.until("messagingInvitation", "started")
    accept = inv["_embedded"]["messagingInvitation"]["_links"]["accept"]["href"]
    status, _, _ = await b.conn.request("POST", accept)
    assert status == 204
    while True:
        ev = await a.until("messaging", "updated")
        links = ev["_embedded"]["messaging"]["_links"]
        if "sendMessage" in links:
            return str(links["sendMessage"]["href"])


async def run_pair(
    a: Side,
    b: Side,
    send: str,
    count: int | None,
    until: float,
    lat: list[float],
    posts: list[float],
    gap: float = 0.0,
) -> tuple[int, int]:
    """Sends one message at a time (``gap`` seconds after the last one arrived); returns (sent,
    delivered exactly once)."""
    seen: set[str] = set()
    duplicates = 0
    sent = 0
    while (count is None or sent < count) and time.perf_counter() < until:
        if gap and sent:
            await asyncio.sleep(gap)
        mid = f"{a.user}-{sent}"
        t0 = time.perf_counter()
        status, _, _ = await a.conn.request("POST", send, mid.encode(), "text/plain")
        posts.append(time.perf_counter() - t0)
        assert status == 201
        sent += 1
        while True:
            t1, ev = await b.events.get()
            if ev["link"]["rel"] != "message":
                continue
            text = unquote_plus(ev["_embedded"]["message"]["_links"]["plainMessage"]["href"].split(",", 1)[1])
            if text in seen:
                duplicates += 1
                continue
            seen.add(text)
            if text == mid:
                lat.append(t1 - t0)
                break
    # drain the sender's delivery confirmations so they do not pile up
    while not a.events.empty():
        a.events.get_nowait()
    return sent, len(seen) - duplicates


async def idle_floor(port: int, gap: float, rounds: int = 100) -> list[float]:
    """Round trips of the cheapest request, each after ``gap`` seconds of quiet: what waking an idle
    server and client costs on this machine, before any of a message's work."""
    conn = Conn(HOST, port)
    out = []
    try:
        for _ in range(rounds):
            await asyncio.sleep(gap)
            t0 = time.perf_counter()
            status, _, _ = await conn.request("GET", "/")
            out.append(time.perf_counter() - t0)
            assert status == 200
    finally:
        conn.close()
    return out


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))] * 1000


def _placement(pairs: int, nodes: int, how: str) -> list[int]:
    """The node of each side, sender then recipient, pair by pair. ``mixed``: pair i's sender on
    node i % N and its recipient on (i + i // N) % N, so that with two nodes half the pairs talk
    across nodes and half within one; ``within``: both on node i % N; ``across``: the recipient
    on the next node."""
    offset = {"mixed": lambda i: i // nodes, "within": lambda i: 0, "across": lambda i: 1}[how]
    return [node for i in range(pairs) for node in (i % nodes, (i + offset(i)) % nodes)]


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    own_dir = None if args.data_dir else tempfile.mkdtemp(prefix="imload-")
    data_dir = args.data_dir or own_dir
    users = seed_users(data_dir, 2 * args.pairs)
    servers: list[Server] = []
    try:
        if not args.port:  # otherwise: attach to a server already serving that data dir (profiling)
            for n in range(args.nodes):
                # Nodes share the database and Redis; each has its own directory for its log.
                node_dir = data_dir if n == 0 else tempfile.mkdtemp(prefix=f"imload-node{n}-")
                extra = [*args.server_args, *(["--redis-url", args.redis_url] if args.nodes > 1 else [])]
                servers.append(Server(data_dir=node_dir, extra_args=extra, env=NO_QUOTAS))
            for s in servers:  # one at a time: the first one's `openucwa demo` creates the schema
                await asyncio.to_thread(s.start)
        ports = [s.port for s in servers] if servers else [args.port]
        pids = [s.pid for s in servers] if servers else ([args.server_pid] if args.server_pid else [])
        placement = _placement(args.pairs, len(ports), args.placement)
        sides = [await sign_in(HOST, ports[node], u) for u, node in zip(users, placement, strict=True)]
        pumps = [asyncio.create_task(s.pump()) for s in sides]
        pairs = [(sides[2 * i], sides[2 * i + 1]) for i in range(args.pairs)]
        sends = [await connect_pair(a, b) for a, b in pairs]
        for s in sides:  # forget set-up events
            while not s.events.empty():
                s.events.get_nowait()
        lats: list[list[float]] = [[] for _ in pairs]
        posts: list[float] = []
        gap = args.gap / 1000
        floor = await idle_floor(ports[0], gap) if gap else []
        cpu0 = [process_cpu(pid) for pid in pids]
        db0 = await database_cpu(args.database_url) if args.database_url else None
        t0 = time.perf_counter()
        until = t0 + (args.seconds if args.messages is None else 3600)
        runs = [
            run_pair(a, b, send, args.messages, until, lat, posts, gap)
            for (a, b), send, lat in zip(pairs, sends, lats, strict=True)
        ]
        results = await asyncio.gather(*runs)
        elapsed = time.perf_counter() - t0
        cpus = [process_cpu(pid) - c0 for pid, c0 in zip(pids, cpu0, strict=True)]
        db = None if db0 is None else await database_cpu(args.database_url) - db0
        for p in pumps:
            p.cancel()
        sent = sum(r[0] for r in results)
        delivered = sum(r[1] for r in results)
        lat = [x for pair in lats for x in pair]
        across = [x for i, pair in enumerate(lats) if placement[2 * i] != placement[2 * i + 1] for x in pair]
        cpu = sum(cpus) if cpus else None
        return {
            "pairs": args.pairs,
            "sent": sent,
            "delivered_once": delivered,
            "seconds": round(elapsed, 2),
            "msgs_per_s": round(delivered / elapsed, 1),
            "p50_ms": round(pct(lat, 50), 2),
            "p90_ms": round(pct(lat, 90), 2),
            "p99_ms": round(pct(lat, 99), 2),
            "mean_ms": round(statistics.mean(lat) * 1000, 2),
            # the sender's own wait: POST …/messages until its 201
            "post_p50_ms": round(pct(posts, 50), 2),
            "post_p99_ms": round(pct(posts, 99), 2),
            **({"gap_ms": args.gap} if args.gap else {}),
            # the machine's own floor: `GET /` (no database, no auth) after the same gap
            **({"idle_get_root_p50_ms": round(pct(floor, 50), 2)} if floor else {}),
            # the server's CPU time per delivered message: what throughput one core could reach
            **(
                {}
                if cpu is None
                else {
                    "server_cpu_share": round(cpu / elapsed, 2),
                    "server_cpu_ms_per_msg": round(cpu * 1000 / max(1, delivered), 3),
                }
            ),
            # with several nodes: each one's CPU per delivered message, and the pairs across nodes
            **(
                {}
                if len(cpus) < 2
                else {
                    "nodes": len(cpus),
                    "node_cpu_ms_per_msg": [round(c * 1000 / max(1, delivered), 3) for c in cpus],
                    "across_nodes_p50_ms": round(pct(across, 50), 2) if across else None,
                    "across_nodes_p99_ms": round(pct(across, 99), 2) if across else None,
                }
            ),
            # PostgreSQL's own backends: the database's share of the work
            **({} if db is None else {"database_cpu_ms_per_msg": round(db * 1000 / max(1, delivered), 3)}),
        }
    finally:
        await asyncio.gather(*(asyncio.to_thread(s.stop) for s in servers))
        for s in servers[1:]:
            shutil.rmtree(s.data_dir or "", ignore_errors=True)
        if own_dir is not None:
            shutil.rmtree(own_dir, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=int, default=1)
    ap.add_argument("--messages", type=int, default=None, help="per pair (default: run for --seconds)")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument(
        "--gap",
        type=float,
        nargs="?",
        const=50.0,
        default=0.0,
        help="milliseconds a pair waits after each delivery before sending again (alone: 50), as "
        "people type; default 0, back to back",
    )
    ap.add_argument("--server-args", nargs="*", default=[])
    ap.add_argument("--port", type=int, default=None, help="use a running server on this port")
    ap.add_argument("--data-dir", default=None, help="its data dir (users are added there)")
    ap.add_argument("--server-pid", type=int, default=None, help="its pid, to report its CPU time")
    database_option(ap)
    ap.add_argument(
        "--nodes",
        type=int,
        default=1,
        help="server processes sharing --database-url and --redis-url; users spread over them",
    )
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="with --nodes > 1")
    ap.add_argument(
        "--placement",
        choices=("mixed", "within", "across"),
        default="mixed",
        help="with --nodes > 1: half the pairs across nodes (mixed), none (within), or all (across)",
    )
    args = ap.parse_args()
    if args.nodes > 1 and not args.database_url:
        ap.error("--nodes > 1 needs --database-url: nodes share a PostgreSQL database")
    use_database(args.database_url)
    result = asyncio.run(bench(args))
    print(json.dumps(result))
    ok = result["sent"] == result["delivered_once"]
    print("exactly once:", "PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
