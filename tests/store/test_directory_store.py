"""Accounts, generations, coordination and distribution groups in the store, on both backends."""

from __future__ import annotations

import dataclasses

from openucwa.core.models import DistributionGroup, Token, User
from openucwa.store import SqlStore

NOW = 1_700_000_000.0


def user(uri: str, **kw: object) -> User:
    return User(uri=uri, name=uri.split("@")[0].title(), password_hash="h", **kw)  # type: ignore[arg-type,unused-ignore]


async def _token(store: SqlStore, digest: str, uri: str) -> None:
    async with store.transaction() as tx:
        u = await tx.get_user(uri)
        assert u is not None
        await tx.add_token(Token(digest, uri, NOW + 60, u.id, u.generation))


async def _valid(store: SqlStore, digest: str) -> bool:
    async with store.transaction() as tx:
        return await tx.get_token(digest) is not None


async def test_accounts_get_distinct_ids_and_a_recreated_address_is_a_new_account(store: SqlStore) -> None:
    async with store.transaction() as tx:
        await tx.add_user(user("toshm@contoso.com"))
        await tx.add_user(user("lenea@contoso.com"))
        a, b = await tx.get_user("toshm@contoso.com"), await tx.get_user("lenea@contoso.com")
    assert a is not None and b is not None and a.id and b.id and a.id != b.id
    await _token(store, "old", "toshm@contoso.com")
    async with store.transaction() as tx:
        assert await tx.remove_user("toshm@contoso.com")
        await tx.add_user(user("toshm@contoso.com"))
        again = await tx.get_user("toshm@contoso.com")
        # A token naming the old account is refused even when re-inserted under the address.
        await tx.add_token(Token("stale", "toshm@contoso.com", NOW + 60, a.id, 0))
    assert again is not None and again.id != a.id
    assert not await _valid(store, "old") and not await _valid(store, "stale")


async def test_password_change_and_revocation_bump_the_generation(store: SqlStore) -> None:
    async with store.transaction() as tx:
        await tx.add_user(user("lenea@contoso.com"))
    await _token(store, "t0", "lenea@contoso.com")
    assert await _valid(store, "t0")
    async with store.transaction() as tx:
        assert await tx.set_password("lenea@contoso.com", "h2")
    assert not await _valid(store, "t0")
    await _token(store, "t1", "lenea@contoso.com")
    async with store.transaction() as tx:
        revoked = await tx.revoke_user("lenea@contoso.com", disabled=True)
        assert await tx.revoke_user("nobody@contoso.com") is None
    assert revoked is not None and revoked.disabled and revoked.generation == 2
    assert not await _valid(store, "t1")
    # Even a token at the current generation is refused while the account is disabled.
    async with store.transaction() as tx:
        await tx.add_token(Token("t2", "lenea@contoso.com", NOW + 60, revoked.id, revoked.generation))
    assert not await _valid(store, "t2")
    async with store.transaction() as tx:
        assert (await tx.search_users("lene", 10))[0] == []  # people who left are not found


async def test_update_user_keeps_identity_and_secret(store: SqlStore) -> None:
    async with store.transaction() as tx:
        await tx.add_user(user("lenea@contoso.com", source="ldap"))
        before = await tx.get_user("lenea@contoso.com")
        assert before is not None
        await tx.update_user(
            dataclasses.replace(before, name="Lene A.", title="Manager", id="x", password_hash="")
        )
        after = await tx.get_user("lenea@contoso.com")
    assert after == dataclasses.replace(before, name="Lene A.", title="Manager")


async def test_counters_and_leases(store: SqlStore) -> None:
    async with store.transaction() as tx:
        assert await tx.get_counter("revocation") == 0
        assert await tx.bump_counter("revocation") == 1
        assert await tx.bump_counter("revocation") == 2
        assert await tx.take_lease("sync", "node-a", NOW, NOW + 10)
        assert not await tx.take_lease("sync", "node-b", NOW + 5, NOW + 15)
        assert await tx.take_lease("sync", "node-a", NOW + 5, NOW + 15)  # renewing
        assert await tx.take_lease("sync", "node-b", NOW + 15, NOW + 25)  # lapsed
        assert await tx.get_counter("revocation") == 2


