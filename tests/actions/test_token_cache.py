"""The node's verified-token cache and the revocation counter reads it takes on (``users.TokenCache``)."""

from __future__ import annotations

from openucwa.actions.users import TokenCache


def test_a_read_by_the_watch_spares_requests_their_own_read() -> None:
    cache = TokenCache(check_every=0.25)
    assert cache.due(100.0)  # the first request reads the counter
    assert not cache.due(100.1)
    cache.observe(3, read_at=100.2)  # the node's watch read it since
    assert not cache.due(100.4)  # 0.4 s after the request's read, 0.2 s after the watch's
    assert cache.due(100.46)


def test_an_older_read_does_not_move_the_last_check_back() -> None:
    cache = TokenCache(check_every=0.25)
    assert cache.due(100.0)
    cache.observe(3, read_at=99.0)
    assert not cache.due(100.2)


def test_a_moved_counter_empties_the_cache_and_a_stale_put_is_refused() -> None:
    cache = TokenCache(check_every=0.25)
    cache.observe(1, read_at=10.0)
    cache.put("digest", "lenea@contoso.com", expires_at=1e9, now=0.0, epoch=1)
    assert cache.get("digest", now=1.0) == "lenea@contoso.com"
    cache.observe(2, read_at=10.3)
    assert cache.get("digest", now=1.0) is None
    cache.put("digest", "lenea@contoso.com", expires_at=1e9, now=0.0, epoch=1)  # verified before the move
    assert cache.get("digest", now=1.0) is None
