"""OpenUCWA Web end to end: Debian's Chromium against a real ``openucwa serve`` on loopback.

The browser tests find controls by the accessible names the issue makes a contract ("User name",
"Sign in", "Search people", "Message", "Send", "My status", "Add people", "Accept", "Sign out").
Screenshots of the main views land in ``test-artifacts/web/`` (or ``$OPENUCWA_TEST_ARTIFACTS``).
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.conftest import USERS, Server

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Page

sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("OPENUCWA_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "web"
AXE = ROOT / "webapp" / "node_modules" / "axe-core" / "axe.min.js"
TOSH, LENE, SARA = "toshm@contoso.com", "lenea@contoso.com", "sarad@contoso.com"
TIMEOUT = 15_000


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("OPENUCWA_")}
    return subprocess.run(
        [sys.executable, "-m", "openucwa", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**base, "NO_COLOR": "1", **(env or {})},
    )


def add_contact(srv: Server, owner: str, contact: str) -> None:
    """Contact lists are the operator's (read-only in UCWA); already present is fine."""
    cli("contact", "add", owner, contact, "--data-dir", srv.data_dir)


def remove_contact(srv: Server, owner: str, contact: str) -> None:
    """The database outlives the test: other tests expect these users to have no contacts."""
    cli("contact", "remove", owner, contact, "--data-dir", srv.data_dir)


async def close_tab(tab: Tab, *, context: bool = True) -> None:
    """Sign out if still signed in (others must not see this user Online later), then close."""
    try:
        out = tab.page.get_by_role("button", name="Sign out")
        if await out.count():
            await out.click(timeout=5000)
            await tab.page.get_by_role("button", name="Sign in").wait_for(timeout=5000)
    except Exception:  # the page may be gone already: closing the context is what matters
        pass
    if context:
        await tab.context.close()


# -- without a browser ------------------------------------------------------------------------------


@sqlite_only
def test_root_serves_the_app_to_browsers_and_discovery_to_json_clients(server: Server) -> None:
    page = httpx.get(server.base + "/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-cache"
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.text), "inline script in index.html"
    assets = re.findall(r'(?:src|href)="(/app/assets/[^"]+)"', page.text)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    for a in assets:
        r = httpx.get(server.base + a)
        assert r.status_code == 200, a
        assert "immutable" in r.headers["cache-control"] and "max-age=31536000" in r.headers["cache-control"]
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["content-type"].startswith("text/css" if a.endswith(".css") else "text/javascript")
        assert r.headers.get("content-encoding") == "gzip", "assets are sent compressed"
        plain = httpx.get(server.base + a, headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers and plain.content == r.content
    assert httpx.get(server.base + "/app/assets/nothing-0000.js").status_code == 404

    for accept in ("application/json", "", "text/html, application/json"):
        r = httpx.get(server.base + "/", headers={"Accept": accept} if accept else {})
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/json"), accept
        assert r.json()["_links"]["user"]["href"].endswith(
            "/Autodiscover/AutodiscoverService.svc/root/oauth/user"
        )


# -- helpers for the browser tests ------------------------------------------------------------------


class Tab:
    """One signed-in browser tab, with the console errors it logged (CSP violations among them)."""

    def __init__(self, context: BrowserContext, page: Page, name: str) -> None:
        self.context, self.page, self.name = context, page, name
        self.errors: list[str] = []
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)

    async def shot(self, what: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{what}.png"
        await self.page.screenshot(path=str(path))
        return path


async def open_tab(browser: Browser, srv: Server, name: str, **ctx: Any) -> Tab:
    context = await browser.new_context(**{"viewport": {"width": 1100, "height": 720}, **ctx})
    context.set_default_timeout(TIMEOUT)
    page = await context.new_page()
    tab = Tab(context, page, name)
    await page.goto(srv.base + "/")
    return tab


async def sign_in(tab: Tab, user: str, password: str | None = None) -> None:
    from playwright.async_api import expect

    page = tab.page
    await page.get_by_label("User name").fill(user)
    await page.get_by_label("Password").fill(password or USERS[user][1])
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible(timeout=TIMEOUT)


async def axe_check(tab: Tab, view: str) -> None:
    """No serious or critical axe-core violation on this view (evaluate is not subject to the CSP)."""
    if not AXE.exists():
        pytest.skip(f"{AXE} missing: run `make install` (npm ci in webapp/)")
    page = tab.page
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE.read_text(encoding="utf-8") + "\n;0")
    result = await page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' '))}))"
    )
    bad = [v for v in result if v["impact"] in ("serious", "critical")]
    assert not bad, f"axe on {view}: {bad}"


