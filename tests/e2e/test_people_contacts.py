"""Contact lists (SPEC §12.4, §12.5) fed by ``openucwa contact …``, and photos (SPEC §11.8)."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable

import httpx
import pytest
from typer.testing import CliRunner

from openucwa.cli import app as cli_app

from .people import Party

Cli = Callable[..., tuple[int, str]]


@pytest.fixture
def cli(server) -> Cli:
    """Runs ``openucwa …`` in process against the shared server's database."""
    store = ["--data-dir", server.data_dir] + (
        ["--database-url", server.database_url] if server.database_url else []
    )

    def run(*args: str) -> tuple[int, str]:
        r = CliRunner().invoke(cli_app, [*args, *store])
        return r.exit_code, r.output

    return run


@pytest.fixture
def owner(cli: Cli, parties: Callable[..., Party]) -> Party:
    """A fresh user, so contact lists do not leak between tests sharing the database."""
    uri = f"own-{uuid.uuid4().hex[:8]}@contoso.com"
    code, out = cli("user", "add", uri, "--name", "Olga Owner", "--password", "pw")
    assert code == 0, out
    return parties(uri, "pw")


def test_contact_lists_and_groups(cli: Cli, owner: Party) -> None:
    me = owner.s.get(owner.a + "/me").json()["uri"].removeprefix("sip:")
    assert cli("contact", "add", me, "lenea@contoso.com")[0] == 0
    assert cli("contact", "add", me, "sarad@contoso.com", "--group", "Pinned Contacts")[0] == 0
    assert cli("contact", "add", me, "sarad@contoso.com", "--group", "Team")[0] == 0
    code, out = cli("contact", "list", me)
    assert code == 0 and "Team" in out and "sip:sarad@contoso.com" in out, out
    people = owner.s.get(owner.a + "/people").json()["_links"]
    # myContacts: union without duplicates, embedded by default
    mc = owner.s.get(people["myContacts"]["href"])
    assert mc.status_code == 200, mc.text
    body = mc.json()
    assert body["rel"] == "myContacts"
    assert [c["name"] for c in body["_embedded"]["contact"]] == ["Lene Aaling", "Sara Davis"]
    assert body["_embedded"]["contact"][0]["_links"]["self"]["href"] == owner.a + "/people/lenea@contoso.com"
    assert (
        owner.s.get(people["myContacts"]["href"], headers={"If-None-Match": mc.headers["etag"]}).status_code
        == 304
    )
    flat = owner.s.get(people["myContacts"]["href"] + "?expand=false").json()
    assert "_embedded" not in flat
    assert [lk["href"] for lk in flat["_links"]["contact"]] == [
        owner.a + "/people/lenea@contoso.com",
        owner.a + "/people/sarad@contoso.com",
    ]
    # myGroups
    g = owner.s.get(people["myGroups"]["href"]).json()
    assert g["rel"] == "myGroups"
    pinned, default = g["_embedded"]["pinnedGroup"], g["_embedded"]["defaultGroup"]
    assert (pinned["name"], pinned["rel"]) == ("Pinned Contacts", "pinnedGroup")
    assert (default["name"], default["rel"]) == ("Other Contacts", "defaultGroup")
    [team] = g["_embedded"]["group"]
    assert team["name"] == "Team" and g["_embedded"]["distributionGroup"] == []
    linked = owner.s.get(people["myGroups"]["href"] + "?expand=false").json()["_links"]
    assert linked["pinnedGroup"]["href"] == pinned["_links"]["self"]["href"]
    assert [x["href"] for x in linked["group"]] == [team["_links"]["self"]["href"]]
    # a group and its contacts
    one = owner.s.get(team["_links"]["self"]["href"]).json()
    assert (one["id"], one["name"], one["rel"]) == (team["id"], "Team", "group")
    members = owner.s.get(team["_links"]["groupContacts"]["href"]).json()
    assert members["rel"] == "groupContacts" and [c["name"] for c in members["_embedded"]["contact"]] == [
        "Sara Davis"
    ]
    dflt = owner.s.get(default["_links"]["groupContacts"]["href"]).json()
    assert [c["name"] for c in dflt["_embedded"]["contact"]] == ["Lene Aaling"]
    # removing from one group keeps the other membership; from all groups removes the contact
    assert cli("contact", "remove", me, "sarad@contoso.com", "--group", "Team")[0] == 0
    assert owner.s.get(team["_links"]["groupContacts"]["href"]).json()["_embedded"]["contact"] == []
    assert cli("contact", "remove", me, "sarad@contoso.com")[0] == 0
    names = [c["name"] for c in owner.s.get(people["myContacts"]["href"]).json()["_embedded"]["contact"]]
    assert names == ["Lene Aaling"]


