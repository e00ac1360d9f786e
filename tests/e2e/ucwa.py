"""A tiny test-side UCWA walker: every URL comes from the root, a link, or a Location header."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

JSON = {"Accept": "application/json"}


def token_for(base: str, user: str, password: str) -> str:
    root = httpx.get(base + "/", headers=JSON).json()
    challenge = httpx.get(root["_links"]["user"]["href"], headers=JSON).headers["www-authenticate"]
    token_url = challenge.split('href="', 1)[1].split('"', 1)[0]
    r = httpx.post(token_url, data={"grant_type": "password", "username": user, "password": password})
    r.raise_for_status()
    return str(r.json()["access_token"])


@dataclass
class Session:
    base: str
    token: str
    app: dict[str, Any]

    @property
    def headers(self) -> dict[str, str]:
        return {**JSON, "Authorization": f"Bearer {self.token}"}

    def url(self, href: str) -> str:
        return href if href.startswith("http") else self.base + href

    @property
    def self_href(self) -> str:
        return str(self.app["_links"]["self"]["href"])

    def get(self, href: str, **kw: Any) -> httpx.Response:
        kw.setdefault("timeout", 30)
        return httpx.get(self.url(href), headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def post(self, href: str, **kw: Any) -> httpx.Response:
        kw.setdefault("timeout", 30)
        return httpx.post(self.url(href), headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def delete(self, href: str) -> httpx.Response:
        return httpx.delete(self.url(href), headers=self.headers, timeout=30)

    def make_me_available(self) -> None:
        r = self.post(
            self.app["_embedded"]["me"]["_links"]["makeMeAvailable"]["href"],
            json={"SupportedModalities": ["Messaging"]},
        )
        assert r.status_code == 204, r.text

    def events(self) -> Channel:
        return Channel(self, self.app["_links"]["events"]["href"])


@dataclass
class Channel:
    session: Session
    next_href: str

    def poll(self, **kw: Any) -> dict[str, Any]:
        r = self.session.get(self.next_href, **kw)
        assert r.status_code == 200, r.text
        page: dict[str, Any] = r.json()
        links = page["_links"]
        self.next_href = links.get("resync", links.get("next"))["href"]
        return page

    def collect(
        self, want: Callable[[list[dict[str, Any]]], bool], within: float = 10.0
    ) -> list[dict[str, Any]]:
        """Follows the channel until ``want(events so far)``; each event gets its ``_sender`` block.

        A P-GET cut short by the client's own timeout is simply asked again: batches are numbered
        only when produced, so nothing is lost by walking away.
        """
        got: list[dict[str, Any]] = []
        deadline = time.monotonic() + within
        while not want(got):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"channel did not show what was expected; saw {summary(got)}")
            try:
                page = self.poll(timeout=max(0.1, remaining))
            except httpx.ReadTimeout:
                continue
            for block in page.get("sender", []):
                for ev in block["events"]:
                    got.append({**ev, "_sender": {"rel": block["rel"], "href": block["href"]}})
        return got

    def until(self, type_: str, rel: str, within: float = 10.0, **match: Any) -> list[dict[str, Any]]:
        """Collects until an event of this type and link rel (and embedded values) shows up."""
        return self.collect(lambda evs: any(matches(e, type_, rel, **match) for e in evs), within)


def matches(e: dict[str, Any], type_: str, rel: str, **match: Any) -> bool:
    if e["type"] != type_ or e["link"]["rel"] != rel:
        return False
    emb = e.get("_embedded", {}).get(rel, {})
    return all(emb.get(k) == v for k, v in match.items())


def find(events: list[dict[str, Any]], type_: str, rel: str, **match: Any) -> dict[str, Any]:
    for e in events:
        if matches(e, type_, rel, **match):
            return e
    raise AssertionError(f"no {type_} {rel} {match} in {summary(events)}")


def index(events: list[dict[str, Any]], type_: str, rel: str, **match: Any) -> int:
    return events.index(find(events, type_, rel, **match))


def summary(events: list[dict[str, Any]]) -> list[str]:
    return [f"[{e['_sender']['rel']}] {e['type']} {e['link']['rel']}" for e in events]


CREATED: list[Session] = []
"""Every application a test created; tests/e2e/conftest.py deletes them after each test so that no
test finds another's available applications (which would, rightly, receive its invitations)."""


def sign_in(base: str, user: str, password: str, endpoint: str = "endpoint-1", **extra: str) -> Session:
    token = token_for(base, user, password)
    headers = {**JSON, "Authorization": f"Bearer {token}"}
    root = httpx.get(base + "/", headers=JSON).json()
    user_res = httpx.get(root["_links"]["user"]["href"], headers=headers).json()
    body = {"UserAgent": "OpenUCWA tests", "EndpointId": endpoint, "Culture": "en-US", **extra}
    r = httpx.post(user_res["_links"]["applications"]["href"], headers=headers, json=body)
    assert r.status_code in (200, 201), r.text
    session = Session(base, token, r.json())
    CREATED.append(session)
    return session


def events_of(page: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(sender rel, event type, link rel) in page order."""
    return [(s["rel"], e["type"], e["link"]["rel"]) for s in page.get("sender", []) for e in s["events"]]


async def until_held(c: httpx.AsyncClient, href: str, priority: int) -> None:
    """Until the server holds a P-GET of ``priority``: a probe of lower priority is refused at once
    (a probe that is not answered was held itself, before the other arrived: it is dropped)."""
    async with asyncio.timeout(10):
        while True:
            probe = asyncio.create_task(c.get(href + f"&priority={priority - 1}"))
            done, _ = await asyncio.wait({probe}, timeout=0.2)
            if done and probe.result().status_code == 409:
                return
            probe.cancel()
            await asyncio.gather(probe, return_exceptions=True)