async def open_chat_by_search(tab: Tab, query: str, name: str) -> None:
    page = tab.page
    await page.get_by_label("Search people").fill(query)
    results = page.get_by_role("list", name="Search people results")
    await results.get_by_role("button", name=re.compile(name)).click()


def log(tab: Tab) -> Any:
    return tab.page.get_by_role("log", name="Chat history")


class RawUser:
    """A UCWA client written against the wire, for what the SDK does not do (HTML messages, bursts)."""

    def __init__(self, base: str, user: str) -> None:
        self.http = httpx.Client(base_url=base, timeout=10, headers={"Accept": "application/json"})
        r = self.http.post(
            "/WebTicket/oauthtoken",
            data={"grant_type": "password", "username": user, "password": USERS[user][1]},
        )
        self.http.headers["Authorization"] = "Bearer " + r.json()["access_token"]
        user_res = self.http.get("/Autodiscover/AutodiscoverService.svc/root/oauth/user").json()
        body = {"UserAgent": "e2e raw", "EndpointId": str(uuid.uuid4()), "Culture": "en-US"}
        app = self.http.post(user_res["_links"]["applications"]["href"], json=body).json()
        me = app["_embedded"]["me"]["_links"]["makeMeAvailable"]["href"]
        mma = {"SupportedModalities": ["Messaging"], "SupportedMessageFormats": ["Plain", "Html"]}
        assert self.http.post(me, json=mma).status_code == 204
        self.app = self.http.get(app["_links"]["self"]["href"]).json()
        self.next = self.app["_links"]["events"]["href"]
        self.send_href: str | None = None

    def start(self, to: str) -> None:
        start = self.app["_embedded"]["communication"]["_links"]["startMessaging"]["href"]
        body = {"to": f"sip:{to}", "operationId": str(uuid.uuid4()), "importance": "Normal"}
        assert self.http.post(start, json=body).status_code == 201

    def wait_connected(self, deadline_s: float = 15) -> None:
        deadline = time.monotonic() + deadline_s
        while self.send_href is None and time.monotonic() < deadline:
            try:
                page = self.http.get(self.next, timeout=2).json()
            except httpx.ReadTimeout:
                continue
            self.next = (page["_links"].get("next") or page["_links"].get("resync"))["href"]
            for sender in page.get("sender", []):
                for ev in sender.get("events", []):
                    res = (ev.get("_embedded") or {}).get("messaging") or {}
                    if ev["link"]["rel"] == "messaging" and "sendMessage" in res.get("_links", {}):
                        self.send_href = res["_links"]["sendMessage"]["href"]
        assert self.send_href, "the conversation did not connect"

    def close(self) -> None:
        """Others must not see this user Online after the test (the database outlives it)."""
        self.http.delete(self.app["_links"]["self"]["href"])
        self.http.close()

    def send(self, text: str, content_type: str = "text/plain; charset=utf-8") -> None:
        assert self.send_href
        r = self.http.post(self.send_href, content=text.encode(), headers={"Content-Type": content_type})
        assert r.status_code == 201, r.text


# -- the browser tests ------------------------------------------------------------------------------


@sqlite_only
@pytest.mark.browser
@pytest.mark.asyncio(loop_scope="session")
async def test_wrong_password_is_said_on_the_page(browser: Browser, server: Server) -> None:
    from playwright.async_api import expect

    tab = await open_tab(browser, server, "wrong")
    try:
        dialogs: list[str] = []
        tab.page.on("dialog", lambda d: dialogs.append(d.message))
        await axe_check(tab, "sign-in")
        await tab.shot("01-sign-in")
        await tab.page.get_by_label("User name").fill(TOSH)
        await tab.page.get_by_label("Password").fill("not-the-password")
        await tab.page.get_by_role("button", name="Sign in").click()
        await expect(tab.page.get_by_role("alert")).to_contain_text("Wrong user name or password")
        await expect(tab.page.get_by_role("button", name="Sign in")).to_be_enabled()
        assert not dialogs
        assert await tab.page.evaluate("() => sessionStorage.length") == 0
        assert await tab.page.evaluate("() => document.cookie") == ""
    finally:
        await close_tab(tab)


