"""The one module that speaks LDAP (ldap3, blocking, so every call runs on a worker thread).

A connection is opened per operation and closed after it: sign-ins are rare next to messages, and
a fresh connection is what notices a directory that came back, or a second URL that took over.
"""

from __future__ import annotations

import asyncio
import logging
import math
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import ldap3
from ldap3.core.exceptions import LDAPException, LDAPInvalidCredentialsResult

from ..config import Settings, SettingsError, ldap_bind_password
from .attributes import (
    DEFAULT_GROUP_FILTER,
    DEFAULT_USER_FILTER,
    AttributeMap,
    Person,
    address_of,
    all_values,
    attribute_map,
    person_from_entry,
    text_of,
)
from .errors import DirectoryUnavailable
from .login import Login, login_filter

log = logging.getLogger(__name__)
__all__ = ["Directory", "DirectoryConfig", "DirectoryUnavailable", "Group"]


@dataclass(frozen=True, slots=True)
class Group:
    dn: str
    name: str
    address: str | None  # "sales@contoso.com" when the group is mail-enabled
    members: tuple[str, ...]  # member DNs as the directory lists them (people and groups)


@dataclass(frozen=True)
class DirectoryConfig:
    urls: tuple[str, ...]
    start_tls: bool
    ca_file: str | None
    bind_dn: str | None
    bind_password: Callable[[], str | None]
    user_base: str
    user_filter: str
    group_base: str
    group_filter: str
    group_depth: int
    attributes: AttributeMap
    timeout: float
    page_size: int
    netbios_domain: str | None

    @classmethod
    def from_settings(cls, s: Settings) -> DirectoryConfig | None:
        """None when no directory is configured (local accounts only)."""
        if not s.ldap_url or not s.ldap_user_base:
            return None
        return cls(
            urls=s.ldap_url,
            start_tls=s.ldap_start_tls,
            ca_file=s.ldap_ca_file,
            bind_dn=s.ldap_bind_dn,
            bind_password=lambda: ldap_bind_password(s),
            user_base=s.ldap_user_base,
            user_filter=s.ldap_user_filter or DEFAULT_USER_FILTER[s.ldap_schema],
            group_base=s.ldap_group_base or s.ldap_user_base,
            group_filter=s.ldap_group_filter or DEFAULT_GROUP_FILTER[s.ldap_schema],
            group_depth=s.ldap_group_depth,
            attributes=attribute_map(s.ldap_schema, s.ldap_attributes),
            timeout=s.ldap_timeout,
            page_size=s.ldap_page_size,
            netbios_domain=s.ldap_netbios_domain,
        )


def _unavailable_on_ldap_errors(fn: Callable[..., Person | None], *args: Any) -> Person | None:
    """A connection lost mid-search is the directory being unavailable, not a server error."""
    try:
        return fn(*args)
    except LDAPException as exc:
        raise DirectoryUnavailable(f"{type(exc).__name__}: {exc}") from exc


def _raw(entry: dict[str, Any]) -> dict[str, Any]:
    return dict(entry.get("raw_attributes") or {})


