"""Server settings: one frozen record, built once from CLI flags and ``OPENUCWA_*`` variables.

Each value has a documented default (README "Settings and limits"); validation names the setting
at fault so a mistyped variable fails at start-up instead of at the first request.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields, replace
from typing import Any
from urllib.parse import urlsplit


class SettingsError(ValueError):
    """A setting has a value the server cannot use."""


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: str = "./data"
    database_url: str | None = None
    redis_url: str | None = None
    public_base_url: str | None = None
    behind_proxy: bool = False
    allowed_origins: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    token_lifetime: int = 8 * 3600
    app_idle_timeout: int = 15 * 60
    transient_state_timeout: int = 5 * 60
    tombstone_lifetime: int = 3600
    max_applications_per_user: int = 10
    max_body_bytes: int = 1024 * 1024
    # Quotas (limits strings, "N/second;M/minute"; empty: none) and the largest event batch: one
    # user may not fill another's queue, the database or a P-GET answer without bound.
    message_rate: str = "100/second;3000/minute"
    message_bytes_rate: str = "16777216/minute"
    invitation_rate: str = "300/minute"
    signin_account_failures: str = "10/minute;100/hour"
    signin_address_failures: str = "100/minute;1000/hour"
    password_checks: int = 2
    max_batch_bytes: int = 1024 * 1024
    # One connection's share of the server (server/limits.py): the head of a request (431 past
    # either), its request line (414), seconds to send the head and each piece of a body (408),
    # seconds an idle keep-alive connection stays open, open connections per client address.
    max_header_bytes: int = 64 * 1024
    max_headers: int = 100
    max_request_line: int = 8 * 1024
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    keep_alive_timeout: int = 5
    max_connections_per_client: int = 1024
    event_aggregation: bool = True
    reaper_interval: float = 5.0
    user_agent_denylist: tuple[str, ...] = ()
    html_messaging: bool = True
    invitation_timeout: float = 30.0
    message_delivery_timeout: float = 30.0
    typing_timeout: float = 5.0
    # Seconds in one minute of presence-subscription durations and their expiry warning (tests
    # shorten it so that a 10-minute subscription expires in seconds).
    subscription_minute: float = 60.0
    max_message_bytes: int = 64 * 1024
    server_fqdn: str = "openucwa.local"
    # Company directory (README "Company directory"); no LDAP_URL = local accounts only.
    ldap_url: tuple[str, ...] = ()
    ldap_start_tls: bool = False
    ldap_ca_file: str | None = None
    ldap_bind_dn: str | None = None
    ldap_bind_password: str | None = None
    ldap_bind_password_file: str | None = None
    ldap_schema: str = "ad"
    ldap_user_base: str | None = None
    ldap_user_filter: str | None = None
    ldap_attributes: tuple[str, ...] = ()
    ldap_group_base: str | None = None
    ldap_group_filter: str | None = None
    ldap_group_depth: int = 8
    ldap_netbios_domain: str | None = None
    ldap_sync_interval: float = 15 * 60
    ldap_timeout: float = 5.0
    ldap_page_size: int = 500
    # Operations (README "Operations"): /metrics is served to loopback clients, or to anyone with
    # the token when one is set; ``metrics=False`` turns it off.
    metrics: bool = True
    metrics_token: str | None = None
    log_format: str = "auto"  # auto (console on a terminal, else json) | json | console
    tls_cert: str | None = None
    tls_key: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def with_overrides(self, **values: Any) -> Settings:
        return replace(self, **{k: v for k, v in values.items() if v is not None})


def _convert(name: str, raw: str, kind: Any) -> Any:
    kind_s = str(kind)
    try:
        if "bool" in kind_s:
            low = raw.strip().lower()
            if low in {"1", "true", "yes", "on"}:
                return True
            if low in {"0", "false", "no", "off"}:
                return False
            raise ValueError(raw)
        if "tuple" in kind_s:
            return tuple(p.strip() for p in raw.split(",") if p.strip())
        if kind_s.startswith("int"):
            return int(raw)
        if kind_s.startswith("float"):
            return float(raw)
        return raw
    except ValueError as exc:
        raise SettingsError(f"OPENUCWA_{name.upper()}: cannot use {raw!r} ({kind_s} expected)") from exc


def from_env(env: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from ``OPENUCWA_<NAME>`` variables, then explicit overrides (CLI flags)."""
    env = dict(os.environ if env is None else env)
    values: dict[str, Any] = {}
    for f in fields(Settings):
        raw = env.get(f"OPENUCWA_{f.name.upper()}")
        if raw is not None and f.name != "extra":
            values[f.name] = _convert(f.name, raw, f.type)
    settings = replace(Settings(), **values).with_overrides(**overrides)
    validate(settings)
    return settings