@sqlite_only
@pytest.mark.browser
@pytest.mark.asyncio(loop_scope="session")
async def test_two_people_chat_then_a_third_joins(
    browser: Browser, make_server: Callable[..., Server]
) -> None:
    from playwright.async_api import expect

    srv = make_server("--no-event-aggregation")
    add_contact(srv, TOSH, LENE)
    add_contact(srv, LENE, TOSH)
    tosh = await open_tab(browser, srv, "tosh")
    lene = await open_tab(browser, srv, "lene")
    sara = await open_tab(browser, srv, "sara")
    try:
        await sign_in(tosh, TOSH)
        await sign_in(lene, LENE)
        t, le = tosh.page, lene.page
        # Presence: each sees the other in the contact list, live.
        lene_row = t.get_by_role("region", name="Contacts").get_by_role(
            "button", name=re.compile("^Lene Aaling")
        )
        await expect(lene_row).to_have_accessible_name(re.compile("Online"))
        await le.get_by_label("My status").select_option(label="Busy")
        await expect(lene_row).to_have_accessible_name(re.compile("Busy"))
        await le.get_by_label("My status").select_option(label="Online")
        await expect(lene_row).to_have_accessible_name(re.compile("Online"))
        token = await t.evaluate("() => JSON.parse(sessionStorage.getItem('openucwa.session')).token")
        assert token.startswith("cwt=")
        assert await t.evaluate("() => localStorage.getItem('openucwa.session')") is None
        await tosh.shot("02-contacts")
        await axe_check(tosh, "contact list")

        # The contact card, with the photo fetched using the bearer token (a blob: URL).
        await t.get_by_role("region", name="Contacts").get_by_role("button", name="Contact card").click()
        card = t.get_by_role("dialog", name="Contact card of Lene Aaling")
        await expect(card).to_contain_text("lenea@contoso.com")
        await expect(card.locator("img.avatar")).to_have_attribute("src", re.compile("^blob:"))
        await tosh.shot("02b-contact-card")
        await t.keyboard.press("Escape")
        await expect(card).to_have_count(0)

        # 1:1 from a search; the first line goes with the invitation, the second waits for Accept.
        await open_chat_by_search(tosh, "Lene", "Lene Aaling")
        await t.get_by_label("Message").fill("Hello Lene, see https://example.com/x")
        await t.get_by_role("button", name="Send").click()
        await t.get_by_label("Message").fill("Second line before you accept")
        await t.get_by_label("Message").press("Enter")
        accept = le.get_by_role("button", name="Accept")
        await expect(accept).to_have_count(1)
        await lene.shot("03-invitation")
        await accept.click()
        await expect(le.get_by_role("button", name="Accept")).to_have_count(0)
        await expect(log(lene)).to_contain_text("Hello Lene")
        await expect(log(lene)).to_contain_text("Second line before you accept")
        # Message text never becomes part of a button's name (the sidebar shows it as a preview).
        await expect(le.get_by_role("button", name="Accept")).to_have_count(0)
        await expect(log(lene).get_by_role("link", name="https://example.com/x")).to_have_attribute(
            "rel", "noopener noreferrer"
        )
        await expect(log(tosh).get_by_text("Delivered")).to_have_count(2)

        # Typing both ways, Enter sends, Shift+Enter is a newline.
        await le.get_by_label("Message").press_sequentially("Hi Tosh")
        await expect(t.get_by_text("Lene Aaling is typing…")).to_be_visible()
        await le.get_by_label("Message").press("Shift+Enter")
        await le.get_by_label("Message").press_sequentially("two lines")
        await le.get_by_label("Message").press("Enter")
        await expect(log(tosh)).to_contain_text("Hi Tosh\ntwo lines")
        await expect(t.get_by_text("Lene Aaling is typing…")).to_have_count(0)
        await t.get_by_label("Message").press_sequentially("Typing back")
        await expect(le.get_by_text("Tosh Meston is typing…")).to_be_visible()
        await t.get_by_label("Message").press("Enter")
        await expect(log(lene)).to_contain_text("Typing back")
        await tosh.shot("04-conversation")
        await axe_check(tosh, "conversation")
        await t.keyboard.press("Control+K")
        switcher = t.get_by_role("dialog", name="Switch conversation")
        await expect(switcher.get_by_role("button", name=re.compile("Lene Aaling"))).to_be_visible()
        await t.keyboard.press("Escape")
        await expect(switcher).to_have_count(0)

        # Group chat: Sara is added, accepts, and everyone reads everyone.
        await sign_in(sara, SARA)
        await t.get_by_role("button", name="Add people").click()
        dialog = t.get_by_role("dialog", name="Add people")
        await dialog.get_by_label("Person to add").fill("Sara")
        await dialog.get_by_role("button", name=re.compile("Sara Davis")).click()
        await sara.page.get_by_role("button", name="Accept").click()
        await expect(log(tosh)).to_contain_text("Sara Davis joined the conversation.")
        await expect(log(lene)).to_contain_text("Sara Davis joined the conversation.")
        await sara.page.get_by_label("Message").fill("Hi both")
        await sara.page.get_by_role("button", name="Send").click()
        await expect(log(tosh)).to_contain_text("Hi both")
        await expect(log(lene)).to_contain_text("Hi both")
        await le.get_by_label("Message").fill("Welcome Sara")
        await le.get_by_label("Message").press("Enter")
        await expect(log(sara)).to_contain_text("Welcome Sara")
        assert "joined" not in await log(sara).inner_text(), "the roster Sara found was announced as news"
        await sara.shot("05-group")

        # Sara leaves: the others are told.
        await sara.page.get_by_role("button", name="Leave").click()
        await expect(log(tosh)).to_contain_text("Sara Davis left the conversation.")

        # Sign-out deletes the application: Tosh sees Lene Offline at once.
        await le.get_by_role("button", name="Sign out").click()
        await expect(le.get_by_role("button", name="Sign in")).to_be_visible()
        assert await le.evaluate("() => sessionStorage.getItem('openucwa.session')") is None
        await expect(lene_row).to_have_accessible_name(re.compile("Offline"))
        for tab in (tosh, lene, sara):
            assert not [e for e in tab.errors if "Content Security Policy" in e], tab.errors
    except BaseException:
        for tab in (tosh, lene, sara):
            await tab.shot(f"FAILED-two-people-{tab.name}")
        raise
    finally:
        for tab in (tosh, lene, sara):
            await close_tab(tab)
        remove_contact(srv, TOSH, LENE)
        remove_contact(srv, LENE, TOSH)


