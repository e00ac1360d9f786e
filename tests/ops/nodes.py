"""Helpers for tests/ops: real ``openucwa serve`` nodes on their own data, certificates, the CLI."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import USERS, _seed, free_port


@dataclass
class Node:
    base: str
    proc: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def openucwa(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "openucwa", *args], capture_output=True, text=True, timeout=120, check=check
    )


def node_factory(tmp_path: Path) -> Iterator[Callable[..., Node]]:
    """``start(data_dir, *flags, verify=…)`` → a node serving that directory, logging to a file."""
    nodes: list[Node] = []

    def go(data_dir: Path, *flags: str, verify: Any = True) -> Node:
        port = free_port()
        log = tmp_path / f"server-{port}.log"
        with open(log, "wb") as err, open(log.with_suffix(".out"), "wb") as out:
            proc = subprocess.Popen(  # logs go to stderr; stdout has the one-line banner
                [
                    sys.executable,
                    "-m",
                    "openucwa",
                    "serve",
                    "--port",
                    str(port),
                    "--data-dir",
                    str(data_dir),
                    *flags,
                ],
                stdout=out,
                stderr=err,
            )
        scheme = "https" if "--tls-cert" in flags else "http"
        node = Node(f"{scheme}://127.0.0.1:{port}", proc, log)
        nodes.append(node)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                httpx.get(node.base + "/healthz", timeout=0.5, verify=verify)
                return node
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("server did not start in 20 s")

    yield go
    for node in nodes:
        node.stop()


def seeded(path: Path) -> Path:
    asyncio.run(_seed(str(path), None, USERS))
    return path


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for localhost and 127.0.0.1, made here (no network, no CA)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    os.chmod(key_file, 0o600)
    return cert_file, key_file
