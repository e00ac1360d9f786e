"""The photo cookie's value (SPEC §5.6): lets ``<img>`` fetch one application's photos, and
nothing else, for a short while.

It used to be the bearer token itself, usable on every resource. Now it is ``expires.mac``: an
HMAC over the application, the user and the expiry, keyed with the application's own random key
(``comm_key``), which only that application's owner ever sees. It is checked only on that
application's photo paths, so a leaked cookie shows photos until it expires and grants nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from .commands import parse_int


def _mac(app_id: str, user: str, key: str, expires: int) -> str:
    msg = f"photo:{app_id}:{user}:{expires}".encode()
    digest = hmac.new(key.encode(), msg, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def issue(app_id: str, user: str, key: str, expires: int) -> str:
    return f"{expires}.{_mac(app_id, user, key, expires)}"


def valid(value: str, app_id: str, user: str, key: str, now: float) -> bool:
    raw_expires, _, mac = value.partition(".")
    expires = parse_int(raw_expires)
    if expires is None or expires <= now:
        return False
    return hmac.compare_digest(mac, _mac(app_id, user, key, expires))
