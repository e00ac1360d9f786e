"""Logging for ``openucwa serve``: one line per event, JSON for machines or coloured for a terminal.

Two paths share one look. The access log (one line per request, ``server.observability``) goes
straight through structlog to stderr: it runs for every request, so it skips the stdlib logging
machinery. Everything else (uvicorn, errors with their tracebacks) keeps stdlib loggers and is
rendered by the same processors. Every line carries the request id of the request it belongs to,
if any, from a context variable the middleware sets.

What must never be written: tokens, passwords, Authorization or Cookie headers, request bodies.
The access log is built from chosen fields only (no headers, no query string, no body); other lines
pass through ``scrub``, which masks anything shaped like a token or a password field, in case an
exception message ever carries one.
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import orjson
import structlog
from structlog.typing import Processor

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("openucwa_request_id", default=None)
ACCESS_LOGGER = "openucwa.access"

_SECRETS = re.compile(
    r"(?P<keep>cwt=|bearer\s+|password[\"']?\s*[=:]\s*[\"']?|access_token[\"']?\s*[=:]\s*[\"']?)"
    r"[^\s&\"',;]+",
    re.IGNORECASE,
)
_state = {"access": False}


def scrub(text: str) -> str:
    """Masks token and password values; the rest of the text stays readable."""
    return _SECRETS.sub(r"\g<keep>[redacted]", text)


def _add_request_id(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    rid = request_id.get()
    if rid is not None:
        event.setdefault("request_id", rid)
    return event


def _scrub_strings(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = scrub(value)
    return event


def _json_text(obj: Any, **_kw: Any) -> str:
    return orjson.dumps(obj, default=str).decode()


def resolve_format(fmt: str, stream: TextIO) -> str:
    if fmt == "auto":
        return "console" if stream.isatty() else "json"
    return fmt


def configure(level: str = "info", fmt: str = "auto", stream: TextIO | None = None) -> None:
    """Sets up structlog and the stdlib root logger; the access log is on at ``info`` and below."""
    out = stream or sys.stderr
    fmt = resolve_format(fmt, out)
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    timestamp = structlog.processors.TimeStamper(fmt="iso", utc=True)
    shared: list[Processor] = [structlog.processors.add_log_level, timestamp, _add_request_id]
    text_renderer: Processor = (
        structlog.processors.JSONRenderer(serializer=_json_text)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    # The access log: already-safe fields, rendered once and written with one call.
    if fmt == "json" and hasattr(out, "buffer"):
        renderer: Processor = structlog.processors.JSONRenderer(serializer=orjson.dumps)
        factory: Any = structlog.BytesLoggerFactory(out.buffer)
    else:
        renderer, factory = text_renderer, structlog.WriteLoggerFactory(out)
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=factory,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                _scrub_strings,
                text_renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(numeric)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        lg = logging.getLogger(name)
        lg.handlers = []
        lg.propagate = True
    logging.getLogger("alembic").setLevel(max(numeric, logging.WARNING))  # "Context impl…" per start
    _state["access"] = numeric <= logging.INFO


def access_logger() -> Any | None:
    """The access log's logger, or None when ``configure`` did not turn it on (in-process tests)."""
    return structlog.get_logger(ACCESS_LOGGER) if _state["access"] else None


__all__ = ["access_logger", "configure", "request_id", "scrub"]