async def test_sync_passes_mark_who_was_seen(store: SqlStore) -> None:
    async with store.transaction() as tx:
        for uri in ("amy@contoso.com", "bob@contoso.com", "cyd@contoso.com", "dee@contoso.com"):
            await tx.add_user(user(uri, source="ldap"))
        await tx.add_user(user("helpdesk@contoso.com"))  # local: never a leaver
        await tx.revoke_user("dee@contoso.com", disabled=True)  # already out
        await tx.mark_synced(["amy@contoso.com", "bob@contoso.com"], 1)
        await tx.mark_synced(["bob@contoso.com"], 3)
        await tx.mark_synced(["bob@contoso.com"], 2)  # a slower pass does not move it back
        assert await tx.unsynced_directory_users(2, "", 10) == ["amy@contoso.com", "cyd@contoso.com"]
        assert await tx.unsynced_directory_users(2, "amy@contoso.com", 1) == ["cyd@contoso.com"]
        assert await tx.unsynced_directory_users(1, "", 10) == ["cyd@contoso.com"]


def _group(gid: str, name: str, uri: str | None = None) -> DistributionGroup:
    return DistributionGroup(gid, f"cn={name},ou=groups", name, uri)


async def test_distribution_groups(store: SqlStore) -> None:
    async with store.transaction() as tx:
        await tx.add_user(user("toshm@contoso.com", source="ldap", dn="cn=Tosh,ou=People"))
        await tx.add_user(user("lenea@contoso.com", source="ldap", dn="cn=Lene,ou=People"))
        await tx.add_user(user("sarad@contoso.com", source="ldap", dn="cn=Sara,ou=People", disabled=True))
        await tx.add_user(user("helpdesk@contoso.com", dn="cn=Helpdesk,ou=People"))  # local: never a member
    sales = _group("g1", "Sales", "sales@contoso.com")
    emea = _group("g2", "Sales EMEA")
    nordics = _group("g3", "Nordics")
    async with store.transaction() as tx:  # Sales ∋ Tosh, EMEA; EMEA ∋ Sales (a cycle), Nordics ∋ Lene
        await tx.stage_groups(
            5,
            [sales, emea],
            [
                ("g1", "cn=tosh,ou=people", "x1"),
                ("g1", "cn=nobody,ou=people", "x2"),
                ("g1", "cn=sales emea,ou=groups", "g2"),
                ("g2", "cn=sales,ou=groups", "g1"),
                ("g2", "cn=nordics,ou=groups", "g3"),
                ("g2", "cn=sara,ou=people", "x3"),
                ("g2", "cn=helpdesk,ou=people", "x4"),
            ],
        )
    async with store.transaction() as tx:  # a later page
        await tx.stage_groups(5, [nordics], [("g3", "cn=lene,ou=people", "x5")])
    async with store.transaction() as tx:
        assert await tx.get_distribution_group("g1") is None  # nothing shows before publishing
        await tx.publish_groups(5, depth=8)
    async with store.transaction() as tx:
        assert await tx.get_distribution_group("g1") == sales
        assert await tx.member_groups("lenea@contoso.com") == [nordics, sales, emea]
        assert await tx.member_groups("toshm@contoso.com") == [sales, emea]  # through the cycle
        assert [u.uri for u in await tx.distribution_group_members("g1")] == [
            "lenea@contoso.com",
            "toshm@contoso.com",
        ]
        assert await tx.member_groups("sarad@contoso.com") == []
        assert await tx.search_distribution_groups("EMEA", 10) == [emea]
        assert await tx.search_distribution_groups("sales@", 10) == [sales]
    async with store.transaction() as tx:  # two levels: Sales reaches EMEA's direct members only
        await tx.stage_groups(
            6,
            [sales, emea, nordics],
            [
                ("g1", "cn=sales emea,ou=groups", "g2"),
                ("g2", "cn=nordics,ou=groups", "g3"),
                ("g3", "cn=lene,ou=people", "x5"),
            ],
        )
        await tx.publish_groups(6, depth=2)
        assert await tx.member_groups("lenea@contoso.com") == [nordics, emea]
    async with store.transaction() as tx:  # a pass that staged nothing: no groups
        await tx.publish_groups(7, depth=8)
        assert await tx.get_distribution_group("g1") is None
        assert await tx.member_groups("lenea@contoso.com") == []
