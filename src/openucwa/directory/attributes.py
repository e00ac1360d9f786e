"""Which LDAP attribute carries which fact about a person, for Active Directory and for OpenLDAP.

An entry becomes a ``Person`` here and nowhere else, so the sign-in path, the sync and
``openucwa directory check`` cannot disagree about who an entry is or whether it may sign in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

# userAccountControl bit 2 (ACCOUNTDISABLE); the OID is AD's bitwise-AND matching rule, which
# OpenLDAP implements too.
ACCOUNT_DISABLED = 2
BIT_AND = "1.2.840.113556.1.4.803"


@dataclass(frozen=True, slots=True)
class AttributeMap:
    sip: str = "msRTCSIP-PrimaryUserAddress"
    sip_enabled: str = "msRTCSIP-UserEnabled"
    mail: str = "mail"
    upn: str = "userPrincipalName"
    login: str = "sAMAccountName"
    name: str = "displayName"
    fallback_name: str = "cn"
    title: str = "title"
    department: str = "department"
    company: str = "company"
    office: str = "physicalDeliveryOfficeName"
    phone: str = "telephoneNumber"
    photo: str = "thumbnailPhoto"
    account_control: str = "userAccountControl"
    member_of: str = "memberOf"
    group_member: str = "member"
    group_name: str = "cn"
    group_mail: str = "mail"

    def user_attributes(self) -> list[str]:
        skip = {"group_member", "group_name", "group_mail"}
        return sorted(
            {getattr(self, f.name) for f in fields(self) if f.name not in skip and getattr(self, f.name)}
        )

    def group_attributes(self) -> list[str]:
        return sorted({self.group_member, self.group_name, self.group_mail, self.sip})


AD = AttributeMap()
# inetOrgPerson: no UPN, the login name is uid, the photo is jpegPhoto, no account-control bits.
OPENLDAP = AttributeMap(
    upn="",
    login="uid",
    office="roomNumber",
    company="o",
    photo="jpegPhoto",
    account_control="",
)

DEFAULT_USER_FILTER = {
    "ad": "(&(objectCategory=person)(objectClass=user)"
    f"(!(userAccountControl:{BIT_AND}:={ACCOUNT_DISABLED})))",
    "openldap": "(objectClass=inetOrgPerson)",
}
DEFAULT_GROUP_FILTER = {
    "ad": "(objectClass=group)",
    "openldap": "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))",
}


def attribute_map(schema: str, overrides: Sequence[str] = ()) -> AttributeMap:
    """The preset for ``schema`` ("ad" or "openldap") with ``field=attribute`` overrides applied."""
    base = OPENLDAP if schema == "openldap" else AD
    known = {f.name for f in fields(AttributeMap)}
    changes: dict[str, str] = {}
    for pair in overrides:
        key, _, value = pair.partition("=")
        key = key.strip().lower()
        if key not in known:
            raise ValueError(f"ldap_attributes: unknown field {key!r} (known: {', '.join(sorted(known))})")
        changes[key] = value.strip()
    return replace(base, **changes)


@dataclass(frozen=True, slots=True)
class Person:
    """What the server keeps of a directory entry (never a password)."""

    dn: str
    uri: str  # "lenea@contoso.com", lower case
    name: str
    email: str | None
    title: str | None
    department: str | None
    company: str | None
    office: str | None
    work_phone: str | None
    upn: str | None  # lower case
    login: str | None  # sAMAccountName / uid, lower case
    enabled: bool
    why_disabled: str | None
    photo: bytes | None
    member_of: tuple[str, ...]


def _first(attrs: Mapping[str, Any], name: str) -> Any:
    if not name:
        return None
    for key, value in attrs.items():
        if key.lower() == name.lower():
            if isinstance(value, list | tuple):
                return value[0] if value else None
            return value
    return None


def all_values(attrs: Mapping[str, Any], name: str) -> tuple[str, ...]:
    for key, value in attrs.items():
        if key.lower() == name.lower():
            values = value if isinstance(value, list | tuple) else [value]
            return tuple(_str(v) for v in values if v not in (None, "", b""))
    return ()


def text_of(attrs: Mapping[str, Any], name: str) -> str | None:
    value = _first(attrs, name)
    if value is None:
        return None
    text = _str(value).strip()
    return text or None


def address_of(value: str | None) -> str | None:
    """user@domain from a SIP URI or mail address; None when it is not one."""
    if not value:
        return None
    v = value.strip()
    if v.lower().startswith("sip:"):
        v = v[4:]
    local, at, domain = v.partition("@")
    if not at or not local or not domain or any(c.isspace() for c in v):
        return None
    return v.lower()


def _str(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _is_false(value: Any) -> bool:
    if isinstance(value, bool):
        return not value
    return _str(value).strip().upper() in ("FALSE", "0")


def person_from_entry(dn: str, attrs: Mapping[str, Any], amap: AttributeMap) -> Person | None:
    """The person an entry stands for; None when it has no address to be reached at.

    The SIP address is ``msRTCSIP-PrimaryUserAddress`` when present, else ``mail``, else the UPN,
    as Skype for Business chose it.
    """
    uri = (
        address_of(text_of(attrs, amap.sip))
        or address_of(text_of(attrs, amap.mail))
        or address_of(text_of(attrs, amap.upn))
    )
    if uri is None:
        return None
    why: str | None = None
    sip_enabled = _first(attrs, amap.sip_enabled)
    if sip_enabled is not None and _is_false(sip_enabled):
        why = f"{amap.sip_enabled} is FALSE"
    control = text_of(attrs, amap.account_control)
    if control is not None:
        try:
            if int(control) & ACCOUNT_DISABLED:
                why = f"{amap.account_control} has the ACCOUNTDISABLE bit"
        except ValueError:
            why = f"{amap.account_control} is not a number"
    photo = _first(attrs, amap.photo)
    upn = text_of(attrs, amap.upn)
    login = text_of(attrs, amap.login)
    return Person(
        dn=dn,
        uri=uri,
        name=text_of(attrs, amap.name) or text_of(attrs, amap.fallback_name) or uri,
        email=(text_of(attrs, amap.mail) or "").lower() or None,
        title=text_of(attrs, amap.title),
        department=text_of(attrs, amap.department),
        company=text_of(attrs, amap.company),
        office=text_of(attrs, amap.office),
        work_phone=text_of(attrs, amap.phone),
        upn=upn.lower() if upn else None,
        login=login.lower() if login else None,
        enabled=why is None,
        why_disabled=why,
        photo=photo if isinstance(photo, bytes) and photo else None,
        member_of=all_values(attrs, amap.member_of),
    )