def test_contact_list_errors(cli: Cli, owner: Party) -> None:
    me = owner.s.get(owner.a + "/me").json()["uri"].removeprefix("sip:")
    for args, fragment in (
        (("contact", "add", me, "nobody@contoso.com"), "no such user"),
        (("contact", "add", "nobody@contoso.com", me), "no such user"),
        (("contact", "add", me, me), "own contact"),
        (("contact", "add", me, "not-an-address"), "not a user address"),
        (("contact", "remove", me, "lenea@contoso.com"), "not a contact"),
        (("contact", "remove", me, "lenea@contoso.com", "--group", "Nope"), "no group"),
        (("contact", "list", "nobody@contoso.com"), "no such user"),
    ):
        code, out = cli(*args)
        lines = [ln for ln in out.splitlines() if ln.strip()]
        assert code != 0 and len(lines) == 1 and lines[0].startswith("error:") and fragment in lines[0], (
            args,
            out,
        )
    assert cli("contact", "add", me, "lenea@contoso.com")[0] == 0
    code, out = cli("contact", "add", me, "lenea@contoso.com")
    assert code != 0 and "already" in out
    base = owner.a + "/people"
    for href, status in (
        (base + "/groups/nope", 404),
        (base + "/contacts?groupId=nope", 404),
        (base + "/contacts?expand=maybe", 400),
        (base + "/groups?expand=maybe", 400),
    ):
        r = owner.s.get(href)
        assert r.status_code == status, (href, r.text)


def _jpeg(color: tuple[int, int, int]) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(out, format="JPEG")
    return out.getvalue()


def test_photos(cli: Cli, owner: Party, tmp_path) -> None:
    me = owner.s.get(owner.a + "/me").json()
    href = me["_links"]["photo"]["href"]
    assert owner.s.get(owner.a + "/policies").json()["photos"] == "Enabled"
    # no upload yet: generated initials
    r = owner.s.get(href)
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert r.content.startswith(b"\xff\xd8") and r.headers["cache-control"] == "private"
    assert "expires" in r.headers
    generated = r.headers["etag"]
    assert owner.s.get(href, headers={"If-None-Match": generated}).status_code == 304
    # an uploaded JPEG replaces it, with a new ETag
    f = tmp_path / "me.jpg"
    f.write_bytes(_jpeg((200, 10, 10)))
    uri = me["uri"].removeprefix("sip:")
    assert cli("user", "photo", uri, str(f))[0] == 0
    r = owner.s.get(href)
    assert r.content == f.read_bytes() and r.headers["etag"] != generated
    # the contact resource links the same photo href
    c = owner.s.get(owner.a + f"/people/{uri}").json()
    assert c["_links"]["contactPhoto"]["href"] == href
    # a non-JPEG is refused with one line
    bad = tmp_path / "x.jpg"
    bad.write_bytes(b"GIF89a")
    code, out = cli("user", "photo", uri, str(bad))
    assert code != 0 and out.strip().startswith("error:") and len(out.strip().splitlines()) == 1
    code, out = cli("user", "photo", uri, str(tmp_path / "missing.jpg"))
    assert code != 0 and out.strip().startswith("error:")
    # the cookie set on application GET authorises GET …/photos only
    cookie = owner.s.get(owner.a).headers["set-cookie"].split(";", 1)[0].split("=", 1)[1]
    anon = httpx.get(owner.s.url(href), cookies={"cwt_ucwa": cookie})
    assert anon.status_code == 200 and anon.content == f.read_bytes()
    assert httpx.get(owner.s.url(owner.a + "/me"), cookies={"cwt_ucwa": cookie}).status_code == 401
    assert httpx.get(owner.s.url(href), cookies={"cwt_ucwa": "bogus"}).status_code == 401
    assert owner.s.get(owner.a + "/photos/nobody@contoso.com").status_code == 404
