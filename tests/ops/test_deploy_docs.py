"""docs/nginx.conf and docs/openucwa.service are run or checked, not just shown.

nginx comes from Debian (``make test`` installs it when root, as it does Chromium); without it the
nginx test skips and says so.
"""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

import httpx
import pytest

from openucwa.config import Settings
from tests.conftest import free_port

from .nodes import Node, seeded, self_signed

DOCS = Path(__file__).resolve().parents[2] / "docs"
NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)


def nginx_for_test(tmp_path: Path, upstream: int, https: int, http: int) -> Path:
    cert, key = self_signed(tmp_path)
    conf = (DOCS / "nginx.conf").read_text()
    for old, new in (
        ("server 127.0.0.1:8080;", f"server 127.0.0.1:{upstream};"),
        ("listen 443 ssl;", f"listen 127.0.0.1:{https} ssl;"),
        ("listen 80;", f"listen 127.0.0.1:{http};"),
        ("/etc/ssl/certs/ucwa.contoso.com.pem", str(cert)),
        ("/etc/ssl/private/ucwa.contoso.com.key", str(key)),
    ):
        assert old in conf, old  # the documented values are the ones swapped here
        conf = conf.replace(old, new)
    path = tmp_path / "nginx.conf"
    path.write_text(conf)
    return path


@pytest.mark.skipif(NGINX is None, reason="nginx not installed (make test installs it when run as root)")
def test_the_nginx_example_terminates_tls_for_openucwa(start: Callable[..., Node], tmp_path: Path) -> None:
    assert NGINX is not None
    node = start(seeded(tmp_path / "data"), "--behind-proxy")
    upstream = int(node.base.rsplit(":", 1)[1])
    https, http = free_port(), free_port()
    conf = nginx_for_test(tmp_path, upstream, https, http)
    prefix = ["-p", str(tmp_path), "-c", str(conf)]
    globals_ = f"pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;"
    checked = subprocess.run([NGINX, "-t", *prefix, "-g", globals_], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    (tmp_path / "logs").mkdir(exist_ok=True)
    proc = subprocess.Popen([NGINX, *prefix, "-g", "daemon off; " + globals_])
    try:
        trust = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
        base = f"https://127.0.0.1:{https}"
        deadline = time.monotonic() + 10
        while True:
            try:
                health = httpx.get(base + "/healthz", verify=trust)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None, "nginx did not start"
                time.sleep(0.05)
        assert health.status_code == 200
        nginx_id = health.headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", nginx_id)  # nginx's $request_id, passed through
        root = httpx.get(base + "/", headers={"Accept": "application/json"}, verify=trust).json()
        assert root["_links"]["user"]["href"].startswith(base + "/")  # https links through the proxy
        assert httpx.get(base + "/metrics", verify=trust).status_code == 404  # never published
        redirect = httpx.get(f"http://127.0.0.1:{http}/x")
        assert redirect.status_code == 301 and redirect.headers["location"].startswith("https://")
    finally:
        proc.send_signal(signal.SIGQUIT)
        proc.wait(10)


def test_the_systemd_unit_uses_real_flags_and_settings() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    unit.read(DOCS / "openucwa.service")
    service = unit["Service"]
    argv = shlex.split(service["ExecStart"])
    assert argv[0].endswith("/openucwa") and argv[1] == "serve"
    help_text = subprocess.run(
        [sys.executable, "-m", "openucwa", "serve", "--help"], capture_output=True, text=True, check=True
    ).stdout
    flags = [a for a in argv[2:] if a.startswith("--")]
    assert flags and all(f in help_text for f in flags), flags
    names = {f.name.upper() for f in fields(Settings)}
    text = (DOCS / "openucwa.service").read_text()
    for var in re.findall(r"OPENUCWA_([A-Z_]+)", text):
        assert var in names, var
    assert service["KillSignal"] == "SIGTERM" and "Restart" in service
