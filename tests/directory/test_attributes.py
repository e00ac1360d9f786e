"""Entries to people and login names to searches: pure, table-driven."""

from __future__ import annotations

import pytest

from openucwa.directory.attributes import AD, OPENLDAP, attribute_map, person_from_entry
from openucwa.directory.login import Login, escape, login_filter, parse_login


@pytest.mark.parametrize(
    ("attrs", "uri"),
    [
        (
            {"msRTCSIP-PrimaryUserAddress": [b"sip:LeneA@Contoso.com"], "mail": [b"x@y.z"]},
            "lenea@contoso.com",
        ),
        ({"mail": [b"lenea@contoso.com"], "userPrincipalName": [b"l@corp.contoso.com"]}, "lenea@contoso.com"),
        ({"userPrincipalName": [b"lenea@corp.contoso.com"]}, "lenea@corp.contoso.com"),
        ({"cn": [b"no address"]}, None),
        ({"mail": [b"not an address"]}, None),
    ],
)
def test_the_sip_address_comes_from_sip_then_mail_then_upn(
    attrs: dict[str, list[bytes]], uri: str | None
) -> None:
    person = person_from_entry("cn=x", attrs, AD)
    assert (person.uri if person else None) == uri


@pytest.mark.parametrize(
    ("attrs", "enabled"),
    [
        ({"userAccountControl": [b"512"]}, True),
        ({"userAccountControl": [b"514"]}, False),  # ACCOUNTDISABLE
        ({"userAccountControl": [b"66050"]}, False),
        ({"msRTCSIP-UserEnabled": [b"FALSE"]}, False),
        ({"msRTCSIP-UserEnabled": [b"TRUE"], "userAccountControl": [b"66048"]}, True),
    ],
)
def test_disabled_entries(attrs: dict[str, list[bytes]], enabled: bool) -> None:
    person = person_from_entry("cn=x", {"mail": [b"a@b.c"], **attrs}, AD)
    assert person is not None and person.enabled is enabled and (person.why_disabled is None) is enabled


def test_profile_and_photo_from_openldap_entries() -> None:
    attrs = {
        "mail": [b"sarad@contoso.com"],
        "displayName": ["Sara Davis"],
        "roomNumber": [b"B-12"],
        "jpegPhoto": [b"\xff\xd8\xff..."],
        "uid": [b"SaraD"],
    }
    p = person_from_entry("uid=sarad,ou=staff", attrs, OPENLDAP)
    assert p is not None
    assert (p.name, p.office, p.photo, p.login, p.upn) == (
        "Sara Davis",
        "B-12",
        b"\xff\xd8\xff...",
        "sarad",
        None,
    )


def test_attribute_overrides() -> None:
    amap = attribute_map("ad", ["phone=mobile", "Office = roomNumber"])
    assert (amap.phone, amap.office, amap.sip) == ("mobile", "roomNumber", AD.sip)
    with pytest.raises(ValueError, match="unknown field"):
        attribute_map("ad", ["shoe=size"])


@pytest.mark.parametrize(
    ("name", "login"),
    [
        ("lenea@contoso.com", Login(address="lenea@contoso.com")),
        ("  LeneA@Contoso.COM ", Login(address="lenea@contoso.com")),
        ("sip:lenea@contoso.com", Login(address="lenea@contoso.com")),
        ("SIP:LENEA@CONTOSO.COM", Login(address="lenea@contoso.com")),
        ("CONTOSO\\lenea", Login(account="lenea")),
        ("contoso\\LeneA", Login(account="lenea")),
        ("FABRIKAM\\lenea", None),
        ("\\lenea", None),
        ("CONTOSO\\", None),
        ("lenea", None),
        ("lenea@", None),
        ("le nea@contoso.com", None),
        ("a@b@c", None),
        ("", None),
    ],
)
def test_login_names(name: str, login: Login | None) -> None:
    assert parse_login(name, "CONTOSO") == login


def test_without_a_netbios_domain_no_down_level_name_is_accepted() -> None:
    assert parse_login("CONTOSO\\lenea", None) is None


def test_a_login_cannot_change_the_filter() -> None:
    assert escape("*)(uid=*") == "\\2a\\29\\28uid=\\2a"
    f = login_filter(Login(account="a*)(x"), AD, "(objectClass=user)")
    assert f == "(&(objectClass=user)(sAMAccountName=a\\2a\\29\\28x))"
    f = login_filter(Login(address="lenea@contoso.com"), OPENLDAP, "(objectClass=inetOrgPerson)")
    assert "userPrincipalName" not in f and "(mail=lenea@contoso.com)" in f
