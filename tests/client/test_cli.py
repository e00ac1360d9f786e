"""The client commands as subprocesses: login, send from one process while another listens, the bot hook."""

from __future__ import annotations

import json
import os
import queue
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from openucwa.client import Session

from .conftest import PASSWORDS

TOSH, LENE, SARA = "toshm@contoso.com", "lenea@contoso.com", "sarad@contoso.com"


def env_for(home: Path, password: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "OPENUCWA_PASSWORD"}
    env.update({"XDG_CONFIG_HOME": str(home), "NO_COLOR": "1", "COLUMNS": "200"})
    if password:
        env["OPENUCWA_PASSWORD"] = password
    return env


def cli(
    home: Path, *args: str, password: str | None = None, input: str | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "openucwa", *args],
        env=env_for(home, password),
        capture_output=True,
        text=True,
        input=input,
        timeout=90,
    )


class Running:
    """A long-running CLI process whose output lines are read by threads."""

    def __init__(self, home: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "openucwa", *args],
            env=env_for(home),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.out: queue.Queue[str] = queue.Queue()
        self.err: list[str] = []
        threading.Thread(target=self._read, args=(self.proc.stdout, self.out.put), daemon=True).start()
        errq: queue.Queue[str] = queue.Queue()
        self._errq = errq
        threading.Thread(target=self._read, args=(self.proc.stderr, errq.put), daemon=True).start()

    @staticmethod
    def _read(stream: Any, put: Any) -> None:
        for line in stream:
            put(line.rstrip("\n"))

    def wait_err(self, text: str, within: float = 20) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            try:
                line = self._errq.get(timeout=0.1)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            self.err.append(line)
            if text in line:
                return
        raise AssertionError(f"no {text!r} on stderr; got {self.err}")

    def wait_out(self, want: Any, within: float = 20) -> list[str]:
        lines: list[str] = []
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            try:
                lines.append(self.out.get(timeout=0.1))
            except queue.Empty:
                continue
            if want(lines):
                return lines
        raise AssertionError(f"stdout never matched; got {lines}")

    def write(self, line: str) -> None:
        assert self.proc.stdin
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            code = self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream:
                try:
                    stream.close()
                except OSError:
                    pass
        return code


@pytest.fixture(scope="module")
def homes(server, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A config directory per user, each logged in through `openucwa login`."""
    out = {}
    base = tmp_path_factory.mktemp("homes")
    for user in (TOSH, LENE):
        home = base / user.split("@")[0]
        r = cli(home, "login", server.base, "--user", user, password=PASSWORDS[user])
        assert r.returncode == 0, r.stderr
        out[user] = home
    return out


def test_login_stores_the_token_owner_only(server, tmp_path: Path) -> None:
    home = tmp_path / "cfg"
    r = cli(home, "login", server.base, "--user", TOSH, input=PASSWORDS[TOSH] + "\n")  # prompt
    assert r.returncode == 0, r.stderr
    path = home / "openucwa" / "credentials.json"
    assert str(path) in r.stdout
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    saved = json.loads(path.read_text())
    assert saved["token"].startswith("cwt=") and saved["user"] == TOSH and saved["server"] == server.base

    bad = cli(tmp_path / "bad", "login", server.base, "--user", TOSH, password="wrong")
    assert bad.returncode == 3 and "error: wrong user name or password" in bad.stderr
    nobody = cli(tmp_path / "none", "send", "--to", LENE, "hi")
    assert nobody.returncode == 3 and "run `openucwa login" in nobody.stderr
    unreachable = cli(tmp_path / "x", "login", "http://127.0.0.1:9", "--user", TOSH, password="x")
    assert unreachable.returncode == 4 and "no UCWA server found" in unreachable.stderr


def test_send_while_another_process_listens(server, homes: dict[str, Path]) -> None:
    listener = Running(homes[LENE], "listen", "--json")
    try:
        listener.wait_err("listening as lenea@contoso.com")
        r = cli(homes[TOSH], "send", "--to", "sip:lenea@contoso.com", "Disk full on db-1 ✓")
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "delivered to sip:lenea@contoso.com"
        lines = listener.wait_out(lambda ls: any('"message"' in x for x in ls))
        events = [json.loads(x) for x in lines]
        assert events[0]["type"] == "invitation" and events[0]["from"] == "sip:toshm@contoso.com"
        msg = next(e for e in events if e["type"] == "message")
        assert (msg["text"], msg["from"], msg["name"]) == (
            "Disk full on db-1 ✓",
            "sip:toshm@contoso.com",
            "Tosh Meston",
        )

        # distinct failures, distinct exit codes
        nobody = cli(homes[TOSH], "send", "--to", "sip:nobody@contoso.com", "x", "--json")
        assert nobody.returncode == 11 and "no such user" in nobody.stderr
        assert json.loads(nobody.stdout)["error"] == "NotFoundError"
        offline = cli(homes[TOSH], "send", "--to", SARA, "x")
        assert offline.returncode == 12 and "not signed in anywhere" in offline.stderr
    finally:
        assert listener.stop() == 0


def test_listen_reply_with_runs_a_bot(server, homes: dict[str, Path]) -> None:
    bot = Running(homes[LENE], "listen", "--reply-with", "tr a-z A-Z")
    try:
        bot.wait_err("listening as")
        with Session(server.base, TOSH, PASSWORDS[TOSH]) as tosh:
            tosh.send_message(LENE, "status please")
            reply = next(n for n in tosh.listen(15) if getattr(n, "text", None))
        assert reply.text == "STATUS PLEASE" and reply.from_uri == "sip:lenea@contoso.com"
        bot.wait_out(lambda ls: any("Tosh Meston: status please" in line for line in ls))
    finally:
        bot.stop()


def test_chat_sends_lines_and_shows_answers(server, homes: dict[str, Path]) -> None:
    bot = Running(homes[LENE], "listen", "--reply-with", "echo pong: $OPENUCWA_TEXT")
    chat = None
    try:
        bot.wait_err("listening as")
        chat = Running(homes[TOSH], "chat", "sip:lenea@contoso.com")
        chat.wait_out(lambda ls: any("chatting with" in x for x in ls))
        chat.write("ping")
        lines = chat.wait_out(lambda ls: any("pong: ping" in x for x in ls))
        assert any("delivered" in x for x in lines) or chat.wait_out(
            lambda ls: any("delivered" in x for x in ls)
        )
        assert any("Lene Aaling" in x for x in lines if "pong" in x)
        chat.write("/history")
        chat.wait_out(lambda ls: any("you" in x and "ping" in x for x in ls))
        chat.write("/quit")
        assert chat.proc.wait(15) == 0
    finally:
        if chat:
            chat.stop()
        bot.stop()


def test_presence_contacts_and_search(server, homes: dict[str, Path]) -> None:
    r = cli(homes[TOSH], "presence", "--json")
    assert r.returncode == 0, r.stderr
    assert "availability" in json.loads(r.stdout)
    r = cli(homes[TOSH], "presence", "busy")
    assert r.returncode == 0 and r.stdout.strip() == "Busy", r.stderr
    assert cli(homes[TOSH], "presence", "sleepy").returncode == 2
    # contacts/search follow the people links; a server without them gets a clear message
    for args in (("contacts", "--json"), ("search", "Lene", "--json")):
        r = cli(homes[TOSH], *args)
        if r.returncode == 0:
            rows = [json.loads(x) for x in r.stdout.splitlines()]
            if args[0] == "search":
                assert {"name": "Lene Aaling", "uri": "sip:lenea@contoso.com"} in rows
        else:
            assert r.returncode == 6 and "this server does not offer" in r.stderr, r.stderr
