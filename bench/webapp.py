"""OpenUCWA Web timings in Debian's Chromium (Playwright), against a real ``openucwa serve``.

Measures what issue #13 item 9 asks for:

* the first load's JavaScript + CSS, gzip-compressed (what index.html names);
* Sign in → a usable contact list (timed inside the page: click → the contact list is in the DOM);
* opening a conversation whose history holds 1,000 messages (click → newest message rendered), then
  scrolling back through all of it (frames longer than 50 ms while history pages load);
* 200 conversations in the sidebar while messages keep arriving (long tasks, and the time from a
  sender's POST to the text on screen).

Timings are taken with ``performance.now()`` in the page, so Playwright's own round trips are not
counted. The other side of each conversation is a UCWA client written against the wire.

    .venv/bin/python bench/webapp.py [--history 1000] [--conversations 200] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import re
import statistics
import sys
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import NO_QUOTAS, Server, print_table

CHROMIUM = "/usr/bin/chromium"
APP_DIR = Path(__file__).resolve().parents[1] / "src" / "openucwa" / "web" / "app"
TOSH, LENE = ("toshm@contoso.com", "toshm-password"), ("lenea@contoso.com", "lenea-password")
CONTACTS = 30


def bundle_size() -> tuple[int, int]:
    """Raw and gzip (level 9) bytes of the JS and CSS that index.html loads."""
    html = (APP_DIR / "index.html").read_text(encoding="utf-8")
    raw = gz = 0
    for ref in re.findall(r'(?:src|href)="/app/(assets/[^"]+\.(?:js|css))"', html):
        data = (APP_DIR / ref).read_bytes()
        raw += len(data)
        gz += len(gzip.compress(data, 9))
    return raw, gz


async def seed(data_dir: str) -> None:
    """Contacts for Tosh: the demo users plus CONTACTS more, in his default group."""
    from openucwa.actions import people, users
    from openucwa.cli import services

    async with services(data_dir, None) as svc:
        existing = {u.uri for u in await users.list_users(svc)}
        for i in range(CONTACTS):
            uri = f"bench{i:02d}@contoso.com"
            if f"sip:{uri}" not in existing and uri not in existing:
                await users.add_user(svc, uri, f"Bench Person {i:02d}", "bench-password")
            await people.add_contact(svc, TOSH[0], uri)
        await people.add_contact(svc, TOSH[0], LENE[0])


class Wire:
    """Lene, as a UCWA client without a browser: starts conversations and sends fast."""

    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, timeout=30, headers={"Accept": "application/json"})
        form = {"grant_type": "password", "username": LENE[0], "password": LENE[1]}
        token = self.http.post("/WebTicket/oauthtoken", data=form).json()["access_token"]
        self.http.headers["Authorization"] = f"Bearer {token}"
        user = self.http.get("/Autodiscover/AutodiscoverService.svc/root/oauth/user").json()
        body = {"UserAgent": "bench", "EndpointId": str(uuid.uuid4()), "Culture": "en-US"}
        app = self.http.post(user["_links"]["applications"]["href"], json=body).json()
        self.http.post(app["_embedded"]["me"]["_links"]["makeMeAvailable"]["href"], json={})
        self.app = self.http.get(app["_links"]["self"]["href"]).json()
        self.next = self.app["_links"]["events"]["href"]
        self.send_hrefs: list[str] = []

    def start(self, n: int = 1) -> None:
        href = self.app["_embedded"]["communication"]["_links"]["startMessaging"]["href"]
        for _ in range(n):
            body = {"to": f"sip:{TOSH[0]}", "operationId": str(uuid.uuid4()), "importance": "Normal"}
            r = self.http.post(href, json=body)
            assert r.status_code == 201, r.text

    def drain(self, until: int, deadline_s: float = 120) -> None:
        """Read the channel until ``until`` conversations are connected (their sendMessage known)."""
        deadline = time.monotonic() + deadline_s
        while len(self.send_hrefs) < until and time.monotonic() < deadline:
            try:
                page = self.http.get(self.next, timeout=3).json()
            except httpx.ReadTimeout:
                continue
            self.next = (page["_links"].get("next") or page["_links"].get("resync"))["href"]
            for sender in page.get("sender", []):
                for ev in sender.get("events", []):
                    res = (ev.get("_embedded") or {}).get("messaging") or {}
                    send = res.get("_links", {}).get("sendMessage")
                    if ev["link"]["rel"] == "messaging" and send and send["href"] not in self.send_hrefs:
                        self.send_hrefs.append(send["href"])
        if len(self.send_hrefs) < until:
            raise SystemExit(f"only {len(self.send_hrefs)} of {until} conversations connected")

    def send(self, i: int, text: str) -> None:
        r = self.http.post(self.send_hrefs[i], content=text.encode(), headers={"Content-Type": "text/plain"})
        assert r.status_code == 201, r.text


SIGN_IN_JS = """async ([user, pw]) => {
  const set = (el, v) => { el.value = v; el.dispatchEvent(new Event('input', {bubbles: true})); };
  set(document.getElementById('signin-user'), user);
  set(document.getElementById('signin-password'), pw);
  await new Promise(r => requestAnimationFrame(r));
  const t0 = performance.now();
  document.querySelector('form.signin-card button[type=submit]').click();
  const ready = () => document.querySelectorAll('.contacts .row').length > 0;
  while (!ready()) await new Promise(r => setTimeout(r, 1));
  const t1 = performance.now();
  const token = performance.getEntriesByType('resource')
    .filter(e => e.name.endsWith('/WebTicket/oauthtoken')).pop();
  performance.clearResourceTimings();
  return [t1 - t0, token ? token.responseEnd - token.startTime : 0];
}"""

OPEN_JS = """async (needle) => {
  const button = [...document.querySelectorAll('nav .row-main')].find(b => b.textContent.includes('Lene'));
  const t0 = performance.now();
  button.click();
  const log = () => document.querySelector('[role=log]');
  while (!(log() && log().textContent.includes(needle))) await new Promise(r => setTimeout(r, 1));
  await new Promise(r => requestAnimationFrame(r));
  return performance.now() - t0;
}"""

SCROLL_JS = """async (needle) => {
  const log = document.querySelector('[role=log]');
  const frames = [];
  let last = performance.now(), running = true;
  const tick = (t) => { frames.push(t - last); last = t; if (running) requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  const t0 = performance.now();
  while (!log.textContent.includes(needle)) {
    log.scrollTop = Math.max(0, log.scrollTop - 600);
    log.dispatchEvent(new Event('scroll'));
    await new Promise(r => setTimeout(r, 16));
    if (performance.now() - t0 > 60000) break;
  }
  running = false;
  frames.sort((a, b) => a - b);
  return {ms: performance.now() - t0, frames: frames.length, over50: frames.filter(f => f > 50).length,
          p95: frames[Math.floor(frames.length * 0.95)] || 0, max: frames[frames.length - 1] || 0,
          rendered: document.querySelectorAll('[role=log] .msg').length};
}"""

WATCH_JS = """() => {
  window.__long = [];
  new PerformanceObserver(l => l.getEntries().forEach(e => window.__long.push(e.duration)))
    .observe({type: 'longtask', buffered: false});
  window.__seen = {};
  new MutationObserver(() => {
    for (const el of document.querySelectorAll('nav .preview')) {
      const m = /^tick (\\d+)$/.exec(el.textContent);
      if (m && !(m[1] in window.__seen)) window.__seen[m[1]] = performance.timeOrigin + performance.now();
    }
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


async def run(args: argparse.Namespace) -> None:
    from playwright.async_api import async_playwright

    raw, gz = bundle_size()
    rows: list[tuple[str, str]] = [
        ("first load JS + CSS", f"{raw / 1024:.1f} KB raw, {gz / 1024:.1f} KB gzip")
    ]
    srv = Server(extra_args=["--no-event-aggregation"], env=NO_QUOTAS).start()
    try:
        await seed(str(srv.data_dir))
        async with async_playwright() as p:
            browser = await p.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
            )
            ctx = await browser.new_context(viewport={"width": 1280, "height": 800})
            page = await ctx.new_page()
            page.set_default_timeout(120_000)

            # Sign in → contact list, several times (sign out in between).
            times, tokens = [], []
            for _ in range(args.rounds):
                await page.goto(srv.url("/"))
                await page.wait_for_selector("#signin-user")
                await page.wait_for_timeout(300)  # discovery and the 401 challenge happen on load
                total, token = await page.evaluate(SIGN_IN_JS, list(TOSH))
                times.append(total)
                tokens.append(token)
                await page.get_by_role("button", name="Sign out").click()
            rest = [t - k for t, k in zip(times, tokens, strict=True)]
            rows.append(
                (
                    f"Sign in → contact list ({CONTACTS + 1} contacts)",
                    f"median {statistics.median(times):.0f} ms, max {max(times):.0f} ms ({args.rounds} runs)",
                )
            )
            rows.append(
                (
                    "  of which the token request (argon2)",
                    f"median {statistics.median(tokens):.0f} ms; the rest: median "
                    f"{statistics.median(rest):.0f} ms, max {max(rest):.0f} ms",
                )
            )

            # A conversation with a long history, opened after a reload (history from the server).
            await page.goto(srv.url("/"))
            await page.evaluate(SIGN_IN_JS, list(TOSH))
            lene = Wire(srv.url(""))
            lene.start()
            await page.get_by_role("button", name="Accept").click()
            lene.drain(1)
            t0 = time.monotonic()
            for i in range(1, args.history + 1):
                lene.send(0, f"m {i:04d}")
            fill = time.monotonic() - t0
            newest = f"m {args.history:04d}"
            await page.wait_for_function(f"() => document.body.textContent.includes({newest!r})")
            await page.reload()
            await page.wait_for_function(
                "() => [...document.querySelectorAll('nav .row-main')]"
                ".some(b => b.textContent.includes('Lene'))"
            )
            open_ms = await page.evaluate(OPEN_JS, newest)
            rows.append(
                (f"open a {args.history}-message conversation", f"{open_ms:.0f} ms to the newest page")
            )
            s = await page.evaluate(SCROLL_JS, "m 0001")
            rows.append(
                (
                    "scroll back to its first message",
                    f"{s['ms']:.0f} ms, {s['rendered']} rendered, frames p95 {s['p95']:.0f} ms, "
                    f"max {s['max']:.0f} ms, {s['over50']} of {s['frames']} over 50 ms",
                )
            )
            rows.append((f"(sending those {args.history} messages over HTTP)", f"{fill:.1f} s"))

            # Many conversations in the sidebar while messages arrive.
            n = args.conversations
            lene.start(n - 1)
            await page.wait_for_function(f"() => document.querySelectorAll('nav .row').length >= {n}")
            for _ in range(400):
                if await page.get_by_role("button", name="Accept").count() == 0:
                    break
                await page.evaluate(
                    "() => document.querySelectorAll('.toast button.primary').forEach(b => b.click())"
                )
                await asyncio.sleep(0.2)
            lene.drain(n)
            await page.wait_for_function(f"() => document.querySelectorAll('nav .row').length >= {n}")
            await page.evaluate(WATCH_JS)
            sent: dict[int, float] = {}
            for k in range(50):
                sent[k] = time.time() * 1000
                lene.send(k * 7 % n, f"tick {k}")
                await asyncio.sleep(0.1)
            await page.wait_for_timeout(1000)
            seen: dict[str, float] = await page.evaluate("() => window.__seen")
            longs: list[float] = await page.evaluate("() => window.__long")
            lat = sorted(seen[str(k)] - sent[k] for k in sent if str(k) in seen)
            rows.append(
                (
                    f"{n} conversations, 50 messages at 10/s",
                    f"POST → sidebar shows it: median {statistics.median(lat):.0f} ms, "
                    f"max {max(lat):.0f} ms ({len(lat)}/50 seen); long tasks: {len(longs)}"
                    + (f", longest {max(longs):.0f} ms" if longs else ""),
                )
            )
            await browser.close()
    finally:
        srv.stop()
    print_table("OpenUCWA Web (Chromium, loopback)", rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--history", type=int, default=1000)
    ap.add_argument("--conversations", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
