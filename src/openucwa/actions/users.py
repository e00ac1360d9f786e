"""Accounts, passwords and bearer tokens.

Passwords are argon2 hashes (verified off the event loop: a verification costs tens of ms on
purpose). Tokens are random; only their SHA-256 is stored, so a leaked database cannot be replayed,
and they live in the database so they outlast a restart (SPEC §5.4). Unknown user, wrong password
and disabled account take the same path and answer no sooner than ``FAILURE_FLOOR``.

A token is bound to its account's id and credential generation: a password change, a removal or a
disable bumps the generation (or removes the account), and the store refuses older tokens. Each
node's ``TokenCache`` re-reads a shared revocation counter at most every ``REVOCATION_CHECK``
seconds and empties itself when it moved, so no node honours a revoked token for longer than that.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..core.ids import normalize_user
from ..core.models import AppStatus, Token, User
from ..directory.login import parse_login
from ..store.interface import DuplicateError
from .services import Services, unit

# OWASP's argon2id parameters (19 MiB, 2 passes, 1 lane) rather than the library's 64 MiB × 4 lanes:
# ~20 ms instead of ~130 ms of a core per sign-in here, and a burst of reconnecting clients needs
# 19 MiB per check in flight. Hashes carry their parameters, so older hashes still verify.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
TOKEN_PREFIX = "cwt="
REVOCATION = "revocation"  # the coordination counter bumped by every revocation
REVOCATION_CHECK = 0.25  # seconds between two reads of it by one node
FAILURE_FLOOR = 0.5  # seconds: no failed sign-in answers sooner, whatever failed (argon2 or LDAP)
log = logging.getLogger(__name__)


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


async def warm_up() -> None:
    """Computes the dummy hash before the first sign-in, so that failure costs no more than the next."""
    await asyncio.to_thread(_dummy_hash)


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
        uri=uri,
        name=name,
        password_hash=await asyncio.to_thread(hash_password, password),
        email=email or uri,
        id=uuid.uuid4().hex,
    )
    try:
        async with unit(svc) as u:
            await u.tx.add_user(user)
            # Applications left by an earlier account of this address (before accounts had ids)
            # must not pass to the new one.
            await _end_applications(u, uri)
    except DuplicateError:
        raise UserError(f"user {uri} already exists") from None
    return user


async def list_users(svc: Services) -> list[User]:
    async with svc.store.transaction() as tx:
        return await tx.list_users()


async def _end_applications(u: Any, uri: str) -> None:
    """Ends every application of the address: their P-GETs wake and answer, their URLs 404."""
    from .applications import end  # applications → subscriptions → people → users

    for app in await u.tx.list_applications(uri):
        await end(u, app, AppStatus.DELETED)


async def remove_user(svc: Services, address: str) -> None:
    uri = canonical_uri(address)
    async with unit(svc) as u:
        await _end_applications(u, uri)
        if not await u.tx.remove_user(uri):
            raise UserError(f"no such user: {uri}")
        await u.tx.bump_counter(REVOCATION)


async def revoke(svc: Services, uri: str, *, disable: bool) -> User | None:
    """Every token of the account stops working on every node, and with ``disable`` its
    applications end and it can no longer sign in (a directory user who left or was disabled)."""
    async with unit(svc) as u:
        user = await u.tx.revoke_user(uri, disabled=True if disable else None)
        if user is None:
            return None
        if disable:
            await _end_applications(u, uri)
        await u.tx.bump_counter(REVOCATION)
    return user


async def set_password(svc: Services, address: str, password: str) -> None:
    if not password:
        raise UserError("the password must not be empty")
    uri = canonical_uri(address)
    digest = await asyncio.to_thread(hash_password, password)
    async with svc.store.transaction() as tx:
        existing = await tx.get_user(uri)
        if existing is not None and existing.source != "local":
            raise UserError(f"{uri} comes from the company directory: change the password there")
        if not await tx.set_password(uri, digest):
            raise UserError(f"no such user: {uri}")
        await tx.bump_counter(REVOCATION)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    expires_in: int


async def _local_check(svc: Services, uri: str | None, password: str) -> tuple[bool, User | None]:
    """(handled, user): handled when the address is a local account (or no directory exists)."""
    user = None
    if uri is not None:
        async with svc.store.transaction() as tx:
            user = await tx.get_user(uri)
    if user is not None and user.source != "local":
        return False, None
    if user is None and svc.directory is not None:
        return False, None
    ok = await asyncio.to_thread(_verify, user.password_hash if user else _dummy_hash(), password)
    return True, user if ok and user is not None and not user.disabled else None


async def check_credentials(svc: Services, username: str, password: str) -> User | None:
    """The account these credentials sign in as, or None; raises DirectoryUnavailable.

    Local accounts (``openucwa user add``) answer from their argon2 hash; every other name asks the
    company directory, which binds as the person with the given password.
    """
    login = parse_login(username, svc.settings.ldap_netbios_domain)
    if login is None:  # no account can have this name: a dummy check, for the time it takes
        await asyncio.to_thread(_verify, _dummy_hash(), password)
        return None
    if login.address is not None or svc.directory is None:
        uri = normalize_user(login.address) if login.address is not None else None
        handled, user = await _local_check(svc, uri, password)
        if handled:
            return user
    assert svc.directory is not None
    from .directory import sign_in

    return await sign_in(svc, svc.directory, login, password)


def _new_token(svc: Services, user: User) -> tuple[str, Token]:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = svc.clock() + svc.settings.token_lifetime
    return token, Token(token_digest(token), user.uri, expires_at, user.id, user.generation)


async def authenticate(svc: Services, username: str, password: str) -> IssuedToken | None:
    """The password grant; None for any bad credential, indistinguishably and in the same time."""
    started = time.monotonic()
    user = await check_credentials(svc, username, password)
    if user is None:
        svc.metrics.sign_in_failed()
        await asyncio.sleep(max(0.0, started + FAILURE_FLOOR - time.monotonic()))
        return None
    token, record = _new_token(svc, user)
    async with svc.store.transaction() as tx:
        await tx.add_token(record)
    return IssuedToken(token, svc.settings.token_lifetime)


class TokenCache:
    """Verified tokens, so the P-GET hot path skips a database read, for as long as nothing was revoked.

    Every entry was verified while the shared revocation counter had the value ``epoch``; once a
    node sees the counter move, the whole cache goes. A verification that started before the move
    cannot put a stale answer back (``put`` checks the epoch it started under).
    """

    def __init__(self, ttl: float = 300.0, size: int = 50_000, check_every: float = REVOCATION_CHECK) -> None:
        self._ttl = ttl
        self._size = size
        self._check_every = check_every
        self._items: dict[str, tuple[str, float, float]] = {}
        self.epoch: int | None = None
        self._checked_at = -float("inf")

    def due(self, mono: float) -> bool:
        """Whether the counter should be read now; the first caller to ask takes the read on."""
        if mono - self._checked_at < self._check_every:
            return False
        self._checked_at = mono
        return True

    def observe(self, epoch: int, read_at: float | None = None) -> None:
        """``read_at``: when a reader other than ``verify_token`` (the node's revocation watch) began
        the read of ``epoch``; requests then need not read it again for ``check_every``."""
        if epoch != self.epoch:
            self._items.clear()
            self.epoch = epoch
        if read_at is not None and read_at > self._checked_at:
            self._checked_at = read_at

    def get(self, digest: str, now: float) -> str | None:
        item = self._items.get(digest)
        if item is None:
            return None
        user, expires_at, cached_until = item
        if now >= expires_at or now >= cached_until:
            self._items.pop(digest, None)
            return None
        return user

    def put(self, digest: str, user: str, expires_at: float, now: float, epoch: int | None) -> None:
        if epoch != self.epoch:
            return
        if len(self._items) >= self._size:
            self._items.clear()
        self._items[digest] = (user, expires_at, now + self._ttl)


async def verify_token(svc: Services, cache: TokenCache, digest: str) -> str | None:
    """The user the bearer token with this hash (``token_digest``, taken once per request by the
    caller, which keeps it too) stands for, or None when unknown, expired or revoked."""
    now = svc.clock()
    if cache.due(time.monotonic()):
        async with svc.store.transaction() as tx:
            cache.observe(await tx.get_counter(REVOCATION))
    user = cache.get(digest, now)
    if user is not None:
        return user
    epoch = cache.epoch
    async with svc.store.transaction() as tx:
        rec = await tx.get_token(digest)
    if rec is None or rec.expires_at <= now:
        return None
    cache.put(digest, rec.user_uri, rec.expires_at, now, epoch)
    return rec.user_uri


async def token_stands(svc: Services, digest: str) -> bool:
    """Whether the token with this hash is still honoured (expiry aside), read from the store."""
    async with svc.store.transaction() as tx:
        return digest in await tx.valid_tokens([digest])
