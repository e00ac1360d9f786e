"""A burst of K clients connecting at once: are they all accepted (listen backlog)?

For each backlog given (default 4096, then 128) the script starts a fresh ``openucwa serve
--backlog B``, then one or more client processes open K TCP connections together (every connect
issued before any is awaited), each sending ``GET /`` (``Accept: application/json``,
``Connection: close``) and reading the whole response. It counts 200s, refused/reset connections
and timeouts, and how many connects took ≥ 0.9 s: Linux drops a SYN (or the handshake's last ACK)
when the accept queue is full and the client retransmits after 1 s, 3 s, 7 s…, so an overflowing
backlog shows as those delays and, past the client's timeout, as failures. The kernel's own
counters (TcpExt ListenOverflows/ListenDrops, TCPSynRetrans) are read before and after; the
listen socket's effective backlog and the longest accept queue seen come from ``ss``/``/proc``.

The kernel caps every backlog at ``net.core.somaxconn``, printed with the results.

Run: ``.venv/bin/python bench/burst_connect.py [--k 5000] [--backlogs 4096,128]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    HOST,
    CpuShare,
    Server,
    print_table,
    raise_nofile,
    read_response,
    sysctl,
    tcp_ext_counters,
)

COUNTERS = (
    "TcpExt.ListenOverflows",
    "TcpExt.ListenDrops",
    "TcpExt.TCPSynRetrans",
    "TcpExt.TCPReqQFullDrop",
    "TcpExt.SyncookiesSent",
)


async def one(port: int, request: bytes, limit: float) -> tuple[str, float, float]:
    """(outcome, connect seconds, total seconds)."""
    t0 = time.perf_counter()
    connected = -1.0
    writer = None
    try:
        async with asyncio.timeout(limit):
            reader, writer = await asyncio.open_connection(HOST, port)
            connected = time.perf_counter() - t0
            writer.write(request)
            resp = await read_response(reader)
        outcome = "ok" if resp.status == 200 else f"http_{resp.status}"
    except TimeoutError:
        outcome = "timeout_connect" if connected < 0 else "timeout_response"
    except ConnectionRefusedError:
        outcome = "refused"
    except ConnectionResetError:
        outcome = "reset"
    except asyncio.IncompleteReadError:
        outcome = "closed_early"
    except OSError as exc:
        outcome = f"oserror_{exc.errno}"
    finally:
        if writer is not None:
            writer.transport.abort()
    return outcome, connected, time.perf_counter() - t0


async def burst(
    port: int, k: int, limit: float, start_at: float
) -> tuple[list[tuple[str, float, float]], float]:
    """Every connection's result, and the seconds from the first connect to the last answer."""
    request = (
        f"GET / HTTP/1.1\r\nHost: {HOST}:{port}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    ).encode()
    await asyncio.sleep(max(0.0, start_at - time.time()))
    t0 = time.perf_counter()
    results = await asyncio.gather(*(one(port, request, limit) for _ in range(k)))
    return results, time.perf_counter() - t0


def client_process(port: int, k: int, limit: float, start_at: float, use_uvloop: bool, out: mp.Queue) -> None:
    raise_nofile(k + 256)
    if use_uvloop:
        with contextlib.suppress(ImportError):
            import uvloop

            uvloop.install()
    results, elapsed = asyncio.run(burst(port, k, limit, start_at))
    out.put((results, elapsed, time.process_time()))


def listen_backlog(port: int) -> tuple[int, int] | None:
    """(accept queue now, backlog) of the listening socket, from ss's Recv-Q/Send-Q."""
    try:
        out = subprocess.run(
            ["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, timeout=5
        ).stdout.split()
        return int(out[1]), int(out[2])
    except (OSError, subprocess.SubprocessError, IndexError, ValueError):
        return None


def accept_queue_watch(port: int, stop: threading.Event, seen: list[int]) -> None:
    """Longest accept queue of the listen socket, sampled from /proc/net/tcp (rx_queue of LISTEN)."""
    hex_port = f":{port:04X}"
    while not stop.is_set():
        with contextlib.suppress(OSError):
            with open("/proc/net/tcp") as f:
                next(f)
                for line in f:
                    parts = line.split(None, 5)
                    if parts[1].endswith(hex_port) and parts[3] == "0A":  # 0A = LISTEN
                        seen.append(int(parts[4].split(":")[1], 16))
                        break
        stop.wait(0.005)


def run_one(backlog: int, args: argparse.Namespace) -> dict[str, object]:
    server = Server(backlog=backlog, nofile=args.k + 4096)
    server.start()
    try:
        ss = listen_backlog(server.port)
        before = tcp_ext_counters()
        stop, seen = threading.Event(), [0]
        ctx = mp.get_context("fork")
        queue: mp.Queue = ctx.Queue()
        share = [
            args.k // args.clients + (1 if i < args.k % args.clients else 0) for i in range(args.clients)
        ]
        start_at = time.time() + 1.0
        cpu = CpuShare(server.pid)
        procs = [
            ctx.Process(
                target=client_process,
                args=(server.port, n, args.timeout, start_at, not args.no_uvloop, queue),
            )
            for n in share
        ]
        for p in procs:
            p.start()
        # Started after the forks: a child must not inherit a thread's state.
        watcher = threading.Thread(target=accept_queue_watch, args=(server.port, stop, seen), daemon=True)
        watcher.start()
        results: list[tuple[str, float, float]] = []
        elapsed = client_cpu = 0.0
        deadline = time.monotonic() + args.time_limit
        try:
            for _ in procs:
                part, secs, used = queue.get(timeout=max(1.0, deadline - time.monotonic()))
                results += part
                elapsed = max(elapsed, secs)
                client_cpu += used
        finally:
            for p in procs:
                p.join(timeout=10)
                if p.is_alive():
                    p.kill()
            stop.set()
            watcher.join(5)
        cpu_used = cpu.done(client_cpu)
        time.sleep(0.5)
        after = tcp_ext_counters()
        alive = server.proc is not None and server.proc.poll() is None
    finally:
        rc = server.stop()
    outcomes: dict[str, int] = {}
    for o, _, _ in results:
        outcomes[o] = outcomes.get(o, 0) + 1
    connects = sorted(c for _, c, _ in results if c >= 0)
    totals = sorted(t for o, _, t in results if o == "ok")

    def pct(xs: list[float], q: float) -> float:
        return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")

    return {
        "backlog": backlog,
        "effective_backlog": ss[1] if ss else None,
        "max_accept_queue_seen": max(seen),
        "k": args.k,
        "clients": args.clients,
        "ok": outcomes.get("ok", 0),
        "outcomes": outcomes,
        "elapsed_s": elapsed,
        "connect_p50_s": pct(connects, 0.5),
        "connect_p99_s": pct(connects, 0.99),
        "connect_max_s": connects[-1] if connects else float("nan"),
        "connects_ge_1s": sum(1 for c in connects if c >= 1.0),
        "answered_after_3s": sum(1 for t in totals if t > 3.0),
        "response_p50_s": statistics.median(totals) if totals else float("nan"),
        "response_p99_s": pct(totals, 0.99),
        "response_max_s": totals[-1] if totals else float("nan"),
        "counters": {c: after.get(c, 0) - before.get(c, 0) for c in COUNTERS},
        "cpu": cpu_used,
        "server_alive_after": alive,
        "server_exit": rc,
    }


def cores(c: object) -> str:
    assert isinstance(c, dict)
    return (
        f"server {c['server_cores']:.2f}, clients {c['client_cores']:.2f},"
        f" other processes {c['other_cores']:.2f} cores"
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--k", type=int, default=5000, help="connections in the burst (default 5000)")
    p.add_argument("--backlogs", default="4096,128", help="comma-separated listen backlogs to compare")
    p.add_argument("--clients", type=int, default=1, help="client processes sharing the burst")
    p.add_argument("--timeout", type=float, default=10.0, help="per-connection limit, seconds")
    p.add_argument("--time-limit", type=float, default=120.0, help="limit for one burst, seconds")
    p.add_argument("--repeat", type=int, default=1, help="bursts per backlog (fresh server each)")
    p.add_argument("--no-uvloop", action="store_true", help="plain asyncio loop in the clients")
    p.add_argument("--json", type=Path, help="also write the raw results here")
    args = p.parse_args()
    if not 1 <= args.k <= 25_000:
        p.error("--k must be 1..25000 (ephemeral ports and file descriptors)")

    somaxconn = sysctl("net.core.somaxconn")
    names = ("net.core.somaxconn", "net.ipv4.tcp_max_syn_backlog", "net.ipv4.tcp_syncookies")
    names += ("net.ipv4.tcp_abort_on_overflow",)
    print("  ".join(f"{n}={sysctl(n)}" for n in names) + f"  CPUs={os.cpu_count()}", flush=True)
    runs: list[dict[str, object]] = []
    for backlog in [int(b) for b in args.backlogs.split(",") if b.strip()]:
        for i in range(args.repeat):
            print(f"burst of {args.k} against --backlog {backlog} (run {i + 1}/{args.repeat})…", flush=True)
            r = run_one(backlog, args)
            runs.append(r)
            print(
                f"  {json.dumps({k: r[k] for k in ('ok', 'outcomes', 'elapsed_s', 'counters')})}", flush=True
            )

    for r in runs:
        k = int(r["k"])  # type: ignore[call-overload]
        counters = r["counters"]
        assert isinstance(counters, dict)
        failed = k - int(r["ok"])  # type: ignore[call-overload]
        rows = [
            (
                "listen backlog asked / effective",
                f"{r['backlog']} / {r['effective_backlog']} (somaxconn {somaxconn})",
            ),
            ("connections / client processes", f"{k} / {r['clients']}"),
            ("answered 200", f"{r['ok']} ({100 * int(r['ok']) / k:.2f}%)"),  # type: ignore[call-overload]
            ("failed", f"{failed}  {r['outcomes']}"),
            ("burst completed in", f"{float(r['elapsed_s']):.2f} s"),  # type: ignore[arg-type]
            (
                "connect p50 / p99 / max",
                f"{r['connect_p50_s']:.3f} / {r['connect_p99_s']:.3f} / {r['connect_max_s']:.3f} s",
            ),
            ("connects taking ≥ 1 s", str(r["connects_ge_1s"])),
            (
                "response p50 / p99 / max",
                f"{r['response_p50_s']:.3f} / {r['response_p99_s']:.3f} / {r['response_max_s']:.3f} s",
            ),
            ("answered only after > 3 s", str(r["answered_after_3s"])),
            ("longest accept queue seen", str(r["max_accept_queue_seen"])),
            (
                "ListenOverflows / ListenDrops",
                f"{counters['TcpExt.ListenOverflows']} / {counters['TcpExt.ListenDrops']}",
            ),
            ("TCPSynRetrans (SYNs clients resent)", str(counters["TcpExt.TCPSynRetrans"])),
            ("CPU during the burst", cores(r["cpu"])),
            ("server alive after", str(r["server_alive_after"])),
        ]
        verdict = "no drops" if failed == 0 and counters["TcpExt.ListenOverflows"] == 0 else "DROPS"
        print_table(f"Burst connect — backlog {r['backlog']}: {verdict}", rows)
    if args.json:
        args.json.write_text(json.dumps({"somaxconn": somaxconn, "runs": runs}, indent=2))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
