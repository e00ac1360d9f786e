"""Accounts, passwords and bearer tokens.

Passwords are argon2 hashes (verified off the event loop: a verification costs tens of ms on
purpose). Tokens are random; only their SHA-256 is stored, so a leaked database cannot be replayed,
and they live in the database so they outlast a restart (SPEC §5.4). Unknown user and wrong password
take the same path and the same time.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..core.ids import normalize_user
from ..core.models import Token, User
from ..store.interface import DuplicateError
from .services import Services

_hasher = PasswordHasher()
TOKEN_PREFIX = "cwt="


class UserError(ValueError):
    """An operator command that cannot be done (unknown user, duplicate, bad address)."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user is unknown, so both failures cost the same."""
    return _hasher.hash("openucwa-timing-equaliser")


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def canonical_uri(address: str) -> str:
    uri = normalize_user(address)
    if uri is None:
        raise UserError(f"not a user address: {address!r} (expected user@domain)")
    return uri


async def add_user(svc: Services, address: str, name: str, password: str, email: str | None = None) -> User:
    if not password:
        raise UserError("the password must not be empty")
    uri = canonical_uri(address)
    user = User(
        uri=uri, name=name, password_hash=await asyncio.to_thread(hash_password, password), email=email or uri
    )
    try:
        async with svc.store.transaction() as tx:
            await tx.add_user(user)
    except DuplicateError:
        raise UserError(f"user {uri} already exists") from None
    return user


async def list_users(svc: Services) -> list[User]:
    async with svc.store.transaction() as tx:
        return await tx.list_users()


async def remove_user(svc: Services, address: str) -> None:
    uri = canonical_uri(address)
    async with svc.store.transaction() as tx:
        if not await tx.remove_user(uri):
            raise UserError(f"no such user: {uri}")


async def set_password(svc: Services, address: str, password: str) -> None:
    if not password:
        raise UserError("the password must not be empty")
    uri = canonical_uri(address)
    digest = await asyncio.to_thread(hash_password, password)
    async with svc.store.transaction() as tx:
        if not await tx.set_password(uri, digest):
            raise UserError(f"no such user: {uri}")


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    expires_in: int


async def authenticate(svc: Services, username: str, password: str) -> IssuedToken | None:
    """The password grant; None for any bad credential, indistinguishably."""
    uri = normalize_user(username)
    user = None
    if uri is not None:
        async with svc.store.transaction() as tx:
            user = await tx.get_user(uri)
    ok = await asyncio.to_thread(_verify, user.password_hash if user else _dummy_hash(), password)
    if user is None or not ok:
        svc.metrics.sign_in_failed()
        return None
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    lifetime = svc.settings.token_lifetime
    async with svc.store.transaction() as tx:
        await tx.add_token(Token(token_digest(token), user.uri, svc.clock() + lifetime))
    return IssuedToken(token, lifetime)


class TokenCache:
    """Verified tokens for a short while, so the P-GET hot path skips a database read.

    Entries live at most ``ttl`` seconds, which bounds how long another node keeps honouring a
    token of a user removed meanwhile.
    """

    def __init__(self, ttl: float = 30.0, size: int = 50_000) -> None:
        self._ttl = ttl
        self._size = size
        self._items: dict[str, tuple[str, float, float]] = {}

    def get(self, digest: str, now: float) -> str | None:
        item = self._items.get(digest)
        if item is None:
            return None
        user, expires_at, cached_until = item
        if now >= expires_at or now >= cached_until:
            self._items.pop(digest, None)
            return None
        return user

    def put(self, digest: str, user: str, expires_at: float, now: float) -> None:
        if len(self._items) >= self._size:
            self._items.clear()
        self._items[digest] = (user, expires_at, now + self._ttl)


async def verify_token(svc: Services, cache: TokenCache, token: str) -> str | None:
    """The user a bearer token stands for, or None when unknown or expired."""
    now = svc.clock()
    digest = token_digest(token)
    user = cache.get(digest, now)
    if user is not None:
        return user
    async with svc.store.transaction() as tx:
        rec = await tx.get_token(digest)
    if rec is None or rec.expires_at <= now:
        return None
    cache.put(digest, rec.user_uri, rec.expires_at, now)
    return rec.user_uri


async def get_user(svc: Services, uri: str) -> User | None:
    async with svc.store.transaction() as tx:
        return await tx.get_user(uri)
