"""The SDK against a real server on loopback, both drivers, the same scenarios."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from openucwa.client import (
    AsyncSession,
    AuthError,
    ConversationEnded,
    Declined,
    IncomingInvitation,
    IncomingMessage,
    NetworkError,
    NoAnswer,
    NotFoundError,
    PGetReplaced,
    Session,
    Typing,
    Unavailable,
)
from tests.conftest import USERS, Database, Server, _seed, _start, free_port

from .conftest import PASSWORDS

TOSH, LENE, SARA = "toshm@contoso.com", "lenea@contoso.com", "sarad@contoso.com"


def messages(notes: list[Any]) -> list[IncomingMessage]:
    return [n for n in notes if isinstance(n, IncomingMessage)]


def ended(notes: list[Any]) -> bool:
    return any(isinstance(n, ConversationEnded) for n in notes)


def has_message(text: str):
    return lambda notes: any(m.text == text for m in messages(notes))


async def test_sign_in_creates_an_available_application(server, people) -> None:
    tosh = await people(server, TOSH)
    app = tosh.s.application
    assert app["rel"] == "application"
    assert tosh.s.token.startswith("cwt=")
    assert tosh.s.user_href.endswith("/oauth/user")
    assert "presence" in app["_embedded"]["me"]["_links"]  # makeMeAvailable was done
    assert tosh.s.core.next_href.startswith(tosh.s.core.app_url)


async def test_send_is_delivered_and_received(server, people) -> None:
    lene = await people(server, LENE)
    tosh = await people(server, TOSH)
    inbox = lene.collect(has_message("What's up? ünïcode ✓ & more"))
    href = await tosh.call("send_message", "sip:lenea@contoso.com", "What's up? ünïcode ✓ & more")
    assert href.startswith(tosh.s.core.app_url)
    notes = await asyncio.wait_for(inbox, 20)
    inv = next(n for n in notes if isinstance(n, IncomingInvitation))
    assert (inv.from_uri, inv.from_name) == ("sip:toshm@contoso.com", "Tosh Meston")
    (msg,) = messages(notes)
    assert (msg.from_uri, msg.from_name) == ("sip:toshm@contoso.com", "Tosh Meston")
    assert msg.time is not None

    # the reply goes back on the same conversation, and a second send reuses it
    back = tosh.collect(has_message("Not much, you?"))
    await lene.call("reply", msg.conversation, "Not much, you?", wait=True)
    (got,) = messages(await asyncio.wait_for(back, 20))
    assert got.from_uri == "sip:lenea@contoso.com" and got.from_name == "Lene Aaling"
    inbox = lene.collect(has_message("second"))
    await tosh.call("send_message", LENE, "second")
    await asyncio.wait_for(inbox, 20)
    assert len(tosh.s.conversations) == 1

    # typing shows on the other side; stopping ends the conversation on both
    seen = tosh.collect(lambda ns: any(isinstance(n, Typing) and n.typing for n in ns))
    await lene.call("set_typing", msg.conversation)
    typing = [n for n in await asyncio.wait_for(seen, 20) if isinstance(n, Typing)]
    assert typing[0].who == "Lene Aaling"
    ended = lene.collect(lambda ns: any(isinstance(n, ConversationEnded) for n in ns))
    await tosh.call("stop", got.conversation)
    end = [n for n in await asyncio.wait_for(ended, 20) if isinstance(n, ConversationEnded)]
    assert end[0].remote_uri == "sip:toshm@contoso.com"


async def test_delivery_failures_have_distinct_errors(server, people) -> None:
    tosh = await people(server, TOSH)
    with pytest.raises(NotFoundError, match="no such user"):
        await tosh.call("send_message", "sip:nobody@contoso.com", "hello?")
    with pytest.raises(Unavailable):
        await tosh.call("send_message", SARA, "are you there?")  # Sara has no available application

    lene = await people(server, LENE)
    lene.s.on_invitation(lambda inv: False)  # decline everything
    listening = lene.collect(ended, duration=10)
    with pytest.raises(Declined):
        await tosh.call("send_message", LENE, "coffee?")
    await listening


def own_server(tmp_path_factory: pytest.TempPathFactory, name: str, env: dict[str, str] | None) -> Server:
    """A node on a database of its own: two nodes sharing one database without Redis do not wake
    each other's P-GETs, and either node's reaper may fire a timer of the other's applications."""
    data = tmp_path_factory.mktemp(name)
    asyncio.run(_seed(str(data), None, USERS))
    return _start(Database(str(data), None), data, ("--no-event-aggregation",), env)


