"""What one HTTP exchange costs the server before our code runs: the floor under #14's CPU target.

Starts uvicorn as the server runs it (uvloop, httptools, no access log) with a bare ASGI app that
answers every request with a small JSON body, keeps ``--connections`` keep-alive connections asking
back to back for ``--seconds``, and prints requests per second and the server's CPU per request
(``/proc``); then the same for our server's ``GET /`` (``request_cost.py --only root``), which adds
Starlette, routing and our middleware but no database. A delivered message is five exchanges (the
send, each side's P-GET answer and each side's P-GET coming back), so five times the bare figure is
what a message costs in HTTP alone, whatever the store does.

    .venv/bin/python bench/http_floor.py [--connections 8] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import HOST, free_port, process_cpu
from imload import Conn
from request_cost import bench as request_cost

BARE_APP = """
import uvicorn

BODY = b'{"_links":{"self":{"href":"/"}},"rel":"root"}'
HEAD = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEAD})
    await send({"type": "http.response.body", "body": BODY})


uvicorn.run(app, host="127.0.0.1", port=int(__import__("sys").argv[1]), loop="uvloop",
            http="httptools", access_log=False, log_level="warning", lifespan="off")
"""


async def _ask(conn: Conn, until: float) -> int:
    done = 0
    while time.perf_counter() < until:
        status, _, _ = await conn.request("GET", "/")
        assert status == 200
        done += 1
    return done


async def bare(connections: int, seconds: float) -> dict[str, float]:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", BARE_APP, str(port))
    try:
        for _ in range(100):  # until it listens
            try:
                _, w = await asyncio.open_connection(HOST, port)
                w.close()
                break
            except OSError:
                await asyncio.sleep(0.05)
        conns = [Conn(HOST, port) for _ in range(connections)]
        await asyncio.gather(*(c.request("GET", "/") for c in conns))  # connected and warm
        cpu0, t0 = process_cpu(proc.pid), time.perf_counter()
        n = sum(await asyncio.gather(*(_ask(c, t0 + seconds) for c in conns)))
        cpu, elapsed = process_cpu(proc.pid) - cpu0, time.perf_counter() - t0
        for c in conns:
            c.close()
        return {
            "requests_per_s": round(n / elapsed),
            "server_cpu_us_per_request": round(cpu * 1e6 / n),
            "server_cpu_share": round(cpu / elapsed, 2),
        }
    finally:
        proc.terminate()
        await proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    out = {
        "bare_uvicorn": asyncio.run(bare(args.connections, args.seconds)),
        "openucwa_root": asyncio.run(request_cost(args.connections, args.seconds, ["root"], None))["root"],
    }
    out["five_bare_exchanges_ms"] = round(5 * out["bare_uvicorn"]["server_cpu_us_per_request"] / 1000, 3)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
