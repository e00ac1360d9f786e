"""Operations against real ``openucwa serve`` processes: logs, metrics, TLS, backup and restore.

SQLite only, each test on a data directory of its own: backups and logs are about the process and
its file, and one node is enough to show them.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import free_port
from tests.e2e.people import connect, messaging_links, party, text_of
from tests.e2e.ucwa import JSON, find

from .nodes import Node, openucwa, seeded, self_signed


def scrape(base: str) -> dict[str, float]:
    text = httpx.get(base + "/metrics").text
    return {
        s.name + (json.dumps(s.labels, sort_keys=True) if s.labels else ""): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_logs_carry_request_ids_and_never_secrets(start: Callable[..., Node], tmp_path: Path) -> None:
    node = start(seeded(tmp_path / "data"), "--no-event-aggregation", "--log-format", "json")
    tosh = party(node, "toshm@contoso.com", "tosh-secret")
    lene = party(node, "lenea@contoso.com", "lene-secret")
    wrong = {"grant_type": "password", "username": "lenea@contoso.com", "password": "not-lene-secret-9"}
    assert httpx.post(node.base + "/WebTicket/oauthtoken", data=wrong).status_code == 400
    tev, _lev, _ = connect(tosh, lene)
    send = messaging_links(tev)["sendMessage"]["href"]
    r = tosh.s.post(
        send, content=b"disk 95% full", headers={"Content-Type": "text/plain", "X-Request-Id": "send-42"}
    )
    assert r.status_code == 201 and r.headers["x-request-id"] == "send-42"
    got = lene.ch.until("completed", "message")
    assert [text_of(e["_embedded"]["message"]) for e in got if e["link"]["rel"] == "message"] == [
        "disk 95% full"
    ]
    unnamed = tosh.s.get(tosh.s.self_href)
    metrics = scrape(node.base)
    node.stop()

    assert metrics["openucwa_messages_sent_total"] == 1
    assert metrics["openucwa_messages_delivered_total"] == 1
    assert metrics["openucwa_events_delivered_total"] >= 4
    assert metrics["openucwa_sign_in_failures_total"] == 1
    assert metrics["openucwa_applications_active"] == 2
    assert metrics["openucwa_conversations_active"] == 1
    sends = 'openucwa_http_requests_total{"method": "POST", "route": "/ucwa/oauth/v1/applications/{app_id}/'
    assert any(k.startswith(sends) and '"status": "201"' in k for k in metrics)

    text = node.log.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert len(lines) == len(text.splitlines()), "every line is one JSON object"
    access = [e for e in lines if e["event"] == "request"]
    sent = [e for e in access if e["request_id"] == "send-42"]
    assert len(sent) == 1 and sent[0]["status"] == 201 and sent[0]["method"] == "POST"
    assert sent[0]["route"].endswith("/messaging/messages") and sent[0]["duration_ms"] > 0
    assert [e["status"] for e in access if e["request_id"] == unnamed.headers["x-request-id"]] == [200]
    assert any(e["path"] == "/WebTicket/oauthtoken" and e["status"] == 400 for e in access)
    tokens = (tosh.s.token, lene.s.token, tosh.s.token.removeprefix("cwt="))
    for secret in (*tokens, "tosh-secret", "lene-secret"):
        assert secret not in text
    assert "not-lene-secret-9" not in text and "disk 95% full" not in text  # no bodies
    assert "authorization" not in text.lower() and "cookie" not in text.lower()


def test_native_tls_and_https_links(start: Callable[..., Node], tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    trust = ssl.create_default_context(cafile=str(cert))
    node = start(seeded(tmp_path / "data"), "--tls-cert", str(cert), "--tls-key", str(key), verify=trust)
    root = httpx.get(node.base + "/", headers=JSON, verify=trust)
    user = root.json()["_links"]["user"]["href"]
    assert user.startswith(node.base + "/") and node.base.startswith("https://")
    challenge = httpx.get(user, headers=JSON, verify=trust)
    assert challenge.status_code == 401
    assert f'href="{node.base}/WebTicket/oauthtoken"' in challenge.headers["www-authenticate"]
    form = {"grant_type": "password", "username": "toshm@contoso.com", "password": "tosh-secret"}
    assert httpx.post(node.base + "/WebTicket/oauthtoken", data=form, verify=trust).status_code == 200
    with pytest.raises(httpx.TransportError):  # no plain HTTP on the TLS port
        httpx.get(node.base.replace("https", "http") + "/healthz", timeout=2)
    with pytest.raises(httpx.ConnectError):  # an untrusted certificate is refused by clients
        httpx.get(node.base + "/healthz")


def test_tls_needs_both_files(tmp_path: Path) -> None:
    cert, _key = self_signed(tmp_path)
    done = openucwa("serve", "--data-dir", str(tmp_path), "--tls-cert", str(cert), check=False)
    assert done.returncode != 0 and done.stderr.startswith("error: tls_cert, tls_key")


class Acks:
    """Messages answered 201, with when the answer was in hand; ``reached(n)`` waits for n of them."""

    def __init__(self) -> None:
        self.items: list[tuple[str, float]] = []
        self._want = 0
        self._enough = asyncio.Event()

    def add(self, text: str) -> None:
        self.items.append((text, time.monotonic()))
        if len(self.items) >= self._want:
            self._enough.set()

    async def reached(self, n: int) -> None:
        self._want = n
        self._enough.clear()
        if len(self.items) < n:
            async with asyncio.timeout(60):
                await self._enough.wait()


async def _send_until(stop: asyncio.Event, send: str, headers: dict[str, str], tag: str, acks: Acks) -> None:
    async with httpx.AsyncClient(timeout=30, headers={**headers, "Content-Type": "text/plain"}) as http:
        i = 0
        while not stop.is_set():
            text = f"{tag}-{i}"
            if (await http.post(send, content=text.encode())).status_code == 201:
                acks.add(text)
            i += 1


async def _load_and_backup(
    send: str, headers: dict[str, str], data: Path, file: Path
) -> tuple[set[str], int]:
    """Four senders at once; the backup starts once 60 messages are in. Returns the messages
    acknowledged before it started, and the return code of ``openucwa backup``."""
    stop = asyncio.Event()
    acks = Acks()
    senders = [asyncio.create_task(_send_until(stop, send, headers, f"m{k}", acks)) for k in range(4)]
    try:
        await acks.reached(60)
        began = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "openucwa", "backup", str(file), "--data-dir", str(data)
        )
        rc = await proc.wait()
        await acks.reached(len(acks.items) + 20)  # and the load goes on after it
    finally:
        stop.set()
        await asyncio.gather(*senders)
    return {text for text, at in acks.items if at < began}, rc


def test_backup_under_load_restores_every_acknowledged_message(
    start: Callable[..., Node], tmp_path: Path
) -> None:
    data = seeded(tmp_path / "data")
    node = start(data, "--no-event-aggregation", "--log-level", "warning")
    tosh = party(node, "toshm@contoso.com", "tosh-secret")
    lene = party(node, "lenea@contoso.com", "lene-secret")
    tev, _lev, _ = connect(tosh, lene)
    send = messaging_links(tev)["sendMessage"]["href"]
    file = tmp_path / "backup.sqlite3"
    before, rc = asyncio.run(_load_and_backup(tosh.s.url(send), tosh.s.headers, data, file))
    assert rc == 0 and len(before) >= 60
    node.stop()

    fresh = tmp_path / "restored"
    done = openucwa("restore", str(file), "--data-dir", str(fresh))
    assert done.stdout.startswith(f"restored {file}")
    again = start(fresh, "--no-event-aggregation")
    assert httpx.get(again.base + "/readyz").json()["status"] == "ready"
    conv = find(tev, "updated", "conversation", state="Connected")["link"]["href"]
    path = conv.removeprefix(node.base)
    headers = tosh.s.headers  # tokens and applications are in the backup too
    href = httpx.get(again.base + path, headers=headers).json()["_links"]["history"]["href"] + "?limit=200"
    seen: list[str] = []
    while href:
        page = httpx.get(href if href.startswith("http") else again.base + href, headers=headers).json()
        seen += [text_of(m) for m in page["_embedded"].get("message", [])]
        href = page["_links"].get("next", {}).get("href")
    missing = before - set(seen)
    assert not missing, f"{len(missing)} acknowledged messages lost, e.g. {sorted(missing)[:5]}"
    assert all(seen.count(t) == 1 for t in before)
    assert len(seen) == len(set(seen))


def test_restore_refuses_while_a_server_runs(start: Callable[..., Node], tmp_path: Path) -> None:
    data = seeded(tmp_path / "data")
    node = start(data)
    file = tmp_path / "copy.sqlite3"
    openucwa("backup", str(file), "--data-dir", str(data))
    refused = openucwa("restore", str(file), "--data-dir", str(data), check=False)
    assert refused.returncode == 1 and "stop it first" in refused.stderr
    assert httpx.get(node.base + "/readyz").status_code == 200  # untouched
    node.stop()
    assert openucwa("restore", str(file), "--data-dir", str(data)).returncode == 0


REDIS_SERVER = shutil.which("redis-server")


@pytest.mark.redis
@pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server not installed: no private Redis to stop")
def test_readyz_says_redis_went_away_while_healthz_stays_up(
    start: Callable[..., Node], tmp_path: Path
) -> None:
    """A Redis of the test's own (the shared one must keep running), stopped under a live node."""
    assert REDIS_SERVER is not None
    port = free_port()
    redis = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).returncode:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
        node = start(seeded(tmp_path / "data"), "--redis-url", f"redis://127.0.0.1:{port}/0")
        ready = httpx.get(node.base + "/readyz")
        assert ready.status_code == 200 and ready.json()["checks"]["redis"] == "ok"
    finally:
        redis.terminate()
        redis.wait(10)
    down = httpx.get(node.base + "/readyz", timeout=10)
    assert down.status_code == 503
    checks = down.json()["checks"]
    assert checks["database"] == "ok" and checks["redis"].startswith(("unreachable", "no answer"))
    assert httpx.get(node.base + "/healthz").status_code == 200
