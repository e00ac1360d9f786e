"""Store contract for people: search tiers, contact lists, photos, presence subscriptions."""

from __future__ import annotations

from dataclasses import replace

from openucwa.core.events import Event, Priority
from openucwa.core.models import Application, PresenceSubscription, User
from openucwa.store.sql import SqlStore

USERS = [
    User("ada@x.io", "Ada Lovelace", "h", email="ada@x.io", id="id-ada"),
    User("adam@x.io", "Adam Smith", "h", email="adam@x.io", id="id-adam"),
    User("bob@x.io", "Bob Adams", "h", email="bob@x.io", work_phone="+1 555 0100", id="id-bob"),
    User("cy@x.io", "Cy 100%_Sure", "h", email="CY@X.IO", id="id-cy"),
]


async def _seed(store: SqlStore) -> None:
    async with store.transaction() as tx:
        for u in USERS:
            await tx.add_user(u)


async def test_search_tiers_limits_and_wildcards(store: SqlStore) -> None:
    await _seed(store)
    async with store.transaction() as tx:
        found, more = await tx.search_users("ADA", 10)
        # name prefixes (in name order) before plain substrings
        assert [u.uri for u in found] == ["ada@x.io", "adam@x.io", "bob@x.io"] and not more
        # an exact uri first even though "adam" is a name prefix of the other
        found, _ = await tx.search_users("sip:adam@x.io", 10)
        assert [u.uri for u in found] == ["adam@x.io"]
        found, more = await tx.search_users("ada", 2)
        assert len(found) == 2 and more
        found, more = await tx.search_users("adam@x.io", 1)  # the exact hit is not counted twice
        assert [u.uri for u in found] == ["adam@x.io"] and not more
        assert [u.uri for u in (await tx.search_users("0100", 5))[0]] == ["bob@x.io"]
        assert [u.uri for u in (await tx.search_users("100%_", 5))[0]] == ["cy@x.io"]
        # LIKE wildcards are literal: only the name that contains them matches
        assert [u.uri for u in (await tx.search_users("%", 5))[0]] == ["cy@x.io"]
        assert [u.uri for u in (await tx.search_users("_", 5))[0]] == ["cy@x.io"]
        assert (await tx.get_user("ada@x.io")) == USERS[0]  # the search key stays out of User


async def test_contact_lists_and_photos(store: SqlStore) -> None:
    await _seed(store)
    async with store.transaction() as tx:
        await tx.add_contact_group("ada@x.io", "g1", "Team")
        assert await tx.add_contact("ada@x.io", "g1", "bob@x.io")
        assert not await tx.add_contact("ada@x.io", "g1", "bob@x.io")
        assert await tx.add_contact("ada@x.io", "default", "bob@x.io")
        assert await tx.add_contact("ada@x.io", "pinned", "adam@x.io")
        assert await tx.list_contact_groups("ada@x.io") == [("g1", "Team")]
        pairs = [(g, u.uri) for g, u in await tx.list_contacts("ada@x.io")]
        assert pairs == [("pinned", "adam@x.io"), ("default", "bob@x.io"), ("g1", "bob@x.io")]
        assert await tx.remove_contact("ada@x.io", "bob@x.io", "g1") == 1
        assert await tx.remove_contact("ada@x.io", "bob@x.io") == 1
        await tx.delete_contact_group("ada@x.io", "g1")
        assert await tx.list_contact_groups("ada@x.io") == []
        assert await tx.get_photo("ada@x.io") is None
        await tx.put_photo("ada@x.io", b"\xff\xd8one", "e1")
        await tx.put_photo("ada@x.io", b"\xff\xd8two", "e2")
        assert await tx.get_photo("ada@x.io") == (b"\xff\xd8two", "e2")
        assert await tx.remove_user("adam@x.io")  # memberships go with the contact
        assert await tx.list_contacts("ada@x.io") == []


def _app(app_id: str) -> Application:
    return Application(
        id=app_id,
        user_uri="ada@x.io",
        endpoint_id=app_id,
        user_agent="t",
        culture="en-US",
        type="Browser",
        comm_key="k",
        created_at=1.0,
        last_request_at=1.0,
    )


async def test_subscriptions_watches_and_fan_out(store: SqlStore) -> None:
    await _seed(store)
    async with store.transaction() as tx:
        for a in ("a1", "a2"):
            await tx.add_application(_app(a))
        s1 = PresenceSubscription("s1", "a1", expires_at=100.0)
        await tx.add_subscription(s1)
        await tx.add_subscription(PresenceSubscription("s2", "a2", expires_at=200.0))
        assert await tx.get_subscription("s1") == s1
        assert await tx.add_watch("s1", "a1", "bob@x.io")
        assert not await tx.add_watch("s1", "a1", "bob@x.io")
        assert await tx.add_watch("s2", "a2", "bob@x.io")
        assert await tx.add_watch("s2", "a2", "cy@x.io")
        assert await tx.watchers("bob@x.io") == ["a1", "a2"]
        assert await tx.list_watches("a2") == [("s2", "bob@x.io"), ("s2", "cy@x.io")]
        assert [s.id for s in await tx.due_subscriptions(150.0)] == ["s1"]
        await tx.update_subscription("s1", expires_at=300.0, warned=True)
        assert await tx.get_subscription("s1") == replace(s1, expires_at=300.0, warned=True)
        ev = Event("people", "/p", "updated", "contactPresence", "/p/bob/presence", Priority.MEDIUM)
        versions = await tx.append_events_many({"a1": [ev], "a2": [ev, ev], "gone": [ev]}, 5.0)
        assert set(versions) == {"a1", "a2"}
        assert len(await tx.queued_events("a2")) == 2
        assert await tx.remove_watch("s2", "cy@x.io") and not await tx.remove_watch("s2", "cy@x.io")
        await tx.delete_subscription("s1")
        assert await tx.watchers("bob@x.io") == ["a2"]
        await tx.delete_app_subscriptions("a2")
        assert await tx.watchers("bob@x.io") == [] and await tx.list_subscriptions("a2") == []
