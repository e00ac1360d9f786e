"""One message in a conference of N participants (default 100): when does the last one have it?

Starts its own server (SQLite in a temporary directory unless ``--database-url``, an empty
PostgreSQL database), signs in N users (one application each, a P-GET always pending, raw HTTP
streams as in ``imload.py``), makes a conference: the host starts messaging with the second user,
then adds the others one by one (addParticipant, each invitee accepts). Then the host sends R
messages, one at a time once the previous one reached everybody; for each it reports the POST's
round trip and when the first, median and last of the N−1 recipients' P-GETs returned it, and the
server's CPU time for the message.

    .venv/bin/python bench/group_fanout.py
    .venv/bin/python bench/group_fanout.py --participants 100 --rounds 5 --database-url postgresql://127.0.0.1:5432/bench_group
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from typing import Any
from urllib.parse import unquote_plus

from _common import HOST, NO_QUOTAS, Server, database_option, process_cpu, use_database
from imload import Side, connect_pair, seed_users, sign_in


def text_of(ev: dict[str, Any]) -> str:
    href = ev["_embedded"]["message"]["_links"]["plainMessage"]["href"]
    return unquote_plus(href.split(",", 1)[1])


async def until_text(side: Side, text: str) -> float:
    """When ``side``'s P-GET returned the message carrying ``text`` (other events are skipped)."""
    while True:
        at, ev = await side.events.get()
        if ev["link"]["rel"] == "message" and ev.get("_embedded", {}).get("message") and text_of(ev) == text:
            return at


async def conference(sides: list[Side]) -> str:
    """Everyone in one conversation; returns the host's sendMessage href."""
    host = sides[0]
    send = await connect_pair(host, sides[1])
    mine = host.app["_embedded"]["communication"]["_links"]["self"]["href"] + "/conversations"
    _, _, listing = await host.conn.json("GET", mine)
    convs = listing["_links"]["conversation"]
    conv_href = (convs[0] if isinstance(convs, list) else convs)["href"]
    _, _, conv = await host.conn.json("GET", conv_href)
    add = conv["_links"]["addParticipant"]["href"]
    for i, guest in enumerate(sides[2:], 2):
        status, _, _ = await host.conn.json(
            "POST", add, {"to": f"sip:{guest.user}", "operationId": f"add-{i}"}
        )
        assert status == 201, status
        inv = await guest.until("messagingInvitation", "started")
        accept = inv["_embedded"]["messagingInvitation"]["_links"]["accept"]["href"]
        status, _, _ = await guest.conn.request("POST", accept)
        assert status == 204, status
        await guest.until("messagingInvitation", "completed")
    return send


async def quiet(sides: list[Side], seconds: float = 1.0) -> None:
    """Drops every event that arrives until none came for ``seconds``."""
    while True:
        await asyncio.sleep(seconds)
        dropped = 0
        for s in sides:
            while not s.events.empty():
                s.events.get_nowait()
                dropped += 1
        if not dropped:
            return


async def bench(args: argparse.Namespace) -> list[dict[str, float]]:
    own_dir = tempfile.mkdtemp(prefix="group-fanout-")
    users = seed_users(own_dir, args.participants)
    server = Server(data_dir=own_dir, env=NO_QUOTAS, nofile=4 * args.participants + 200)
    await asyncio.to_thread(server.start)
    try:
        sides = [await sign_in(HOST, server.port, u) for u in users]
        pumps = [asyncio.create_task(s.pump()) for s in sides]
        t0 = time.perf_counter()
        send = await conference(sides)
        print(f"conference of {len(sides)} set up in {time.perf_counter() - t0:.1f} s", flush=True)
        await quiet(sides)
        host, others = sides[0], sides[1:]
        rows = []
        for r in range(args.rounds):
            text = f"round {r} {time.time()}"
            waits = [asyncio.create_task(until_text(s, text)) for s in others]
            cpu0 = process_cpu(server.pid)
            t0 = time.perf_counter()
            status, _, _ = await host.conn.request("POST", send, text.encode(), "text/plain")
            post = time.perf_counter() - t0
            assert status == 201, status
            done = sorted((t - t0) * 1000 for t in await asyncio.gather(*waits))
            cpu = (process_cpu(server.pid) - cpu0) * 1000
            rows.append(
                {"post": post * 1000, "first": done[0], "median": statistics.median(done), "last": done[-1]}
            )
            rows[-1]["server_cpu"] = cpu
            print(f"round {r + 1}: " + ", ".join(f"{k} {v:.0f} ms" for k, v in rows[-1].items()), flush=True)
            await quiet(sides, 0.5)
        for p in pumps:
            p.cancel()
        return rows
    finally:
        await asyncio.to_thread(server.stop)
        shutil.rmtree(own_dir, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--participants", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    database_option(ap)
    args = ap.parse_args()
    use_database(args.database_url)
    rows = asyncio.run(bench(args))
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(f"\n{backend}, conference of {args.participants}, {args.rounds} messages (medians)")
    print("| POST message | first recipient | median | last | server CPU |")
    print("| --- | --- | --- | --- | --- |")
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    print(
        "| "
        + " | ".join(f"{med[k]:.0f} ms" for k in ("post", "first", "median", "last", "server_cpu"))
        + " |"
    )


if __name__ == "__main__":
    main()
