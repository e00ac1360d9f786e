"""Directory settings: read from OPENUCWA_LDAP_* like the others, checked at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from openucwa.config import SettingsError, from_env, ldap_bind_password
from openucwa.directory.client import DirectoryConfig

BASE = {
    "OPENUCWA_LDAP_URL": "ldaps://dc1.contoso.com, ldaps://dc2.contoso.com",
    "OPENUCWA_LDAP_USER_BASE": "dc=x",
}


def test_settings_from_the_environment(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    s = from_env(
        {**BASE, "OPENUCWA_LDAP_BIND_PASSWORD_FILE": str(secret), "OPENUCWA_LDAP_SYNC_INTERVAL": "60"}
    )
    assert s.ldap_url == ("ldaps://dc1.contoso.com", "ldaps://dc2.contoso.com")
    assert s.ldap_sync_interval == 60.0 and ldap_bind_password(s) == "s3cret"
    config = DirectoryConfig.from_settings(s)
    assert config is not None and "userAccountControl" in config.user_filter
    assert config.group_base == "dc=x"
    assert DirectoryConfig.from_settings(from_env({})) is None
    flag = from_env({}, ldap_url=("ldap://127.0.0.1",), ldap_user_base="dc=y")  # a CLI flag wins
    assert flag.ldap_url == ("ldap://127.0.0.1",)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OPENUCWA_LDAP_URL": "http://dc1"}, "ldap_url"),
        ({"OPENUCWA_LDAP_URL": "ldap://dc1"}, "ldap_user_base"),
        ({**BASE, "OPENUCWA_LDAP_SCHEMA": "novell"}, "ldap_schema"),
        ({**BASE, "OPENUCWA_LDAP_ATTRIBUTES": "phone"}, "ldap_attributes"),
        ({**BASE, "OPENUCWA_LDAP_SYNC_INTERVAL": "0"}, "ldap_sync_interval"),
        ({**BASE, "OPENUCWA_LDAP_BIND_PASSWORD": "a", "OPENUCWA_LDAP_BIND_PASSWORD_FILE": "/x"}, "either"),
    ],
)
def test_bad_settings_name_the_setting(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        from_env(env)


def test_an_unreadable_password_file_is_one_clear_error(tmp_path: Path) -> None:
    s = from_env({**BASE, "OPENUCWA_LDAP_BIND_PASSWORD_FILE": str(tmp_path / "missing")})
    with pytest.raises(SettingsError, match="ldap_bind_password_file: cannot read it"):
        ldap_bind_password(s)