@pytest.fixture(scope="module")
def impatient_server(tmp_path_factory) -> Iterator[Server]:
    """A node whose invitations time out after 2 s instead of 30 s."""
    srv = own_server(tmp_path_factory, "impatient", {"OPENUCWA_INVITATION_TIMEOUT": "2"})
    yield srv
    srv.stop()


async def test_no_answer(impatient_server, people) -> None:
    srv = impatient_server
    lene = await people(srv, LENE, auto_accept=False)
    listening = lene.collect(ended, duration=10)
    tosh = await people(srv, TOSH)
    started = time.monotonic()
    with pytest.raises(NoAnswer):
        await tosh.call("send_message", LENE, "anyone?")
    assert time.monotonic() - started < 10
    await listening


async def test_auth_and_network_failures(server, people) -> None:
    with pytest.raises(AuthError, match="wrong user name or password"):
        await people(server, TOSH, "not-the-password")
    dead = type("Dead", (), {"base": f"http://127.0.0.1:{free_port()}"})()
    with pytest.raises(NetworkError, match="no UCWA server found"):
        await people(dead, TOSH)
    # a stored token is enough; a forged one is an AuthError when no password can renew it
    tosh = await people(server, TOSH)
    again = await people(server, TOSH, None, token=tosh.s.token, user_href=tosh.s.user_href)
    assert again.s.application["_links"]["self"] != tosh.s.application["_links"]["self"]
    with pytest.raises(AuthError, match="sign in again"):
        await people(server, TOSH, None, token="cwt=forged", user_href=tosh.s.user_href)


async def test_replaced_pget_is_reported(server, people) -> None:
    tosh = await people(server, TOSH)
    listening = tosh.collect(lambda ns: False, duration=20)
    # The SDK's P-GET must be on the server before the other client's: nothing outside the server
    # can see that, so this one handover over real sockets is given a moment (bounded, 0.3 s).
    await asyncio.sleep(0.3)
    headers = {"Authorization": f"Bearer {tosh.s.token}", "Accept": "application/json"}
    async with httpx.AsyncClient() as other:  # a second client takes over the same channel
        with pytest.raises(httpx.ReadTimeout):
            await other.get(tosh.s.core.next_href, headers=headers, timeout=1.0)
    with pytest.raises(PGetReplaced):
        await asyncio.wait_for(listening, 10)


@pytest.fixture(scope="module")
def restartable_server(tmp_path_factory) -> Iterator[Server]:
    """A node of its own (the shared one must not restart), restarted by each driver's test in turn."""
    srv = own_server(tmp_path_factory, "restartable", None)
    yield srv
    srv.stop()


async def test_server_restart_keeps_tokens_applications_and_channel(restartable_server, people) -> None:
    srv = restartable_server
    lene = await people(srv, LENE)
    tosh = await people(srv, TOSH)
    inbox = lene.collect(has_message("after the restart"), duration=40)
    await asyncio.to_thread(_crash_and_restart, srv)  # lene's P-GET breaks; the SDK reconnects
    await tosh.call("send_message", LENE, "after the restart")
    (msg,) = messages(await asyncio.wait_for(inbox, 40))
    assert msg.from_uri == "sip:toshm@contoso.com"
    assert lene.s.core.recreated == 0 and tosh.s.core.recreated == 0  # the applications survived
    # the stored token still signs in after the restart
    cls = Session if tosh.mode == "sync" else AsyncSession
    assert cls(srv.base, TOSH, token=tosh.s.token).core.token == tosh.s.token
    fresh = await people(srv, SARA, None, token=await _token(srv.base, SARA))
    assert fresh.s.application["rel"] == "application"


def _crash_and_restart(srv: Any) -> None:
    """Kill -9 and start again on the same port and data (a graceful stop waits for long polls)."""
    srv.proc.kill()
    srv.proc.wait()
    srv.proc = None
    srv.start()


async def _token(base: str, user: str) -> str:
    s = AsyncSession(base, user, PASSWORDS[user])
    try:
        return await s.sign_in()
    finally:
        await s.close()