def validate(s: Settings) -> None:
    positive = (
        "port",
        "token_lifetime",
        "app_idle_timeout",
        "transient_state_timeout",
        "max_body_bytes",
        "max_header_bytes",
        "max_headers",
        "max_request_line",
        "header_timeout",
        "body_timeout",
        "keep_alive_timeout",
    )
    for name in positive:
        if getattr(s, name) <= 0:
            raise SettingsError(f"{name}: must be positive, got {getattr(s, name)}")
    if s.max_applications_per_user < 1:
        raise SettingsError("max_applications_per_user: must be at least 1")
    if s.database_url and not s.database_url.startswith(("sqlite:", "postgresql:", "postgres:")):
        raise SettingsError(f"database_url: unsupported scheme in {s.database_url!r}")
    _validate_directory(s)
    if s.redis_url and not s.redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise SettingsError(f"redis_url: unsupported scheme in {s.redis_url!r}")
    if s.public_base_url and not _web_url(s.public_base_url, path_allowed=True):
        raise SettingsError(
            f"public_base_url: expected http(s)://host[:port][/path], got {s.public_base_url!r}"
        )
    for origin in s.allowed_origins:
        if origin != "*" and not _web_url(origin, path_allowed=False):
            raise SettingsError(f"allowed_origins: expected scheme://host[:port] or *, got {origin!r}")
    for name in RATE_SETTINGS:
        value = getattr(s, name)
        if value and not _RATE.fullmatch(value):
            raise SettingsError(f"{name}: expected limits like 20/second;600/minute, got {value!r}")
    if s.log_format not in LOG_FORMATS:
        raise SettingsError(f"log_format: expected one of {', '.join(LOG_FORMATS)}, got {s.log_format!r}")
    if bool(s.tls_cert) != bool(s.tls_key):
        raise SettingsError("tls_cert, tls_key: give both (a certificate chain file and its key) or neither")
    if s.metrics_token is not None and len(s.metrics_token) < 16:
        raise SettingsError("metrics_token: use at least 16 characters")
    for host in s.allowed_hosts:
        if not _HOST_NAME.match(host):
            raise SettingsError(f"allowed_hosts: expected a host name, got {host!r}")


RATE_SETTINGS = (
    "message_rate",
    "message_bytes_rate",
    "invitation_rate",
    "signin_account_failures",
    "signin_address_failures",
)
_ONE_RATE = r"\s*[0-9]+\s*(?:/|per)\s*(?:[0-9]+\s*)?(?:second|minute|hour|day|month|year)s?\s*"
_RATE = re.compile(rf"{_ONE_RATE}(?:[;,|]{_ONE_RATE})*")
LOG_FORMATS = ("auto", "json", "console")
_HOST_NAME = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?)+$|^\[[0-9A-Fa-f:.]+\]$")


def _web_url(value: str, *, path_allowed: bool) -> bool:
    """http(s)://host[:port], with nothing a page or a header could be broken out of."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return False
    del port  # parsed only to reject a malformed one
    host = parts.netloc.rsplit(":", 1)[0] if not parts.netloc.endswith("]") else parts.netloc
    return (
        parts.scheme in ("http", "https")
        and bool(_HOST_NAME.match(host))
        and not parts.query
        and not parts.fragment
        and "@" not in parts.netloc
        and (
            (path_allowed and re.fullmatch(r"[A-Za-z0-9._~/-]*", parts.path) is not None)
            or parts.path in ("", "/")
        )
    )


def _validate_directory(s: Settings) -> None:
    for url in s.ldap_url:
        if not url.lower().startswith(("ldap://", "ldaps://")):
            raise SettingsError(f"ldap_url: {url!r} is not an ldap:// or ldaps:// URL")
    if s.ldap_schema not in ("ad", "openldap"):
        raise SettingsError(f"ldap_schema: {s.ldap_schema!r} is neither 'ad' nor 'openldap'")
    if s.ldap_url and not s.ldap_user_base:
        raise SettingsError("ldap_user_base: required when ldap_url is set")
    if s.ldap_bind_password and s.ldap_bind_password_file:
        raise SettingsError("ldap_bind_password_file: give either the password or the file, not both")
    for pair in s.ldap_attributes:
        if "=" not in pair:
            raise SettingsError(f"ldap_attributes: {pair!r} is not field=attribute")
    if s.ldap_sync_interval <= 0 or s.ldap_timeout <= 0 or s.ldap_page_size <= 0 or s.ldap_group_depth < 1:
        raise SettingsError(
            "ldap_sync_interval, ldap_timeout, ldap_page_size, ldap_group_depth: must be positive"
        )


def ldap_bind_password(s: Settings) -> str | None:
    """The service account's password, read from its file each time so that a rotated secret needs
    no restart; never logged."""
    if s.ldap_bind_password_file:
        try:
            with open(s.ldap_bind_password_file, encoding="utf-8") as f:
                return f.read().strip("\r\n")
        except OSError as exc:
            raise SettingsError(f"ldap_bind_password_file: cannot read it: {exc.strerror}") from exc
    return s.ldap_bind_password
