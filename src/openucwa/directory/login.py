"""The login names Skype for Business accepted, parsed into one thing to look up.

``user@domain`` (UPN or mail), ``sip:user@domain`` and ``DOMAIN\\user`` (down-level logon name),
any case. Parsing is pure so the same rules serve the token endpoint and ``directory check``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .attributes import AttributeMap


@dataclass(frozen=True, slots=True)
class Login:
    address: str | None = None  # "lenea@contoso.com": SIP URI, mail or UPN
    account: str | None = None  # "lenea": the sAMAccountName of DOMAIN\lenea


def parse_login(name: str, netbios_domain: str | None) -> Login | None:
    """None for a name no account can have (so it costs a dummy check, never a directory query)."""
    text = name.strip()
    if not text or len(text) > 256 or any(ord(c) < 32 for c in text):
        return None
    if "\\" in text:
        domain, _, account = text.partition("\\")
        if not account or "\\" in account or not domain:
            return None
        if netbios_domain is None or domain.lower() != netbios_domain.lower():
            return None
        return Login(account=account.lower())
    if text.lower().startswith("sip:"):
        text = text[4:]
    local, at, domain = text.partition("@")
    if not at or not local or not domain or "@" in domain or any(c.isspace() for c in text):
        return None
    return Login(address=text.lower())


def escape(value: str) -> str:
    """RFC 4515 filter escaping: a login name must never change the filter's meaning."""
    out = []
    for ch in value:
        if ch in "*()\\\0":
            out.append(f"\\{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


def login_filter(login: Login, amap: AttributeMap, user_filter: str) -> str:
    """The search for one login within the operator's user filter (an entry it leaves out, such as a
    disabled account, is then simply unknown)."""
    if login.account is not None:
        which = f"({amap.login}={escape(login.account)})"
    else:
        assert login.address is not None
        a = escape(login.address)
        parts = [f"({amap.mail}={a})", f"({amap.sip}=sip:{a})"]
        if amap.upn:
            parts.append(f"({amap.upn}={a})")
        which = "(|" + "".join(parts) + ")"
    return f"(&{user_filter}{which})"
