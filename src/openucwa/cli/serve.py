"""``openucwa serve``: settings from flags and ``OPENUCWA_*``, checks before listening (database,
Redis, the port), then uvicorn with the connection limits of ``server.limits``."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer

from .output import fail
from .server_commands import DatabaseUrl, DataDir, services


async def preflight(settings: Any) -> None:
    """Reach (and migrate) the database and reach Redis before serving, so a bad URL is one line."""
    try:
        async with services(settings.data_dir, settings.database_url):
            pass
    except OSError as exc:
        raise OSError(f"cannot reach the database: {exc}") from exc
    if settings.redis_url:
        import redis.asyncio as aioredis

        client = aioredis.from_url(settings.redis_url)
        try:
            await client.ping()
        except (aioredis.RedisError, OSError) as exc:
            raise OSError(f"cannot reach Redis at {settings.redis_url}: {exc}") from exc
        finally:
            await client.aclose()


def _can_listen(host: str, port: int) -> None:
    """Binds once before uvicorn does, so a port in use is one ``error:`` line, whatever the log
    format (uvicorn would log it among its start-up lines and exit)."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
            probe.bind(infos[0][4])
    except OSError as exc:
        raise OSError(f"cannot listen on {host}:{port}: {(exc.strerror or str(exc)).lower()}") from exc


# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def unmap_large_blocks() -> bool:
    """Blocks of 4 MiB and more are mapped when allocated and unmapped when freed; True if set.

    glibc raises its mmap threshold to the size of the largest mapped block freed (up to 32 MiB),
    and its trim threshold to twice that: after the first password check, every argon2 check's
    19 MiB comes from, and stays in, the malloc arena of the worker thread that ran it, ≈ 38 MB
    resident for good with two checks at once (a quarter of an idle server's memory;
    bench/README.md "Idle pending P-GETs"). Fixed thresholds give it back after each check, for
    ≈ 7 ms more per check (its pages are faulted in again); smaller blocks come from the heap as
    they did once the threshold had risen.
    """
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(_M_MMAP_THRESHOLD, 4 << 20)) and bool(mallopt(_M_TRIM_THRESHOLD, 8 << 20))


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    data_dir: DataDir = "./data",
    database_url: DatabaseUrl = None,
    redis_url: Annotated[
        str | None, typer.Option("--redis-url", help="redis://… to share wakes between nodes.")
    ] = None,
    public_base_url: Annotated[str | None, typer.Option(help="Base URL for discovery links.")] = None,
    behind_proxy: Annotated[bool, typer.Option(help="Honour X-Forwarded-Host/Proto.")] = False,
    allowed_origin: Annotated[
        list[str] | None, typer.Option(help="Allowed page origin (repeatable).")
    ] = None,
    allowed_host: Annotated[
        list[str] | None, typer.Option(help="Host name clients may address the server by (repeatable).")
    ] = None,
    event_aggregation: Annotated[bool, typer.Option(help="Off: release every event at once (tests).")] = True,
    backlog: Annotated[int, typer.Option(help="Listen backlog for bursts of connecting clients.")] = 4096,
    log_level: Annotated[
        str, typer.Option(help="Log level; info and below include the access log.")
    ] = "info",
    log_format: Annotated[
        str | None, typer.Option(help="json, console, or auto (console on a terminal, else json).")
    ] = None,
    tls_cert: Annotated[
        str | None, typer.Option(help="PEM certificate chain: serve HTTPS (with --tls-key).")
    ] = None,
    tls_key: Annotated[str | None, typer.Option(help="PEM private key of --tls-cert.")] = None,
    metrics: Annotated[
        bool | None, typer.Option("--metrics/--no-metrics", help="Serve /metrics (default on).")
    ] = None,
    metrics_token: Annotated[
        str | None,
        typer.Option(help="Bearer token /metrics requires (prefer OPENUCWA_METRICS_TOKEN: argv is public)."),
    ] = None,
    ldap_url: Annotated[list[str] | None, typer.Option(help="Company directory URL (repeatable).")] = None,
) -> None:
    """Run the UCWA server."""
    import uvicorn

    from ..config import SettingsError, from_env
    from ..core.links import ROOT_PATH
    from ..server import logs
    from ..server.app import create_app
    from ..server.limits import HttpLimits, protocol_class

    try:
        settings = from_env(
            host=host,
            port=port,
            data_dir=data_dir,
            database_url=database_url,
            redis_url=redis_url,
            public_base_url=public_base_url,
            behind_proxy=behind_proxy or None,
            allowed_origins=tuple(allowed_origin) if allowed_origin else None,
            allowed_hosts=tuple(allowed_host) if allowed_host else None,
            event_aggregation=None if event_aggregation else False,
            ldap_url=tuple(ldap_url) if ldap_url else None,
            log_format=log_format,
            tls_cert=tls_cert,
            tls_key=tls_key,
            metrics=metrics,
            metrics_token=metrics_token,
        )
        logs.configure(log_level, settings.log_format)
    except (SettingsError, ValueError) as exc:
        fail(str(exc))
    try:
        asyncio.run(preflight(settings))
        _can_listen(host, port)
    except OSError as exc:
        fail(str(exc))
    unmap_large_blocks()
    scheme = "https" if settings.tls_cert else "http"
    typer.echo(f"OpenUCWA serving on {scheme}://{host}:{port}/ (discovery: {ROOT_PATH})")
    try:
        uvicorn.run(
            create_app(settings),
            host=host,
            port=port,
            backlog=backlog,
            log_level=log_level,
            log_config=None,  # server.logs configured the root logger: one format for every line
            access_log=False,  # the access log is ours (server.observability): ids, routes, no secrets
            ssl_certfile=settings.tls_cert,
            ssl_keyfile=settings.tls_key,
            http=protocol_class(HttpLimits.from_settings(settings)),
            timeout_keep_alive=settings.keep_alive_timeout,
            proxy_headers=False,  # forwarding headers count only with --behind-proxy (server/base.py)
            loop="uvloop",
            interface="asgi3",  # OpenUcwa.__call__ is not a coroutine function, which "auto" expects
            lifespan="on",
            timeout_graceful_shutdown=2,
        )
    except OSError as exc:
        fail(str(exc))
