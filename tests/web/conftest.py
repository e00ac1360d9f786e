"""Browser fixtures for the XFrame tests: one headless Debian Chromium per session, via Playwright.

Playwright's own browser downloads are not used: the tests drive ``/usr/bin/chromium``. Tests that
ask for ``browser`` are skipped (with the reason) when Playwright or Chromium is missing.

The async API is used on purpose: the sync API leaves its event loop marked as running in the main
thread between calls, and ``make_server`` seeds users with ``asyncio.run`` (which then refuses to
run). Browser tests therefore are ``async`` and run on the session loop, like the ``browser``
fixture: ``@pytest.mark.asyncio(loop_scope="session")``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio

if TYPE_CHECKING:
    from playwright.async_api import Browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_missing() -> str | None:
    """Why browser tests cannot run here, or None."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is not installed (apt-get install chromium)"
    return None


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    """A headless Chromium shared by the session; give each test its own context."""
    if reason := chromium_missing():
        pytest.skip(reason)
    async_api = pytest.importorskip("playwright.async_api", reason="playwright is not importable")
    async with async_api.async_playwright() as p:
        b = await p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()
