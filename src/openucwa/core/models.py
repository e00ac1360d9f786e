"""Records the server keeps, as plain typed data shared by core, actions and the store.

They carry no behaviour that needs I/O; rendering lives in ``core.resources`` and decisions in
``core.channel`` and the state-machine modules.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .channel import ChannelSettings, ChannelState


@dataclass(frozen=True, slots=True)
class User:
    uri: str  # "lenea@contoso.com"
    name: str
    password_hash: str
    email: str | None = None
    title: str | None = None
    department: str | None = None
    company: str | None = None
    office: str | None = None
    work_phone: str | None = None
    # The account behind the address: a new account for a reused address gets a new id, so nothing
    # of the old one (tokens, applications) carries over. Empty: the store assigns one.
    id: str = ""
    # Bumped by every password change, disable and revocation: tokens of older generations fail.
    generation: int = 0
    source: str = "local"  # "local" (openucwa user add) or "ldap" (the company directory)
    disabled: bool = False
    dn: str | None = None
    upn: str | None = None
    login: str | None = None  # sAMAccountName / uid, lower case


@dataclass(frozen=True, slots=True)
class Token:
    token_hash: str
    user_uri: str
    expires_at: float
    account_id: str = ""
    generation: int = 0


@dataclass(frozen=True, slots=True)
class DistributionGroup:
    """A directory group, read-only in UCWA (SPEC §12.5); members are flattened at sync time."""

    id: str
    dn: str
    name: str
    uri: str | None = None


class AppStatus:
    ACTIVE = "active"
    DELETED = "deleted"
    EXPIRED = "expired"
    EVICTED = "evicted"


@dataclass(frozen=True, slots=True)
class Application:
    id: str
    user_uri: str
    endpoint_id: str
    user_agent: str
    culture: str
    type: str
    comm_key: str  # the GUID-named property of communication (SPEC §13.1)
    created_at: float
    last_request_at: float
    status: str = AppStatus.ACTIVE
    ended_at: float | None = None
    instance_id: str | None = None
    # me / availability
    available: bool = False
    supported_modalities: tuple[str, ...] = ()
    supported_message_formats: tuple[str, ...] = ("Plain",)
    sign_in_as: str | None = None
    inactive_timeout: int = 5
    last_activity_at: float | None = None
    # event channel
    lowest_batch: int = 1
    next_batch: int = 1
    ch_timeout: int = 180
    ch_low: int = 15
    ch_medium: int = 5
    resume_pending: bool = False
    pget_owner: str | None = None
    pget_priority: int = 0
    pget_lease_until: float | None = None
    pget_released_at: float | None = None
    used_channel: bool = False
    version: int = 0
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def channel(self) -> ChannelState:
        return ChannelState(
            lowest=self.lowest_batch,
            next=self.next_batch,
            settings=ChannelSettings(self.ch_timeout, self.ch_low, self.ch_medium),
            resume_pending=self.resume_pending,
        )

    def pget_pending(self, now: float) -> bool:
        """A P-GET holds the channel while its lease runs; a crashed node's lease simply lapses."""
        return self.pget_owner is not None and (self.pget_lease_until or 0) > now


@dataclass(frozen=True, slots=True)
class Presence:
    """What a user published, shared by all of the user's applications (SPEC §11.5).

    ``availability`` is the explicit value (None: computed from the applications).
    """

    user_uri: str
    availability: str | None = None
    activity: str | None = None
    note: str | None = None
    location: str | None = None
    last_active: float | None = None


@dataclass(frozen=True, slots=True)
class PresenceSubscription:
    """An application's presence subscription (SPEC §12.7); its members are stored beside it."""

    id: str
    app_id: str
    expires_at: float
    warned: bool = False  # the 60-s expiry warning was sent
