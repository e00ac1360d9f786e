"""Memory per idle pending P-GET: N held by one server process, target ≤ 12 KB each (and, at
N = 10,000, a peak under 250 MB while they open).

Steps (every wait is bounded; the server this script starts is stopped on every path):

1. start ``openucwa serve`` in a subprocess (fresh temp data dir, RLIMIT_NOFILE raised, backlog
   4096, ``OPENUCWA_MAX_APPLICATIONS_PER_USER`` high enough that nothing is evicted);
2. sign in and create N applications over a few keep-alive connections, timing it;
3. settle (more than two reaper sweeps), then read the server's memory: the *baseline*, a server
   with N applications and no P-GET;
4. open N idle P-GETs (``GET …/events?ack=1&timeout=1800``), one raw socket each, and wait until
   the server's database shows all N channels leased (``pget_owner`` set, lease running);
5. settle again, check nobody was answered, read memory (*after*) and the server's idle CPU;
   per P-GET = (after − baseline) / N, for VmRSS and for USS (private pages, smaps_rollup);
6. wake a sample: POST makeMeAvailable on a few applications; their P-GETs (and only theirs) must
   answer 200 with the events, after the channel's 5 s ``medium`` aggregation window;
7. drop every connection, time how long the server takes to free all channels, read memory once
   more, stop the server.

``--mode conns`` replaces step 4 by N TCP connections that send nothing, to separate what an accepted
connection costs from what a held request costs. ``--tracemalloc`` runs the server under
``bench/_traced_server.py`` and prints the allocation sites that grew between the two readings
(tracemalloc slows everything down and inflates RSS: use it to explain, not to measure).
``--pythonpath DIR`` runs a copy of ``src/`` instead of the installed one, to measure a patch.

Run: ``.venv/bin/python bench/idle_pgets.py [--n 10000] [--users 1]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    HOST,
    Conn,
    CpuShare,
    HttpError,
    Server,
    build_request,
    kb,
    mb,
    memory,
    open_fds,
    print_table,
    process_cpu,
    raise_nofile,
    read_response,
    reset_peak,
    sign_in,
)

TARGET_BYTES = 12 * 1024
PEAK_TARGET_BYTES = 250 * 1024 * 1024  # at N = 10,000, in the MB (MiB) the figures print
APPS = "/ucwa/oauth/v1/applications"
BENCH_PASSWORD = "bench-password"
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


def source_version() -> str:
    """The commit the server code comes from, and whether src/ differs from it."""
    repo = Path(__file__).resolve().parent.parent

    def git(*argv: str) -> str:
        return subprocess.run(
            ["git", "-C", str(repo), *argv], capture_output=True, text=True, timeout=10
        ).stdout.strip()

    try:
        return git("rev-parse", "--short", "HEAD") + (" (src modified)" if git("status", "-s", "src") else "")
    except (OSError, subprocess.SubprocessError):
        return "?"


def leased(db: Path) -> int:
    """Channels whose P-GET lease is running, read from the server's own SQLite file (WAL: no lock)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        row = conn.execute(
            "SELECT count(*) FROM applications WHERE status = 'active'"
            " AND pget_owner IS NOT NULL AND pget_lease_until > ?",
            (time.time(),),
        ).fetchone()
        return int(row[0])
    finally:
        conn.close()