class Directory:
    def __init__(self, config: DirectoryConfig) -> None:
        self.config = config

    # connections -------------------------------------------------------------------------
    def _server(self, url: str) -> ldap3.Server:
        tls = None
        if url.lower().startswith("ldaps://") or self.config.start_tls:
            tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=self.config.ca_file)
        return ldap3.Server(url, get_info=ldap3.NONE, connect_timeout=self.config.timeout, tls=tls)

    def _connect(self, user: str | None, password: str | None) -> tuple[ldap3.Connection, bool]:
        """An open connection bound as ``user`` (anonymous when None) and whether the bind worked.

        URLs are tried in order; only when none can be reached is the directory unavailable.
        """
        failures: list[str] = []
        for url in self.config.urls:
            conn = ldap3.Connection(
                self._server(url),
                user=user,
                password=password,
                receive_timeout=max(1, math.ceil(self.config.timeout)),  # ldap3 packs it as an int
                raise_exceptions=False,
                read_only=True,
            )
            try:
                conn.open()
                if self.config.start_tls and not url.lower().startswith("ldaps://"):
                    conn.start_tls()
                try:
                    ok = bool(conn.bind())
                except LDAPInvalidCredentialsResult:
                    ok = False
                if not ok and conn.result and conn.result.get("result") not in (49, 53):
                    # Anything but invalidCredentials/unwillingToPerform is the server's trouble.
                    raise LDAPException(f"bind refused: {conn.result.get('description')}")
                return conn, ok
            except LDAPException as exc:
                failures.append(f"{url}: {exc}")
                conn.unbind()
        raise DirectoryUnavailable("; ".join(failures) or "no LDAP URL configured")

    def _service(self) -> ldap3.Connection:
        dn = self.config.bind_dn
        try:
            password = self.config.bind_password() if dn else None
        except SettingsError as exc:  # an unreadable password file: misconfigured, so unavailable
            raise DirectoryUnavailable(str(exc)) from exc
        conn, ok = self._connect(dn, password)
        if not ok:
            conn.unbind()
            raise DirectoryUnavailable(f"the service account {dn!r} was refused (check LDAP_BIND_*)")
        return conn

    # one person --------------------------------------------------------------------------
    def _find_blocking(self, login: Login) -> Person | None:
        conn = self._service()
        try:
            cfg = self.config
            ok = conn.search(
                cfg.user_base,
                login_filter(login, cfg.attributes, cfg.user_filter),
                attributes=cfg.attributes.user_attributes(),
                size_limit=2,
            )
            if not ok and conn.result.get("result") not in (0, 4, 32):  # 4: size limit; 32: no such base
                raise DirectoryUnavailable(f"search failed: {conn.result.get('description')}")
            entries = [e for e in conn.response or [] if e.get("type") == "searchResEntry"]
            if len(entries) != 1:  # none, or ambiguous: neither may sign in
                return None
            return person_from_entry(entries[0]["dn"], _raw(entries[0]), cfg.attributes)
        finally:
            conn.unbind()

    def _verify_blocking(self, login: Login, password: str) -> Person | None:
        person = self._find_blocking(login)
        # An unknown name still costs a bind (to a DN that cannot exist), so that it answers in the
        # time a wrong password does.
        dn = person.dn if person is not None else f"cn=openucwa-no-such-user,{self.config.user_base}"
        if not password:  # an empty password is an anonymous bind in LDAP: never a sign-in
            return None
        conn, ok = self._connect(dn, password)
        conn.unbind()
        return person if ok and person is not None else None

    async def find(self, login: Login) -> Person | None:
        return await asyncio.to_thread(_unavailable_on_ldap_errors, self._find_blocking, login)

    async def verify(self, login: Login, password: str) -> Person | None:
        """The person if ``password`` binds as them (enabled or not: the caller refuses disabled ones)."""
        return await asyncio.to_thread(_unavailable_on_ldap_errors, self._verify_blocking, login, password)

    # everyone, page by page ---------------------------------------------------------------
    def _paged(self, base: str, search_filter: str, attributes: list[str]) -> Iterator[list[dict[str, Any]]]:
        conn = self._service()
        try:
            cookie: Any = None
            while True:
                ok = conn.search(
                    base,
                    search_filter,
                    attributes=attributes,
                    paged_size=self.config.page_size,
                    paged_cookie=cookie,
                )
                if not ok and conn.result.get("result") not in (0, 32):
                    raise DirectoryUnavailable(f"search failed: {conn.result.get('description')}")
                yield [e for e in conn.response or [] if e.get("type") == "searchResEntry"]
                controls = conn.result.get("controls") or {}
                cookie = controls.get("1.2.840.113556.1.4.319", {}).get("value", {}).get("cookie")
                if not cookie:
                    return
        except LDAPException as exc:
            raise DirectoryUnavailable(str(exc)) from exc
        finally:
            conn.unbind()

    def people_pages(self) -> Iterator[list[tuple[str, Person | None]]]:
        """Every entry the user filter matches, as (dn, person or None when it has no address)."""
        cfg = self.config
        for page in self._paged(cfg.user_base, cfg.user_filter, cfg.attributes.user_attributes()):
            yield [(e["dn"], person_from_entry(e["dn"], _raw(e), cfg.attributes)) for e in page]

    def group_pages(self) -> Iterator[list[Group]]:
        cfg = self.config
        amap = cfg.attributes
        for page in self._paged(cfg.group_base, cfg.group_filter, amap.group_attributes()):
            groups = []
            for e in page:
                raw = _raw(e)
                address = address_of(text_of(raw, amap.sip)) or address_of(text_of(raw, amap.group_mail))
                name = text_of(raw, amap.group_name) or e["dn"]
                groups.append(Group(e["dn"], name, address, all_values(raw, amap.group_member)))
            yield groups
