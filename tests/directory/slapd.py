"""A throwaway OpenLDAP server for the directory tests: its own cn=config, an mdb database and an
AD-like schema (sAMAccountName, userPrincipalName, userAccountControl, thumbnailPhoto, memberOf,
msRTCSIP-*), on a free loopback port, under a temporary directory.
"""

from __future__ import annotations

import base64
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"
SUFFIX = "dc=contoso,dc=com"
ADMIN_DN = f"cn=admin,{SUFFIX}"
ADMIN_PW = "admin-secret"
SERVICE_DN = f"cn=openucwa-svc,{SUFFIX}"
SERVICE_PW = "svc-secret"
PEOPLE = f"ou=people,{SUFFIX}"
STAFF = f"ou=staff,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"
# A 1x1 JPEG: thumbnailPhoto must flow through to the photo resource byte for byte.
PHOTO = base64.b64decode(
    "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////////"
    "////////////////////////////2wBDAf//////////////////////////////////////////////////////////"
    "////////////////////////////wAARCAABAAEDASIAAhEBAxEB/8QAFQABAQAAAAAAAAAAAAAAAAAAAAP/xAAUEAEAAAAA"
    "AAAAAAAAAAAAAAAA/8QAFAEBAAAAAAAAAAAAAAAAAAAAAP/EABQRAQAAAAAAAAAAAAAAAAAAAAD/2gAMAwEAAhEDEQA/AKAA/9k="
)

_OID = "1.3.6.1.4.1.59999.12"
_DS = "SYNTAX 1.3.6.1.4.1.1466.115.121.1.15"  # directory string
_CI = "EQUALITY caseIgnoreMatch"
_ATTRIBUTES = [
    f"sAMAccountName' {_CI} SUBSTR caseIgnoreSubstringsMatch {_DS} SINGLE-VALUE",
    f"userPrincipalName' {_CI} SUBSTR caseIgnoreSubstringsMatch {_DS} SINGLE-VALUE",
    "userAccountControl' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE",
    "thumbnailPhoto' SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 SINGLE-VALUE",
    "memberOf' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12",
    f"msRTCSIP-PrimaryUserAddress' {_CI} {_DS} SINGLE-VALUE",
    "msRTCSIP-UserEnabled' EQUALITY booleanMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.7 SINGLE-VALUE",
    f"objectCategory' {_CI} {_DS} SINGLE-VALUE",
    f"company' {_CI} {_DS} SINGLE-VALUE",
    f"department' {_CI} {_DS} SINGLE-VALUE",
]
_USER_MAY = (
    "sAMAccountName $ userPrincipalName $ userAccountControl $ thumbnailPhoto $ memberOf $ "
    "msRTCSIP-PrimaryUserAddress $ msRTCSIP-UserEnabled $ objectCategory $ company $ department"
)
_CLASSES = [
    f"user' SUP inetOrgPerson STRUCTURAL MAY ( {_USER_MAY} )",
    "group' SUP groupOfNames STRUCTURAL "
    "MAY ( mail $ sAMAccountName $ msRTCSIP-PrimaryUserAddress $ objectCategory )",
]
SCHEMA = (
    "dn: cn=adlike,cn=schema,cn=config\nobjectClass: olcSchemaConfig\ncn: adlike\n"
    + "".join(f"olcAttributeTypes: ( {_OID}.1.{i} NAME '{a} )\n" for i, a in enumerate(_ATTRIBUTES, 1))
    + "".join(f"olcObjectClasses: ( {_OID}.2.{i} NAME '{c} )\n" for i, c in enumerate(_CLASSES, 1))
)


def _config(data_dir: Path, max_size: int) -> str:
    includes = "".join(
        Path(f"/etc/ldap/schema/{name}.ldif").read_text() + "\n"
        for name in ("core", "cosine", "inetorgperson")
    )
    return f"""dn: cn=config
objectClass: olcGlobal
cn: config

dn: cn=module,cn=config
objectClass: olcModuleList
cn: module
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

{includes}
{SCHEMA}
dn: olcDatabase=frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: frontend

dn: olcDatabase=mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: mdb
olcSuffix: {SUFFIX}
olcDbDirectory: {data_dir}
olcRootDN: {ADMIN_DN}
olcRootPW: {ADMIN_PW}
olcDbMaxSize: {max_size}
olcSizeLimit: size.soft=unlimited size.hard=unlimited size.prtotal=unlimited
olcAccess: to attrs=userPassword by anonymous auth by self write by * none
olcAccess: to * by users read by * none
"""


def person(
    uid: str,
    name: str,
    password: str,
    *,
    base: str = PEOPLE,
    sip: str | None = None,
    mail: str | None = None,
    upn: str | None = None,
    control: int | None = 512,
    sip_enabled: bool | None = True,
    title: str | None = None,
    department: str | None = None,
    phone: str | None = None,
    photo: bytes | None = None,
) -> tuple[str, dict[str, object]]:
    """An AD-like user entry as (dn, attributes) for ldap3 ``add``."""
    attrs: dict[str, object] = {
        "objectClass": ["user"],
        "objectCategory": "person",
        "cn": uid,
        "sn": name.split()[-1],
        "displayName": name,
        "sAMAccountName": uid,
        "uid": uid,
        "userPassword": password,
    }
    optional = {
        "msRTCSIP-PrimaryUserAddress": sip,
        "mail": mail,
        "userPrincipalName": upn,
        "userAccountControl": None if control is None else str(control),
        "msRTCSIP-UserEnabled": None if sip_enabled is None else ("TRUE" if sip_enabled else "FALSE"),
        "title": title,
        "department": department,
        "telephoneNumber": phone,
        "thumbnailPhoto": photo,
    }
    attrs.update({k: v for k, v in optional.items() if v is not None})
    return f"cn={uid},{base}", attrs


