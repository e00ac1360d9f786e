"""Shared helpers for the benchmarks: a server subprocess, memory readings and a tiny HTTP client.

The client is raw asyncio streams on purpose: ten thousand httpx clients (or one pool of ten
thousand connections) would cost more CPU than the server under test on a two-core machine.
Everything listens and connects on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
BENCH_DIR = Path(__file__).resolve().parent
TRACED_SERVER = BENCH_DIR / "_traced_server.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def raise_nofile(wanted: int) -> tuple[int, int]:
    """Raises this process's RLIMIT_NOFILE to at least ``wanted`` (the hard limit too, when root)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= wanted:
        return soft, hard
    if hard != resource.RLIM_INFINITY and hard < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
            return wanted, wanted
        except (ValueError, OSError) as exc:
            raise SystemExit(
                f"RLIMIT_NOFILE hard limit is {hard}, {wanted} needed and it cannot be raised: {exc}"
            ) from exc
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return wanted, hard


def database_option(ap: argparse.ArgumentParser) -> None:
    """``--database-url``: an empty PostgreSQL database for every process the benchmark starts."""
    ap.add_argument("--database-url", default=None, help="an empty PostgreSQL database (default: SQLite)")


def use_database(url: str | None) -> None:
    """Points every process the benchmark starts (seeding, ``openucwa demo``, the server) at ``url``."""
    if url:
        os.environ["OPENUCWA_DATABASE_URL"] = url


def sysctl(name: str) -> str:
    try:
        return Path("/proc/sys", *name.split(".")).read_text().strip()
    except OSError:
        return "?"


def tcp_ext_counters() -> dict[str, int]:
    """TcpExt counters of this network namespace (/proc/net/netstat): ListenOverflows and friends."""
    lines = Path("/proc/net/netstat").read_text().splitlines()
    out: dict[str, int] = {}
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        prefix, _, keys = names.partition(":")
        _, _, vals = values.partition(":")
        for k, v in zip(keys.split(), vals.split(), strict=False):
            out[f"{prefix}.{k}"] = int(v)
    return out


def machine_busy() -> float:
    """CPU-seconds all CPUs spent busy since boot (/proc/stat), to tell our load from others'."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """CPU-seconds (user + system) used by a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def database_cpu(url: str) -> float:
    """CPU-seconds used so far by the PostgreSQL backends connected to ``url``'s database (this
    machine only; a pooled server keeps its backends, so two readings bracket its load)."""
    import asyncpg  # type: ignore[import-untyped]

    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    conn = await asyncpg.connect(dsn)
    try:
        others = "datname = current_database() AND pid <> pg_backend_pid()"
        pids = [r[0] for r in await conn.fetch(f"SELECT pid FROM pg_stat_activity WHERE {others}")]
    finally:
        await conn.close()
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += process_cpu(pid)
    return total


class CpuShare:
    """Busy CPU over an interval, split into the server, this process (+ given extra) and the rest."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self.t0 = time.monotonic()
        self.busy0 = machine_busy()
        self.server0 = process_cpu(server_pid)
        self.own0 = time.process_time()

    def done(self, extra_client_cpu: float = 0.0) -> dict[str, float]:
        wall = max(1e-9, time.monotonic() - self.t0)
        busy = machine_busy() - self.busy0
        server = process_cpu(self.server_pid) - self.server0
        client = time.process_time() - self.own0 + extra_client_cpu
        return {
            "wall_s": wall,
            "server_cores": server / wall,
            "client_cores": client / wall,
            "other_cores": max(0.0, busy - server - client) / wall,
        }


def memory(pid: int) -> dict[str, int]:
    """Bytes: VmRSS/VmHWM/RssAnon from status, Pss and USS (private pages) from smaps_rollup."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "VmSize"):
            out[key] = int(rest.split()[0]) * 1024
    with contextlib.suppress(OSError):
        rollup: dict[str, int] = {}
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
            key, _, rest = line.partition(":")
            parts = rest.split()
            if parts and parts[-1] == "kB":
                rollup[key] = int(parts[0]) * 1024
        out["Pss"] = rollup.get("Pss", 0)
        out["USS"] = rollup.get("Private_Clean", 0) + rollup.get("Private_Dirty", 0)
    return out


