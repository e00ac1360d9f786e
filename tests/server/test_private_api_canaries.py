"""Canaries for the private APIs two hot paths lean on; each fails loudly, naming what moved.

``server/protocol.py`` subclasses uvicorn's httptools protocol and replaces attributes uvicorn
sets in its constructor; ``store/sqlite/statements.py`` compiles statements with SQLAlchemy and reads the
compiled result columns and type processors SQLAlchemy itself uses. ``pyproject.toml`` caps both
libraries below the next minor version; before raising a cap, these tests must pass on it.
"""

from __future__ import annotations

import asyncio
import inspect
from importlib.metadata import version

import sqlalchemy as sa
from uvicorn.config import Config
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

from openucwa.server.protocol import JoinedWritesProtocol, _LazyPipeline
from openucwa.store import schema
from openucwa.store.sqlite.statements import _DIALECT, _compile


def test_uvicorn_protocol_still_has_what_we_replace() -> None:
    source = inspect.getsource(HttpToolsProtocol)
    for what in (
        "self.pipeline",
        "self.flow",
        "self.cycle",
        "def on_headers_complete",
        "def connection_made",
    ):
        assert what in source, f"uvicorn {version('uvicorn')}: HttpToolsProtocol no longer has {what}"
    assert "_is_writable_event" in inspect.getsource(FlowControl), "FlowControl's event was renamed"
    assert "message_event" in inspect.getsource(RequestResponseCycle), "the cycle's event was renamed"
    for method in ("appendleft", "pop"):  # what uvicorn calls on its pipeline deque
        assert f"pipeline.{method}" in source, f"uvicorn now calls pipeline.{method} differently"


async def test_our_protocol_builds_and_takes_a_connection() -> None:
    config = Config(app=lambda scope, receive, send: None, http="httptools")
    config.load()
    proto = JoinedWritesProtocol(config=config, server_state=ServerState(), app_state={})
    assert isinstance(proto.pipeline, _LazyPipeline)

    class Transport(asyncio.Transport):
        def get_extra_info(self, name: str, default: object = None) -> object:
            return {"peername": ("127.0.0.1", 5), "sockname": ("127.0.0.1", 80)}.get(name, default)

        def is_closing(self) -> bool:
            return False

    proto.connection_made(Transport())
    assert proto.flow._is_writable_event.is_set()


def test_sqlalchemy_compiled_statements_expose_what_the_fast_path_reads() -> None:
    stmt = sa.select(schema.messages).where(schema.messages.c.conv_id == sa.bindparam("b_conv"))
    compiled = stmt.compile(dialect=_DIALECT, column_keys=[])
    columns = compiled._result_columns
    assert columns, f"SQLAlchemy {sa.__version__}: compiled._result_columns is gone or empty"
    assert all(hasattr(c, "keyname") for c in columns)
    assert all(hasattr(c.type, "_cached_result_processor") for c in columns)
    sql, _constants, names, procs = _compile(stmt, ())
    assert ":b_conv" in sql and "conv_id" in names and len(procs) == len(names)


def test_starlette_call_still_does_only_what_our_app_does_without_a_frame() -> None:
    """``server.app.OpenUcwa.__call__`` repeats Starlette's (not as a coroutine: held P-GETs)."""
    from starlette.applications import Starlette

    body = [line.strip() for line in inspect.getsource(Starlette.__call__).splitlines()[1:] if line.strip()]
    assert body == [
        'scope["app"] = self',
        "if self.middleware_stack is None:",
        "self.middleware_stack = self.build_middleware_stack()",
        "await self.middleware_stack(scope, receive, send)",
    ], f"starlette {version('starlette')}: Starlette.__call__ changed; update OpenUcwa.__call__"


async def test_connections_share_the_server_address_and_client_host() -> None:
    config = Config(app=lambda scope, receive, send: None, http="httptools")
    config.load()

    class Transport(asyncio.Transport):
        def get_extra_info(self, name: str, default: object = None) -> object:
            peer = ("".join(["127.0.0.", "1"]), 5000)  # a new string each time, as a socket's
            return {"peername": peer, "sockname": ("127.0.0.1", 80)}.get(name, default)

        def is_closing(self) -> bool:
            return False

    first, second = (
        JoinedWritesProtocol(config=config, server_state=ServerState(), app_state={}) for _ in range(2)
    )
    first.connection_made(Transport())
    second.connection_made(Transport())
    assert first.server == ("127.0.0.1", 80) and first.server is second.server
    assert first.client is not None and second.client is not None
    assert first.client == ("127.0.0.1", 5000) and first.client[0] is second.client[0]