def _ldif_value(key: str, value: object) -> str:
    if isinstance(value, bytes):
        return f"{key}:: {base64.b64encode(value).decode()}"
    return f"{key}: {value}"


def to_ldif(dn: str, attrs: dict[str, object]) -> str:
    lines = [f"dn: {dn}"]
    for key, value in attrs.items():
        for v in value if isinstance(value, list) else [value]:
            lines.append(_ldif_value(key, v))
    return "\n".join(lines) + "\n\n"


def seed_entries() -> list[tuple[str, dict[str, object]]]:
    """The directory every test starts from (tests that change it add entries of their own)."""
    c = "contoso.com"
    return [
        (SUFFIX, {"objectClass": ["dcObject", "organization"], "dc": "contoso", "o": "Contoso"}),
        (PEOPLE, {"objectClass": ["organizationalUnit"], "ou": "people"}),
        (STAFF, {"objectClass": ["organizationalUnit"], "ou": "staff"}),
        (GROUPS, {"objectClass": ["organizationalUnit"], "ou": "groups"}),
        (
            SERVICE_DN,
            {
                "objectClass": ["organizationalRole", "simpleSecurityObject"],
                "cn": "openucwa-svc",
                "userPassword": SERVICE_PW,
            },
        ),
        person(
            "toshm",
            "Tosh Meston",
            "tosh-ldap",
            sip=f"sip:toshm@{c}",
            mail=f"toshm@{c}",
            upn=f"toshm@{c}",
            title="Engineer",
            department="R&D",
            phone="+1 425 555 0100",
            photo=PHOTO,
        ),
        # The UPN differs from the SIP address, as it often did.
        person(
            "lenea",
            "Lene Aaling",
            "lene-ldap",
            sip=f"sip:lenea@{c}",
            mail=f"lenea@{c}",
            upn=f"lene.aaling@corp.{c}",
            title="Manager",
            department="Sales",
        ),
        person("mailonly", "Mail Only", "mail-ldap", mail=f"mail.only@{c}", upn=f"mailonly@corp.{c}"),
        person("upnonly", "Upn Only", "upn-ldap", upn=f"upnonly@{c}"),
        person("adoff", "Ad Disabled", "adoff-ldap", sip=f"sip:adoff@{c}", control=514),
        person("sipoff", "Sip Disabled", "sipoff-ldap", sip=f"sip:sipoff@{c}", sip_enabled=False),
        (
            f"uid=sarad,{STAFF}",
            {
                "objectClass": ["inetOrgPerson"],
                "uid": "sarad",
                "cn": "Sara Davis",
                "sn": "Davis",
                "displayName": "Sara Davis",
                "mail": f"sarad@{c}",
                "userPassword": "sara-ldap",
                "jpegPhoto": PHOTO,
                "roomNumber": "B-12",
            },
        ),
        (
            f"cn=Sales,{GROUPS}",
            {
                "objectClass": ["group"],
                "cn": "Sales",
                "mail": f"sales@{c}",
                "member": [f"cn=toshm,{PEOPLE}", f"cn=Sales EMEA,{GROUPS}"],
            },
        ),
        # Nested, and back again: flattening must stop at the cycle.
        (
            f"cn=Sales EMEA,{GROUPS}",
            {
                "objectClass": ["group"],
                "cn": "Sales EMEA",
                "mail": f"sales-emea@{c}",
                "member": [f"cn=lenea,{PEOPLE}", f"cn=Sales,{GROUPS}"],
            },
        ),
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def unavailable() -> str | None:
    if not (Path(SLAPD).exists() and Path(SLAPADD).exists()):
        return "slapd is not installed (make test installs Debian's slapd when run as root)"
    return None


@dataclass
class Slapd:
    root: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    def setup(self, ldif: Iterable[str] | None = None, max_size: int = 100 * 2**20) -> None:
        """Loads ``ldif`` (chunks of LDIF text, written as they come; default: ``seed_entries``)
        offline with slapadd, which is much faster than adding entries to a running slapd."""
        conf, data = self.root / "slapd.d", self.root / "data"
        conf.mkdir(parents=True)
        data.mkdir()
        (self.root / "config.ldif").write_text(_config(data, max_size))
        with open(self.root / "data.ldif", "w") as out:
            for chunk in ldif if ldif is not None else (to_ldif(dn, a) for dn, a in seed_entries()):
                out.write(chunk)
        for args in (
            ["-n0", "-F", str(conf), "-l", str(self.root / "config.ldif")],
            ["-q", "-n1", "-F", str(conf), "-l", str(self.root / "data.ldif")],
        ):
            done = subprocess.run([SLAPADD, *args], capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"slapadd {' '.join(args[:2])} failed: {done.stderr}")

    def start(self) -> None:
        if not self.port:
            self.port = free_port()
        log = open(self.root / "slapd.log", "ab")  # handed to the child
        self.proc = subprocess.Popen(
            [SLAPD, "-d", "0", "-h", f"ldap://127.0.0.1:{self.port}/", "-F", str(self.root / "slapd.d")],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"slapd exited: {(self.root / 'slapd.log').read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("slapd did not start in 15 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
