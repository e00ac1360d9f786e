"""People search on a large directory: p50/p99 latency of ``GET A/people/search`` over HTTP.

Seeds N users (default 100,000) straight into the store's ``users`` table in bulk, with one fixed
precomputed password hash (argon2 per user would take hours and measures nothing here) and the same
``search_key`` the store computes, then starts ``openucwa serve`` on that database, signs one user
in and runs a mix of queries one after another, reporting latency per query kind.

    .venv/bin/python bench/search.py                       # SQLite in a temporary directory
    .venv/bin/python bench/search.py --database-url postgresql://127.0.0.1:5432/bench_search
    .venv/bin/python bench/search.py --users 10000 --rounds 50
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from openucwa.actions.users import hash_password  # noqa: E402
from openucwa.core.models import User  # noqa: E402
from openucwa.store import open_store  # noqa: E402
from openucwa.store.schema import users as users_table  # noqa: E402
from openucwa.store.sql import search_key  # noqa: E402

PASSWORD = "bench-secret"
FIRST = ["Ada", "Bela", "Chen", "Dana", "Emil", "Fatima", "Goran", "Hana", "Ivo", "Jana", "Kofi", "Lena"]
LAST = ["Novak", "Smith", "Garcia", "Kowalski", "Okafor", "Tanaka", "Muller", "Rossi", "Ivanova", "Silva"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_user(i: int, pw_hash: str) -> User:
    name = f"{FIRST[i % len(FIRST)]} {LAST[(i // len(FIRST)) % len(LAST)]} {i:06d}"
    uri = f"user{i:06d}@contoso.com"
    return User(
        uri=uri, name=name, password_hash=pw_hash, email=uri, work_phone=f"+1 425 555 {i % 10000:04d}"
    )


async def seed(database_url: str | None, data_dir: str, n: int) -> float:
    """Bulk insert in chunks of 5,000 rows; returns the seconds it took."""
    store = await open_store(database_url, data_dir)
    pw_hash = hash_password(PASSWORD)  # one argon2 hash, shared by every seeded user
    started = time.perf_counter()

    def insert(conn: sa.Connection) -> None:
        conn.execute(users_table.delete().where(users_table.c.uri.like("user%@contoso.com")))
        for lo in range(0, n, 5000):
            conn.execute(
                users_table.insert(), [_row(make_user(i, pw_hash)) for i in range(lo, min(n, lo + 5000))]
            )
        conn.commit()

    try:
        await store.run_sync(insert)
    finally:
        await store.close()
    return time.perf_counter() - started


def _row(u: User) -> dict[str, object]:
    return {**dataclasses.asdict(u), "search_key": search_key(u)}


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


QUERIES = {
    # kind: a function of the round number giving the query
    "exact uri": lambda r: f"user{(r * 7919) % 100000:06d}@contoso.com",
    "name prefix": lambda r: FIRST[r % len(FIRST)].lower(),
    "substring (many hits)": lambda r: LAST[r % len(LAST)][1:4],
    "substring (rare)": lambda r: f"{(r * 31) % 100000:06d}",
    "no match": lambda r: f"zz{r}qq",
}


def run(base: str, rounds: int, limit: int) -> dict[str, list[float]]:
    headers = {"Accept": "application/json"}
    with httpx.Client(base_url=base, timeout=30) as http:
        root = http.get("/", headers=headers).json()
        user_href = root["_links"]["user"]["href"]
        challenge = http.get(user_href, headers=headers).headers["www-authenticate"]
        token_url = challenge.split('href="', 1)[1].split('"', 1)[0]
        form = {"grant_type": "password", "username": "user000001@contoso.com", "password": PASSWORD}
        token = http.post(token_url, data=form).json()["access_token"]
        headers["Authorization"] = f"Bearer {token}"
        apps = http.get(user_href, headers=headers).json()["_links"]["applications"]["href"]
        body = {"UserAgent": "bench/search", "EndpointId": "bench-search", "Culture": "en-US"}
        app = http.post(apps, headers=headers, json=body).json()
        search = app["_embedded"]["people"]["_links"]["search"]["href"]
        out: dict[str, list[float]] = {k: [] for k in QUERIES}
        for r in range(rounds):
            for kind, q in QUERIES.items():
                t0 = time.perf_counter()
                resp = http.get(search, headers=headers, params={"query": q(r), "limit": limit})
                out[kind].append((time.perf_counter() - t0) * 1000)
                assert resp.status_code == 200, resp.text
                if kind == "exact uri":
                    assert resp.json()["_embedded"]["contact"][0]["uri"] == f"sip:{q(r)}"
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--limit", type=int, default=100)
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()
    data_dir = tempfile.mkdtemp(prefix="openucwa-bench-search-")
    port = free_port()
    server: subprocess.Popen[bytes] | None = None
    try:
        took = asyncio.run(seed(args.database_url, data_dir, args.users))
        print(f"seeded {args.users} users in {took:.1f} s", flush=True)
        cmd = [str(ROOT / ".venv" / "bin" / "openucwa"), "serve", "--port", str(port), "--data-dir", data_dir]
        if args.database_url:
            cmd += ["--database-url", args.database_url]
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                httpx.get(base + "/", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        random.seed(1)
        results = run(base, args.rounds, args.limit)
        backend = "PostgreSQL" if args.database_url else "SQLite"
        print(f"\n{backend}, {args.users} users, limit={args.limit}, {args.rounds} queries per kind")
        print("| query | p50 ms | p99 ms | mean ms |")
        print("| --- | --- | --- | --- |")
        for kind, values in results.items():
            print(
                f"| {kind} | {pct(values, 50):.1f} | {pct(values, 99):.1f} | {statistics.mean(values):.1f} |"
            )
    finally:
        if server is not None:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
