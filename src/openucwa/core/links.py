"""The only place hrefs are made (SPEC §3.1, §4).

Resources inside an application are path-absolute (``/ucwa/oauth/v1/applications/{app}/…``);
discovery resources are absolute URLs on the base the request came in on. The server declares its
routes on the prefixes here (``APPLICATIONS``, the discovery paths); that every href made here is
served by a route is checked by ``tests/server/test_links_have_routes.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

UCWA_PREFIX = "/ucwa/oauth/v1"
APPLICATIONS = f"{UCWA_PREFIX}/applications"

ROOT_PATH = "/Autodiscover/AutodiscoverService.svc/root"
USER_PATH = f"{ROOT_PATH}/oauth/user"
XFRAME_PATH = "/Autodiscover/XFrame/XFrame.html"
XFRAME_ALIAS = "/xframe"
TOKEN_PATH = "/WebTicket/oauthtoken"


@dataclass(frozen=True, slots=True)
class Discovery:
    """Absolute discovery hrefs for one base URL (``https://lyncweb.contoso.com``)."""

    base: str

    def root(self, query: str = "") -> str:
        return f"{self.base}{ROOT_PATH}{query}"

    def user(self, query: str = "") -> str:
        return f"{self.base}{USER_PATH}{query}"

    def xframe(self) -> str:
        return f"{self.base}{XFRAME_PATH}"

    def token(self) -> str:
        return f"{self.base}{TOKEN_PATH}"

    def applications(self) -> str:
        return f"{self.base}{APPLICATIONS}"


@dataclass(frozen=True, slots=True)
class AppLinks:
    """Hrefs of one application's URL space."""

    app_id: str

    @property
    def base(self) -> str:
        return f"{APPLICATIONS}/{self.app_id}"

    def application(self) -> str:
        return self.base

    def events(self, ack: int) -> str:
        return f"{self.base}/events?ack={ack}"

    def batch(self) -> str:
        return f"{self.base}/batch"

    def policies(self) -> str:
        return f"{self.base}/policies"

    def me(self) -> str:
        return f"{self.base}/me"

    def make_me_available(self) -> str:
        return f"{self.base}/me/makeMeAvailable"

    def report_my_activity(self) -> str:
        return f"{self.base}/me/reportMyActivity"

    def presence(self) -> str:
        return f"{self.base}/me/presence"

    def note(self) -> str:
        return f"{self.base}/me/note"

    def location(self) -> str:
        return f"{self.base}/me/location"

    def photo(self, user: str) -> str:
        return f"{self.base}/photos/{quote(user, safe='@')}"

    def photos_path(self) -> str:
        return f"{self.base}/photos"

    def people(self) -> str:
        return f"{self.base}/people"

    def contact(self, user: str) -> str:
        return f"{self.base}/people/{quote(user, safe='@')}"

    def communication(self) -> str:
        return f"{self.base}/communication"

    def conversations(self) -> str:
        return f"{self.base}/communication/conversations?filter=active"

    def start_messaging(self) -> str:
        return f"{self.base}/communication/messagingInvitations"


@dataclass(frozen=True, slots=True)
class ConvLinks:
    """Hrefs of one conversation as one application sees it (``C`` in the spec)."""

    app_id: str
    conv_id: str

    @property
    def base(self) -> str:
        return f"{APPLICATIONS}/{self.app_id}/communication/conversations/{self.conv_id}"

    def conversation(self) -> str:
        return self.base

    def participants(self) -> str:
        return f"{self.base}/participants"

    def participant(self, user: str) -> str:
        return f"{self.base}/participants/{quote(user, safe='@')}"

    def participant_messaging(self, user: str) -> str:
        return f"{self.participant(user)}/messaging"

    def messaging(self) -> str:
        return f"{self.base}/messaging"

    def stop_messaging(self) -> str:
        return f"{self.base}/messaging/terminate"

    def messages(self) -> str:
        return f"{self.base}/messaging/messages"

    def message(self, n: int) -> str:
        return f"{self.base}/messaging/messages/{n}"

    def typing(self) -> str:
        return f"{self.base}/messaging/typing"

    def typing_participants(self) -> str:
        return f"{self.base}/messaging/typingParticipants"

    def history(self) -> str:
        return f"{self.base}/messaging/history"

    def add_participant(self) -> str:
        return (
            f"{APPLICATIONS}/{self.app_id}/communication/participantInvitations?conversation={self.conv_id}"
        )

    def invitation(self, inv_id: str) -> str:
        return f"{APPLICATIONS}/{self.app_id}/communication/messagingInvitations/{inv_id}"

    def participant_invitation(self, inv_id: str) -> str:
        return f"{APPLICATIONS}/{self.app_id}/communication/participantInvitations/{inv_id}"

    def accept(self, inv_id: str) -> str:
        return f"{self.invitation(inv_id)}/accept"

    def decline(self, inv_id: str) -> str:
        return f"{self.invitation(inv_id)}/decline"
