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
        assert await tx.list_user_states("local") == {"lenea@contoso.com": True}
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


async def test_distribution_groups(store: SqlStore) -> None:
    async with store.transaction() as tx:
        await tx.add_user(user("toshm@contoso.com"))
        await tx.add_user(user("lenea@contoso.com"))
        sales = DistributionGroup("g1", "cn=Sales,ou=groups", "Sales", "sales@contoso.com")
        emea = DistributionGroup("g2", "cn=Sales EMEA,ou=groups", "Sales EMEA", None)
        members = [("g1", "toshm@contoso.com"), ("g1", "lenea@contoso.com"), ("g2", "lenea@contoso.com")]
        await tx.replace_distribution_groups([sales, emea], [*members, ("g2", "ghost@contoso.com")])
    async with store.transaction() as tx:
        assert await tx.get_distribution_group("g1") == sales
        assert await tx.member_groups("lenea@contoso.com") == [sales, emea]
        assert [u.uri for u in await tx.distribution_group_members("g1")] == [
            "lenea@contoso.com",
            "toshm@contoso.com",
        ]
        assert await tx.search_distribution_groups("EMEA", 10) == [emea]
        assert await tx.search_distribution_groups("sales@", 10) == [sales]
        await tx.replace_distribution_groups([emea], [])
    async with store.transaction() as tx:
        assert await tx.get_distribution_group("g1") is None
        assert await tx.member_groups("lenea@contoso.com") == []