def short(path: str) -> str:
    for marker in ("site-packages/", "/src/", "/lib/python3"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


async def add_users(data_dir: str, count: int) -> list[tuple[str, str]]:
    """Extra accounts through the project's own store API (one argon2 hash shared by all)."""
    from openucwa.actions.users import hash_password
    from openucwa.cli import services
    from openucwa.core.models import User

    digest = await asyncio.to_thread(hash_password, BENCH_PASSWORD)
    users = [(f"bench{i:05d}@contoso.com", BENCH_PASSWORD) for i in range(count)]
    async with services(data_dir, None) as svc, svc.store.transaction() as tx:
        for uri, _ in users:
            await tx.add_user(User(uri=uri, name=uri.split("@")[0], password_hash=digest))
    return users


async def create_apps(
    port: int, tokens: list[str], n: int, concurrency: int, time_limit: float
) -> tuple[list[tuple[str, str]], list[tuple[int, float]], float]:
    """(events href, token) per application, (count, elapsed) every 1000, total seconds."""
    apps: list[tuple[str, str] | None] = [None] * n
    marks: list[tuple[int, float]] = []
    next_index = 0
    done = 0
    started = time.perf_counter()
    deadline = started + time_limit

    async def worker() -> None:
        nonlocal next_index, done
        conn = Conn(port)
        try:
            while next_index < n:
                if time.perf_counter() > deadline:
                    raise TimeoutError(f"creating {n} applications took over {time_limit:.0f}s")
                i = next_index
                next_index += 1
                token = tokens[i % len(tokens)]
                body = json.dumps({"userAgent": "bench", "endpointId": f"bench-{i}", "culture": "en-US"})
                headers = {"Authorization": f"Bearer {token}", **JSON_HEADERS}
                resp = await asyncio.wait_for(conn.request("POST", APPS, headers, body.encode()), 120)
                if resp.status != 201:
                    raise HttpError(f"create answered {resp.status}: {resp.body[:300]!r}")
                apps[i] = (json.loads(resp.body)["_links"]["events"]["href"], token)
                done += 1
                if done % 1000 == 0:
                    elapsed = time.perf_counter() - started
                    marks.append((done, elapsed))
                    last = elapsed - (marks[-2][1] if len(marks) > 1 else 0.0)
                    print(f"  created {done:>6}/{n}  {elapsed:7.1f}s  (this 1000: {last:6.1f}s)", flush=True)
        finally:
            await conn.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    total = time.perf_counter() - started
    if not marks or marks[-1][0] != n:
        marks.append((n, total))
    return [a for a in apps if a is not None], marks, total


class Holders:
    """The client side of N idle P-GETs (or of N silent connections)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.writers: dict[int, asyncio.StreamWriter] = {}
        self.watchers: dict[int, asyncio.Task[None]] = {}
        self.answers: dict[int, tuple[int, float, bytes]] = {}
        self.errors: dict[str, int] = {}

    async def _watch(self, i: int, reader: asyncio.StreamReader) -> None:
        try:
            resp = await read_response(reader)
            self.answers[i] = (resp.status, time.perf_counter(), resp.body)
        except (OSError, asyncio.IncompleteReadError, HttpError) as exc:
            self.answers[i] = (-1, time.perf_counter(), repr(exc).encode())

    async def open(self, i: int, request: bytes | None, sem: asyncio.Semaphore) -> None:
        async with sem:
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, self.port), 30)
            except (OSError, TimeoutError) as exc:
                name = type(exc).__name__
                self.errors[name] = self.errors.get(name, 0) + 1
                return
            if request is not None:
                writer.write(request)
                await writer.drain()
        self.writers[i] = writer
        self.watchers[i] = asyncio.create_task(self._watch(i, reader))

    def close(self) -> None:
        for w in self.writers.values():
            w.transport.abort()
        for t in self.watchers.values():
            t.cancel()


async def request_snapshot(server: Server, name: str, limit: float = 300) -> tracemalloc.Snapshot:
    assert server.data_dir is not None
    target = Path(server.data_dir) / f"{name}.snapshot"
    done = Path(f"{target}.done")
    (Path(server.data_dir) / "snapshot.request").write_text(str(target))
    deadline = time.monotonic() + limit
    while not done.exists():  # noqa: ASYNC240
        if time.monotonic() > deadline:
            raise TimeoutError("tracemalloc snapshot not written")
        await asyncio.sleep(0.5)
    return tracemalloc.Snapshot.load(str(target))


async def wait_until(predicate: Callable[[], Awaitable[bool]], limit: float, every: float = 0.5) -> bool:
    deadline = time.monotonic() + limit
    while not await predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(every)
    return True


async def settle_and_measure(
    server: Server, seconds: float, samples: int = 3
) -> tuple[dict[str, int], float]:
    """Memory after ``seconds`` of quiet (last of a few readings) and the server's CPU share then."""
    cpu0, t0 = process_cpu(server.pid), time.monotonic()
    await asyncio.sleep(max(0.0, seconds - samples))
    reading: dict[str, int] = {}
    for _ in range(samples):
        await asyncio.sleep(1)
        reading = memory(server.pid)
    return reading, (process_cpu(server.pid) - cpu0) / (time.monotonic() - t0)


async def run(args: argparse.Namespace, server: Server) -> dict[str, object]:
    src = f"copy at {args.pythonpath}" if args.pythonpath else source_version()
    result: dict[str, object] = {"n": args.n, "users": args.users, "mode": args.mode, "src": src}
    port = server.port
    accounts = [("toshm@contoso.com", "toshm-password")]
    if args.users > 1:
        accounts = await add_users(str(server.data_dir), args.users - 1) + accounts
    t = time.perf_counter()
    sem = asyncio.Semaphore(8)

    async def one(acc: tuple[str, str]) -> str:
        async with sem:
            return await asyncio.wait_for(sign_in(port, *acc), 120)

    tokens = list(await asyncio.gather(*(one(a) for a in accounts)))
    result["sign_in_s"] = time.perf_counter() - t
    print(f"signed in {len(tokens)} user(s) in {result['sign_in_s']:.1f}s", flush=True)

    print(f"creating {args.n} applications ({args.create_concurrency} connections)…", flush=True)
    share = CpuShare(server.pid)
    apps, marks, create_s = await create_apps(
        port, tokens, args.n, args.create_concurrency, args.create_time_limit
    )
    result["create_s"] = create_s
    result["create_marks"] = marks
    result["create_cpu"] = share.done()

    print(f"settling {args.settle:.0f}s for the baseline…", flush=True)
    baseline, result["cpu_share_no_pgets"] = await settle_and_measure(server, args.settle)
    snap0 = await request_snapshot(server, "baseline") if args.tracemalloc else None
    result["baseline"] = baseline
    result["peak_reset"] = reset_peak(server.pid)  # from here VmHWM is the opening burst's peak
    fds0 = open_fds(server.pid)

    holders = Holders(port)
    sem = asyncio.Semaphore(args.open_concurrency)
    t = time.perf_counter()
    share = CpuShare(server.pid)
    reqs: list[bytes | None]
    if args.mode == "pget":
        print(f"opening {args.n} idle P-GETs…", flush=True)
        reqs = [
            build_request(
                "GET",
                f"{href}&timeout=1800",
                {"Authorization": f"Bearer {token}", "Accept": "application/json"},
                port=port,
            )
            for href, token in apps
        ]
    else:
        print(f"opening {args.n} silent TCP connections…", flush=True)
        reqs = [None] * args.n
    await asyncio.wait_for(
        asyncio.gather(*(holders.open(i, r, sem) for i, r in enumerate(reqs))), args.open_time_limit
    )
    result["connect_s"] = time.perf_counter() - t
    result["connect_errors"] = dict(holders.errors)

    async def all_held() -> bool:
        if args.mode == "pget":
            return await asyncio.to_thread(leased, server.db_path) >= args.n
        return open_fds(server.pid) - fds0 >= args.n

    ok = await wait_until(all_held, args.open_time_limit)
    result["pending_s"] = time.perf_counter() - t
    result["open_cpu"] = share.done()
    held = (
        await asyncio.to_thread(leased, server.db_path)
        if args.mode == "pget"
        else open_fds(server.pid) - fds0
    )
    print(
        f"  {len(holders.writers)} connected in {result['connect_s']:.1f}s; "
        f"{'all' if ok else 'NOT all'} held after {result['pending_s']:.1f}s "
        f"({'leased channels' if args.mode == 'pget' else 'new server connections'}: {held},"
        f" server fds: {open_fds(server.pid)})",
        flush=True,
    )
    result["all_pending"] = ok
    result["leased_channels"] = held

    print(f"settling {args.settle:.0f}s with everything held…", flush=True)
    after, result["cpu_share_holding"] = await settle_and_measure(server, args.settle)
    result["held"] = await asyncio.to_thread(leased, server.db_path) if args.mode == "pget" else held
    snap1 = await request_snapshot(server, "after") if args.tracemalloc else None
    result["after"] = after
    result["opening_peak"] = memory(server.pid)["VmHWM"]
    result["server_fds"] = open_fds(server.pid)
    result["answered_while_idle"] = len(holders.answers)
    if holders.answers:
        sample = next(iter(holders.answers.values()))
        print(f"  !! {len(holders.answers)} answered while idle, e.g. {sample[0]} {sample[2][:200]!r}")

    if args.mode == "pget" and args.wake > 0:
        print(f"waking {args.wake} of them with makeMeAvailable…", flush=True)
        result["wake"] = await wake_sample(port, apps, holders, args.wake)
        result["answered_after_wake"] = len(holders.answers)

    reset_peak(server.pid)  # the closing burst's peak, apart
    t = time.perf_counter()
    holders.close()
    if args.mode == "pget":

        async def freed() -> bool:
            return await asyncio.to_thread(leased, server.db_path) == 0

        result["release_ok"] = await wait_until(freed, args.open_time_limit)
        result["release_s"] = time.perf_counter() - t
    else:
        await asyncio.sleep(5)
    result["after_release"] = memory(server.pid)
    if snap0 is not None and snap1 is not None:
        by_file = snap1.compare_to(snap0, "filename")
        result["tracemalloc_total_diff"] = sum(s.size_diff for s in by_file)
        result["tracemalloc_files"] = [
            (short(str(s.traceback[0].filename)), s.size_diff, s.count_diff) for s in by_file[: args.top]
        ]
        result["tracemalloc_top"] = [
            (
                " <- ".join(short(f"{f.filename}:{f.lineno}") for f in reversed(s.traceback)),
                s.size_diff,
                s.count_diff,
            )
            for s in snap1.compare_to(snap0, "traceback")[: args.top]
        ]
    return result


async def wake_sample(
    port: int, apps: list[tuple[str, str]], holders: Holders, k: int
) -> list[dict[str, object]]:
    """makeMeAvailable on k spread-out applications; their P-GETs (and only theirs) must answer."""
    picks = sorted({round(j * (len(apps) - 1) / max(1, k - 1)) for j in range(k)})
    before = set(holders.answers)
    conn = Conn(port)
    posted: dict[int, float] = {}
    out: list[dict[str, object]] = []
    body = json.dumps(
        {"signInAs": "Online", "supportedModalities": ["Messaging"], "supportedMessageFormats": ["Plain"]}
    ).encode()
    try:
        for i in picks:
            href, token = apps[i]
            path = href.split("/events", 1)[0] + "/me/makeMeAvailable"
            posted[i] = time.perf_counter()
            headers = {"Authorization": f"Bearer {token}", **JSON_HEADERS}
            resp = await asyncio.wait_for(conn.request("POST", path, headers, body), 30)
            if resp.status != 204:
                out.append({"app": i, "error": f"makeMeAvailable answered {resp.status}"})
                posted.pop(i)
    finally:
        await conn.close()
    watchers = [holders.watchers[i] for i in posted if i in holders.watchers]
    if watchers:
        await asyncio.wait(watchers, timeout=20)
    for i, t0 in posted.items():
        ans = holders.answers.get(i)
        if ans is None:
            out.append({"app": i, "status": None, "latency_s": None})
            continue
        status, t1, answer = ans
        rels = answer.count(b'"rel":"') if status == 200 else 0
        out.append(
            {"app": i, "status": status, "latency_s": round(t1 - t0, 3), "bytes": len(answer), "rels": rels}
        )
    others = set(holders.answers) - before - set(posted)
    if others:
        out.append({"unexpected_answers": len(others)})
    return out


def cores(c: object) -> str:
    assert isinstance(c, dict)
    return (
        f"server {c['server_cores']:.2f}, bench client {c['client_cores']:.2f},"
        f" other processes {c['other_cores']:.2f} cores"
    )


def summarise(args: argparse.Namespace, r: dict[str, object]) -> bool:
    n = int(r["held"]) or 1  # type: ignore[call-overload]
    base, after, released = r["baseline"], r["after"], r["after_release"]
    assert isinstance(base, dict) and isinstance(after, dict) and isinstance(released, dict)
    per_rss = (after["VmRSS"] - base["VmRSS"]) / n
    per_uss = (after.get("USS", 0) - base.get("USS", 0)) / n
    what = "idle P-GET" if args.mode == "pget" else "silent connection"
    marks = r["create_marks"]
    assert isinstance(marks, list)
    create_s = float(r["create_s"])  # type: ignore[arg-type]
    rows = [
        ("machine", f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}"),
        ("server code", str(r["src"])),
        ("mode / N / users", f"{args.mode} / {args.n} / {args.users}"),
        ("sign-in", f"{float(r['sign_in_s']):.1f} s"),  # type: ignore[arg-type]
        ("create N applications", f"{create_s:.1f} s  ({n / create_s:.0f}/s overall)"),
    ]
    if len(marks) >= 2:
        rows.append(("  first / last 1000", f"{marks[0][1]:.1f} s / {marks[-1][1] - marks[-2][1]:.1f} s"))
    rows += [
        ("  CPU during create", cores(r["create_cpu"])),
        ("connect N sockets", f"{float(r['connect_s']):.1f} s  errors={r['connect_errors'] or 0}"),  # type: ignore[arg-type]
        ("all held after", f"{float(r['pending_s']):.1f} s  (confirmed: {r['all_pending']})"),  # type: ignore[arg-type]
        ("held when measured", f"{n} (per-item figures divide by this)"),
        ("  CPU while opening", cores(r["open_cpu"])),
        ("answered while idle", f"{r['answered_while_idle']} (must be 0)"),
        ("server RSS baseline (no P-GET)", f"{mb(base['VmRSS'])}  (USS {mb(base.get('USS', 0))})"),
        (f"server RSS holding N ({what}s)", f"{mb(after['VmRSS'])}  (USS {mb(after.get('USS', 0))})"),
        ("server RSS after all closed", f"{mb(released['VmRSS'])}  (USS {mb(released.get('USS', 0))})"),
        *(
            [
                ("server peak RSS until baseline (VmHWM)", mb(base["VmHWM"])),
                ("server peak RSS opening N (VmHWM)", mb(int(r["opening_peak"]))),  # type: ignore[call-overload]
                ("server peak RSS closing N (VmHWM)", mb(released["VmHWM"])),
            ]
            if r["peak_reset"]
            else [("server peak RSS (VmHWM)", mb(released["VmHWM"]))]
        ),
        (f"RSS per {what}", f"{per_rss:,.0f} B = {kb(per_rss)}"),
        (f"USS per {what}", f"{per_uss:,.0f} B = {kb(per_uss)}"),
        ("server fds while holding", str(r["server_fds"])),
        (
            "server CPU, idle",
            f"{100 * float(r['cpu_share_no_pgets']):.1f}% with no P-GET, "  # type: ignore[arg-type]
            f"{100 * float(r['cpu_share_holding']):.1f}% holding N",  # type: ignore[arg-type]
        ),
    ]
    wake = r.get("wake")
    if isinstance(wake, list):
        woke = [w for w in wake if w.get("status") == 200]
        lat = [float(w["latency_s"]) for w in woke]
        others = int(r.get("answered_after_wake", 0)) - len(woke)  # type: ignore[call-overload]
        text = f"{len(woke)}/{len([w for w in wake if 'app' in w])} answered 200"
        if lat:
            text += f" in {min(lat):.2f}–{max(lat):.2f} s (medium window 5 s)"
        rows.append(("wake sample (makeMeAvailable)", f"{text}; others answered: {others}"))
    if "release_s" in r:
        rows.append(
            ("all channels freed after close", f"{float(r['release_s']):.1f} s (ok: {r['release_ok']})")
        )  # type: ignore[arg-type]
    ok = bool(r["all_pending"]) and r["answered_while_idle"] == 0 and per_rss <= TARGET_BYTES
    if isinstance(wake, list):
        ok = ok and all(w.get("status") == 200 for w in wake if "app" in w)
        ok = ok and not any("unexpected_answers" in w for w in wake)
    verdict = ("PASS" if ok else "FAIL") if args.mode == "pget" else "comparison run (no verdict)"
    rows.append(("verdict (≤ 12 KB per idle P-GET)", f"{verdict}  ({kb(per_rss)} RSS per {what})"))
    if args.mode == "pget" and args.n == 10_000 and r["peak_reset"]:
        peak = int(r["opening_peak"])  # type: ignore[call-overload]
        met = "met" if peak < PEAK_TARGET_BYTES else "NOT met"
        rows.append(("opening peak (< 250 MB at 10,000)", f"{met}  ({mb(peak)})"))
    print_table(f"Idle P-GET memory benchmark — {verdict}", rows)
    top = r.get("tracemalloc_top")
    if isinstance(top, list):
        total = int(r["tracemalloc_total_diff"])  # type: ignore[call-overload]
        print(f"\ntracemalloc: +{mb(total)} traced = {total / n:,.0f} B per {what}; by file (per {what}):")
        for where, size, count in r.get("tracemalloc_files", []):  # type: ignore[union-attr]
            print(f"  {size / n:8,.0f} B  {count / n:6.2f} blocks  {where}")
        print(f"top allocation stacks, most recent frame first (per {what}):")
        for where, size, count in top:
            print(f"  {size / n:8,.0f} B  {count / n:6.2f} blocks  {where}")
    return ok


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=10_000, help="idle P-GETs (and applications) (default 10000)")
    p.add_argument("--users", type=int, default=1, help="spread the applications over this many users")
    p.add_argument("--mode", choices=("pget", "conns"), default="pget")
    p.add_argument("--settle", type=float, default=12.0, help="quiet seconds before each reading")
    p.add_argument("--wake", type=int, default=5, help="applications woken by makeMeAvailable")
    p.add_argument("--create-concurrency", type=int, default=8, help="keep-alive connections creating")
    p.add_argument("--open-concurrency", type=int, default=256, help="connects in flight at once")
    p.add_argument("--create-time-limit", type=float, default=7200.0, help="seconds")
    p.add_argument("--open-time-limit", type=float, default=600.0, help="seconds")
    p.add_argument("--backlog", type=int, default=4096)
    p.add_argument("--app-idle-timeout", type=int, default=86_400, help="server setting, seconds")
    p.add_argument("--tracemalloc", action="store_true", help="server under tracemalloc (slow)")
    p.add_argument("--top", type=int, default=15, help="tracemalloc sites to print")
    p.add_argument("--json", type=Path, help="also write the raw results here")
    p.add_argument("--pythonpath", help="run the server (and the user set-up) from this copy of src/")
    args = p.parse_args()
    if not 1 <= args.n <= 25_000:
        p.error("--n must be 1..25000 (ephemeral ports and file descriptors)")

    if args.pythonpath:  # add_users() imports openucwa here too: it must be the same copy
        sys.path.insert(0, args.pythonpath)
    raise_nofile(args.n + 1024)
    env = {
        "OPENUCWA_MAX_APPLICATIONS_PER_USER": str(max(100_000, args.n + 10)),
        # Creating N applications can outlast the 15-minute idle timeout (one user, SQLite): the first
        # ones would expire before their P-GET arrives. The reaper still sweeps every 5 s as usual.
        "OPENUCWA_APP_IDLE_TIMEOUT": str(args.app_idle_timeout),
    }
    if args.pythonpath:
        env["PYTHONPATH"] = args.pythonpath
    server = Server(backlog=args.backlog, nofile=args.n + 4096, env=env, traced=args.tracemalloc)
    server.start()
    print(f"server pid {server.pid} on {HOST}:{server.port} (data {server.data_dir})", flush=True)
    try:
        result = asyncio.run(run(args, server))
    except BaseException:
        print(server.log_tail(), file=sys.stderr)
        raise
    finally:
        rc = server.stop()
        print(f"server stopped (exit {rc}; -15 is uvicorn re-raising SIGTERM after a clean shutdown)")
    summarise(args, result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
