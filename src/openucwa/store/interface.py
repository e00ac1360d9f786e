"""The one Store interface actions use (SQLite by default, PostgreSQL for scale-out).

Everything happens inside ``async with store.transaction() as tx``: a transaction is the unit in
which state changes and the events describing them are committed together (publish-after-commit
is the caller's job). ``get_application(..., for_update=True)`` locks the application row until the
transaction ends, which is how two nodes serialise work on one event channel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from ..core.conversation import ConvView, Message
from ..core.events import Event, Receipt, StoredEvent
from ..core.lifetime import Timers
from ..core.machines.message import MessageStatus
from ..core.models import Application, DistributionGroup, Presence, PresenceSubscription, Token, User


class DuplicateError(Exception):
    """A unique key (user uri, application id) is already taken."""


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    """Where the database's schema is against the migrations this code ships (readiness)."""

    current: str | None  # None: no schema at all
    head: str

    @property
    def at_head(self) -> bool:
        return self.current == self.head


@dataclass(frozen=True, slots=True)
class Activity:
    """What the database holds now, for gauges: active applications and conversations in progress."""

    applications: int
    conversations: int


class RetryableError(Exception):
    """The database gave up on this transaction (deadlock, serialisation); running it again is safe."""


class Tx(Protocol):
    # users -------------------------------------------------------------------------------
    async def add_user(self, user: User) -> None:
        """Raises DuplicateError when the uri exists."""

    async def get_user(self, uri: str) -> User | None: ...

    async def list_users(self) -> list[User]:
        """Ordered by uri."""

    async def set_password(self, uri: str, password_hash: str) -> bool:
        """Also bumps the account's generation and removes its tokens; False when the user does not exist."""

    async def remove_user(self, uri: str) -> bool:
        """Also removes the user's tokens; False when the user does not exist."""

    async def update_user(self, user: User) -> None:
        """Rewrites the profile fields (name, e-mail, …, source, disabled, dn, upn, login) of ``user.uri``;
        id, generation and password hash stay."""

    async def revoke_user(self, uri: str, *, disabled: bool | None = None) -> User | None:
        """Bumps the generation (every earlier token fails), removes the tokens, optionally sets
        ``disabled``; the updated user, or None when there is none."""

    async def search_users(self, query: str, limit: int) -> tuple[list[User], bool]:
        """Up to ``limit`` users whose name, sip uri, e-mail or phone contains ``query`` (any case),
        exact uri/e-mail first, then name prefixes; and whether more matched (SPEC §12.6)."""

    # contact lists -----------------------------------------------------------------------
    async def list_contact_groups(self, owner_uri: str) -> list[tuple[str, str]]:
        """The owner's personal groups as (id, name), by name."""

    async def add_contact_group(self, owner_uri: str, group_id: str, name: str) -> None:
        """Raises DuplicateError when the owner has a group of that name."""

    async def delete_contact_group(self, owner_uri: str, group_id: str) -> None: ...

    async def add_contact(self, owner_uri: str, group_id: str, contact_uri: str) -> bool:
        """False when the contact is already in that group."""

    async def remove_contact(self, owner_uri: str, contact_uri: str, group_id: str | None = None) -> int:
        """Removes the contact from one group (or all); returns how many memberships went."""

    async def list_contacts(self, owner_uri: str) -> list[tuple[str, User]]:
        """(group id, contact) pairs by contact name; a contact in two groups appears twice."""

    # photos ------------------------------------------------------------------------------
    async def put_photo(self, user_uri: str, data: bytes, etag: str) -> None: ...

    async def delete_photo(self, user_uri: str) -> bool:
        """False when there was none."""

    async def get_photo(self, user_uri: str) -> tuple[bytes, str] | None:
        """(JPEG bytes, etag) of an uploaded photo."""

    # presence subscriptions (transient: they end with their application) ----------------
    async def add_subscription(self, sub: PresenceSubscription) -> None: ...

    async def get_subscription(self, sub_id: str) -> PresenceSubscription | None: ...

    async def list_subscriptions(self, app_id: str) -> list[PresenceSubscription]: ...

    async def update_subscription(self, sub_id: str, *, expires_at: float, warned: bool) -> None: ...

    async def delete_subscription(self, sub_id: str) -> None:
        """Also removes its watches."""

    async def due_subscriptions(self, before: float) -> list[PresenceSubscription]:
        """Every subscription with ``expires_at <= before``."""

    async def add_watch(self, sub_id: str, app_id: str, contact_uri: str) -> bool:
        """False when the subscription already watches that user."""

    async def remove_watch(self, sub_id: str, contact_uri: str) -> bool: ...

    async def list_watches(self, app_id: str, sub_id: str | None = None) -> list[tuple[str, str]]:
        """(subscription id, contact uri) pairs of the application (or of one subscription)."""

    async def watchers(self, contact_uri: str) -> list[str]:
        """The applications whose subscriptions include this user, each once."""

    async def delete_app_subscriptions(self, app_id: str) -> None: ...

    # tokens ------------------------------------------------------------------------------
    async def add_token(self, token: Token) -> None: ...

    async def get_token(self, token_hash: str) -> Token | None:
        """The token while its account exists with the same id and generation and is not disabled."""

    # coordination between nodes ----------------------------------------------------------
    async def get_counter(self, name: str) -> int:
        """0 for a counter never bumped."""

    async def bump_counter(self, name: str) -> int:
        """Adds one and returns the new value."""

    async def take_lease(self, name: str, owner: str, now: float, until: float) -> bool:
        """Holds (or renews) the named lease until ``until`` unless another owner holds it past ``now``."""

    # distribution groups (from the directory) --------------------------------------------
    async def mark_synced(self, uris: Sequence[str], sync_pass: int) -> None:
        """The directory sync pass ``sync_pass`` saw these accounts (a later pass's mark stays)."""

    async def unsynced_directory_users(self, sync_pass: int, after: str, limit: int) -> list[str]:
        """Enabled directory accounts no pass since ``sync_pass`` saw, by uri, past ``after``."""

    async def stage_groups(
        self, sync_pass: int, groups: Sequence[DistributionGroup], members: Sequence[tuple[str, str, str]]
    ) -> None:
        """Keeps a page of groups and their (group id, lower-cased member DN, that DN's group id)
        for ``publish_groups``."""

    async def publish_groups(self, sync_pass: int, depth: int) -> None:
        """Replaces every distribution group and membership by what the pass staged: members are
        the enabled directory accounts whose DN a group lists, through nested groups up to ``depth``
        levels; then forgets what this and earlier passes staged."""

    async def get_distribution_group(self, group_id: str) -> DistributionGroup | None: ...

    async def member_groups(self, user_uri: str) -> list[DistributionGroup]:
        """The groups the user belongs to (directly or through nested groups), by name."""

    async def distribution_group_members(self, group_id: str) -> list[User]:
        """Enabled members by name."""

    async def search_distribution_groups(self, query: str, limit: int) -> list[DistributionGroup]:
        """Groups whose name or address contains ``query`` (any case)."""

    async def valid_tokens(self, token_hashes: Sequence[str]) -> set[str]:
        """Those of these token hashes that ``get_token`` would still honour (expiry aside)."""

    async def delete_expired_tokens(self, now: float) -> int: ...

    # applications ------------------------------------------------------------------------
    async def add_application(self, app: Application) -> None:
        """Raises DuplicateError when the id exists."""

    async def get_application(self, app_id: str, *, for_update: bool = False) -> Application | None: ...

    async def application_versions(self, app_ids: Sequence[str]) -> dict[str, int]:
        """The current version of each of these applications that still exists."""

    async def find_application(self, user_uri: str, endpoint_id: str) -> Application | None:
        """The ACTIVE application of this user with this endpointId, if any."""

    async def list_applications(
        self, user_uri: str | None = None, *, active_only: bool = True
    ) -> list[Application]:
        """Ordered by created_at; all users when user_uri is None."""

    async def applications_to_review(self, now: float, timers: Timers) -> list[Application]:
        """The applications ``core.lifetime.verdict`` would not KEEP at ``now`` (a superset at most;
        the reaper re-reads and decides each one), by id; the others' rows are never decoded."""

    async def applications_beyond(self, user_uri: str, keep: int) -> list[Application]:
        """The user's ACTIVE applications other than the ``keep`` most recently used, oldest first:
        the per-user limit reads only what it evicts, so creating stays cheap for a user with
        thousands of applications."""

    async def lock_applications(self, app_ids: Sequence[str]) -> dict[str, Application]:
        """``get_application(…, for_update=True)`` for many at once, locked in one order (by id);
        the ones that do not exist are absent."""

    async def update_application(self, app_id: str, **fields: Any) -> None:
        """Sets the named ``Application`` fields (tuples stored as lists of strings)."""

    async def delete_application(self, app_id: str) -> None:
        """Removes the row, its queued events and its batches (tombstones are kept as status rows)."""

    # presence ----------------------------------------------------------------------------
    async def get_presence(self, user_uri: str) -> Presence:
        """The user's published state; an all-empty record when nothing was published."""

    async def put_presence(self, value: Presence) -> None: ...

    # event channel -----------------------------------------------------------------------
    async def append_events(self, app_id: str, events: Sequence[Event], now: float) -> int:
        """Queues events (positions increase in the given order), bumps and returns the app's version."""

    async def append_events_many(self, batches: Mapping[str, Sequence[Event]], now: float) -> dict[str, int]:
        """``append_events`` for several applications at once; returns their new versions (missing
        applications are skipped)."""

    async def bump_version(self, app_id: str) -> int:
        """Bumps the version without events (P-GET replaced, application ended)."""

    async def queued_events(self, app_id: str) -> list[StoredEvent]:
        """Unbatched events, ordered by position."""

    async def queued_events_many(self, app_ids: Sequence[str]) -> dict[str, list[StoredEvent]]:
        """``queued_events`` for many applications in one read; an empty queue may be absent."""

    async def discard_queued(self, app_id: str) -> None: ...

    async def store_batch(self, app_id: str, number: int, body: bytes, positions: Sequence[int]) -> None:
        """Stores a produced batch and removes the queued events it consumed (listed by position,
        including ones merged away)."""

    async def get_batch(self, app_id: str, number: int) -> bytes | None: ...

    async def prune_batches(self, app_id: str, below: int) -> None:
        """Drops acknowledged batches (numbers < below)."""

    async def take_overdue_receipts(self, enqueued_before: float) -> list[tuple[str, Receipt]]:
        """Removes message events nobody fetched in time; returns (app id, receipt) for each."""

    # conversations -----------------------------------------------------------------------
    async def add_session(self, session_id: str, now: float) -> None: ...

    async def lock_session(self, session_id: str) -> bool:
        """Locks the communication until the transaction ends; False if it does not exist."""

    async def try_lock_session(self, session_id: str) -> bool | None:
        """``lock_session`` without waiting: None when another transaction holds the lock (for work
        that already holds other locks and must not wait in the opposite order)."""

    async def set_session_deadline(self, session_id: str, deadline: float | None) -> None: ...

    async def advance_session_deadline(self, session_id: str, deadline: float) -> None:
        """Moves the deadline earlier (never later): several timers share one session."""

    async def due_sessions(self, now: float) -> list[str]:
        """Sessions whose deadline has passed."""

    async def delete_session(self, session_id: str) -> None: ...

    async def put_conversation(self, view: ConvView) -> None:
        """Inserts or replaces the view."""

    async def get_conversation(self, conv_id: str) -> ConvView | None: ...

    async def list_conversations(self, app_id: str) -> list[ConvView]: ...

    async def session_views(self, session_id: str) -> list[ConvView]: ...

    async def delete_conversation(self, conv_id: str) -> None: ...

    async def add_message(self, m: Message) -> None: ...

    async def get_message(self, conv_id: str, n: int) -> Message | None: ...

    async def list_messages(
        self, conv_id: str, before: int | None = None, limit: int = 1000
    ) -> list[Message]:
        """Newest first."""

    async def update_message(
        self, conv_id: str, n: int, *, status: MessageStatus, failed: Sequence[str]
    ) -> None: ...


class Store(Protocol):
    async def migrate(self) -> None:
        """Brings the schema to the latest Alembic revision."""

    def transaction(self) -> AbstractAsyncContextManager[Tx]: ...

    async def schema_status(self) -> SchemaStatus:
        """Reads the schema revision: proves the database answers and says whether it is current.

        Must not wait on another process's write lock (a readiness probe runs it every few seconds).
        """

    async def activity(self) -> Activity:
        """Counts for the metrics gauges, read like ``schema_status`` (a scrape's worth of work)."""

    async def close(self) -> None: ...