@sqlite_only
@pytest.mark.browser
@pytest.mark.asyncio(loop_scope="session")
async def test_cli_message_html_inert_restart_reconnect_and_history(
    browser: Browser, make_server: Callable[..., Server], tmp_path: Path
) -> None:
    from playwright.async_api import expect

    srv = make_server("--no-event-aggregation")
    tosh = await open_tab(browser, srv, "tosh")
    try:
        t = tosh.page
        await sign_in(tosh, TOSH)

        # `openucwa send` from another process reaches the browser once Tosh accepts.
        home = {"XDG_CONFIG_HOME": str(tmp_path / "cfg")}
        r = cli("login", srv.base, "--user", SARA, env={**home, "OPENUCWA_PASSWORD": USERS[SARA][1]})
        assert r.returncode == 0, r.stderr
        sender = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "openucwa", "send", "--to", f"sip:{TOSH}", "db-1: disk 95% full"),
            env={**os.environ, **home},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await t.get_by_role("button", name="Accept").click()
            await expect(log(tosh)).to_contain_text("db-1: disk 95% full")
        finally:
            _, err = await asyncio.wait_for(sender.communicate(), 60)
        assert sender.returncode == 0, err.decode()

        # HTML from the wire: shown, but nothing in it runs or loads.
        lene = RawUser(srv.base, LENE)
        lene.start(TOSH)
        await t.get_by_role("button", name="Accept").click()
        lene.wait_connected()
        await t.evaluate("() => { window.__pwned = 0; }")
        evil = (
            '<b>bold</b><img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
            '<a href="javascript:window.__pwned=3">click</a><div style="position:fixed;inset:0">over</div>'
        )
        lene.send(evil, "text/html")
        await expect(log(tosh).locator("b", has_text="bold")).to_be_visible()
        html = await log(tosh).inner_html()
        assert "onerror" not in html and "<script" not in html and "javascript:" not in html
        assert "<img" not in html and "position:fixed" not in html
        await log(tosh).get_by_text("click").click()
        assert await t.evaluate("() => window.__pwned") == 0

        # A burst for history, then the server goes away: the banner shows, and it recovers alone.
        for i in range(1, 71):
            lene.send(f"burst {i:02d}")
        await expect(log(tosh)).to_contain_text("burst 70")
        srv.stop()
        banner = t.get_by_role("alert").filter(has_text="Reconnecting")
        await expect(banner).to_be_visible(timeout=20_000)
        await expect(banner.get_by_role("button", name="Try now")).to_be_visible()
        await expect(log(tosh).get_by_text("burst 70", exact=True)).to_be_in_viewport(ratio=1)
        await tosh.shot("06-reconnecting")
        srv.start()
        await banner.get_by_role("button", name="Try now").click()
        await expect(banner).to_have_count(0, timeout=20_000)
        lene.send("after the restart")
        await expect(log(tosh)).to_contain_text("after the restart")

        # A reload keeps the tab signed in (sessionStorage) and history scrolls back to the start.
        await t.reload()
        await expect(t.get_by_role("button", name="Sign out")).to_be_visible()
        await (
            t.get_by_role("navigation", name="Conversations")
            .get_by_role("button", name=re.compile("Lene Aaling"))
            .click()
        )
        await expect(log(tosh)).to_contain_text("after the restart")
        first = log(tosh).get_by_text("burst 01", exact=True)
        for _ in range(20):
            if await first.count():
                break
            await log(tosh).evaluate("el => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); }")
            await t.wait_for_timeout(300)
        await expect(first).to_have_count(1)
        texts = await log(tosh).locator(".msg .body").all_inner_texts()
        bursts = [x for x in texts if x.startswith("burst ")]
        assert bursts == [f"burst {i:02d}" for i in range(1, 71)], (
            "history shows a message twice or out of order"
        )
        await tosh.shot("07-history")
        lene.close()
    finally:
        await close_tab(tosh)