def reset_peak(pid: int) -> bool:
    """Restart the process's VmHWM from its current RSS (``clear_refs`` 5), so that the next VmHWM
    reading is the peak of what happened since. False where the kernel does not allow it."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def open_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def kb(n: float) -> str:
    return f"{n / 1024:,.1f} KB"


def mb(n: float) -> str:
    return f"{n / 1024 / 1024:,.1f} MB"


def print_table(title: str, rows: list[tuple[str, str]]) -> None:
    width = max(len(k) for k, _ in rows)
    print(f"\n{title}")
    print("-" * (width + 40))
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    print("-" * (width + 40))


# Loads measure what the server can carry, far past any person's pace: the per-user message and
# invitation quotas (README "Settings and limits") would cap them at their defaults.
NO_QUOTAS = {"OPENUCWA_MESSAGE_RATE": "", "OPENUCWA_MESSAGE_BYTES_RATE": "", "OPENUCWA_INVITATION_RATE": ""}


@dataclass
class Server:
    """``openucwa demo`` + ``openucwa serve`` in a subprocess with a fresh data dir (or a given one)."""

    port: int = 0
    backlog: int = 4096
    nofile: int = 4096
    env: dict[str, str] = field(default_factory=dict)
    data_dir: str | None = None
    traced: bool = False  # run under bench/_traced_server.py (tracemalloc on; snapshots on request)
    extra_args: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None
    _tmp: tempfile.TemporaryDirectory[str] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def db_path(self) -> Path:
        assert self.data_dir is not None
        return Path(self.data_dir) / "openucwa.sqlite3"

    @property
    def log_path(self) -> Path:
        assert self.data_dir is not None
        return Path(self.data_dir) / "server.log"

    def start(self, ready_timeout: float = 60.0) -> Server:
        if self.data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="openucwa-bench-")
            self.data_dir = self._tmp.name
        if not self.port:
            self.port = free_port()
        env = {**os.environ, **self.env}
        if env.get("PYTHONPATH"):  # the server runs in its data dir: a relative entry would miss
            entries = env["PYTHONPATH"].split(os.pathsep)
            env["PYTHONPATH"] = os.pathsep.join(os.path.abspath(d) for d in entries)
        subprocess.run(
            [sys.executable, "-m", "openucwa", "demo", "--data-dir", self.data_dir],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
            timeout=120,
        )
        entry = [str(TRACED_SERVER)] if self.traced else ["-m", "openucwa"]
        cmd = [
            sys.executable,
            *entry,
            "serve",
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--data-dir",
            self.data_dir,
            "--backlog",
            str(self.backlog),
            "--log-level",
            "warning",
            *self.extra_args,
        ]
        nofile = self.nofile

        def limits() -> None:  # runs in the child between fork and exec
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=limits, cwd=self.data_dir
        )
        log.close()
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                req = urllib.request.Request(self.url("/"), headers={"Accept": "application/json"})
                with urllib.request.urlopen(req, timeout=2) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server not ready within {ready_timeout}s:\n{self.log_tail()}")

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM (uvicorn's graceful shutdown), then SIGKILL after ``timeout``."""
        rc = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait(10)
        elif self.proc is not None:
            rc = self.proc.returncode
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
        return rc

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class HttpError(Exception):
    pass


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


def build_request(method: str, path: str, headers: dict[str, str], body: bytes = b"", port: int = 0) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}" if port else f"Host: {HOST}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> Response:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise HttpError(f"bad status line {status_line!r}")
    headers: dict[str, str] = {}
    for line in header_lines:
        if line:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
    status = int(parts[1])
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunks.append(await reader.readexactly(size + 2))
            if size == 0:
                break
        body = b"".join(c[:-2] for c in chunks)
    elif status in (204, 304) or 100 <= status < 200:
        body = b""
    else:
        body = await reader.read()
    return Response(status, headers, body)


class Conn:
    """One keep-alive HTTP/1.1 connection; requests on it run one at a time."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> Response:
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        assert self.reader is not None
        self.writer.write(build_request(method, path, headers or {}, body, self.port))
        resp = await read_response(self.reader)
        if resp.headers.get("connection", "").lower() == "close":
            await self.close()
        return resp

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
            self.writer = None


async def sign_in(port: int, user: str = "toshm@contoso.com", password: str = "toshm-password") -> str:
    from urllib.parse import urlencode

    conn = Conn(port)
    try:
        form = urlencode({"grant_type": "password", "username": user, "password": password}).encode()
        resp = await conn.request(
            "POST",
            "/WebTicket/oauthtoken",
            {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
            form,
        )
    finally:
        await conn.close()
    if resp.status != 200:
        raise HttpError(f"sign-in answered {resp.status}: {resp.body[:200]!r}")
    import json

    return json.loads(resp.body)["access_token"]