@sqlite_only
@pytest.mark.browser
@pytest.mark.asyncio(loop_scope="session")
async def test_narrow_window_and_dark_theme(browser: Browser, server: Server) -> None:
    from playwright.async_api import expect

    tab = await open_tab(
        browser, server, "narrow", viewport={"width": 360, "height": 740}, color_scheme="dark"
    )
    try:
        await sign_in(tab, TOSH)
        page = tab.page
        width = await page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 360, "horizontal scrolling at 360 px"
        bg = await page.evaluate("() => getComputedStyle(document.body).backgroundColor")
        assert bg == "rgb(20, 22, 26)", bg
        await open_chat_by_search(tab, "Sara", "Sara Davis")
        await expect(page.get_by_label("Message")).to_be_visible()
        assert await page.evaluate("() => document.documentElement.scrollWidth") <= 360
        await axe_check(tab, "conversation, 360 px, dark")
        await tab.shot("08-narrow-dark")
    finally:
        await close_tab(tab)


@sqlite_only
@pytest.mark.browser
@pytest.mark.asyncio(loop_scope="session")
async def test_two_tabs_of_one_user_are_two_applications(
    browser: Browser, make_server: Callable[..., Server]
) -> None:
    from playwright.async_api import expect

    srv = make_server("--no-event-aggregation")
    add_contact(srv, TOSH, LENE)
    first = await open_tab(browser, srv, "tab-1")
    second: Tab | None = None
    try:
        second = Tab(first.context, await first.context.new_page(), "tab-2")
        await second.page.goto(srv.base + "/")
        await sign_in(first, TOSH)
        await sign_in(second, TOSH)
        ids = [
            await tab.page.evaluate("() => JSON.parse(sessionStorage.getItem('openucwa.session')).endpointId")
            for tab in (first, second)
        ]
        assert ids[0] != ids[1], "two tabs share an endpointId"
        # Both tabs hear Lene's presence; a reload keeps each tab's own endpointId.
        lene = RawUser(srv.base, LENE)
        presence = lene.app["_embedded"]["me"]["_links"]["presence"]["href"]
        lene.http.post(presence, json={"availability": "BeRightBack"})
        for tab in (first, second):
            row = tab.page.get_by_role("region", name="Contacts").get_by_role(
                "button", name=re.compile("^Lene Aaling")
            )
            await expect(row).to_have_accessible_name(re.compile("Be right back"))
        await second.page.reload()
        await expect(second.page.get_by_role("button", name="Sign out")).to_be_visible()
        again = await second.page.evaluate(
            "() => JSON.parse(sessionStorage.getItem('openucwa.session')).endpointId"
        )
        assert again == ids[1]
        lene.http.post(presence, json={"availability": "Busy"})
        for tab in (first, second):
            row = tab.page.get_by_role("region", name="Contacts").get_by_role(
                "button", name=re.compile("^Lene Aaling")
            )
            await expect(row).to_have_accessible_name(re.compile("Busy"))
        lene.http.post(presence, json={})
        lene.close()
    finally:
        if second is not None:
            await close_tab(second, context=False)
        await close_tab(first)
        remove_contact(srv, TOSH, LENE)
