"""The UCWA error catalogue (SPEC §19).

Errors are data: an ``ErrorKind`` names status, code and subcode once, and ``UcwaError`` carries one
of them plus the details of a particular failure. The HTTP edge turns them into responses; core only
hints at the status, so the same catalogue serves event-channel ``reason`` objects too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ErrorKind:
    status: int
    code: str
    subcode: str | None
    message: str


BAD_REQUEST = ErrorKind(400, "BadRequest", None, "The request is not valid.")
DESERIALIZATION_FAILURE = ErrorKind(
    400, "BadRequest", "DeserializationFailure", "The body could not be parsed."
)
PARAMETER_VALIDATION_FAILURE = ErrorKind(
    400, "BadRequest", "ParameterValidationFailure", "One or more parameters are not valid."
)
FORBIDDEN = ErrorKind(403, "Forbidden", None, "The request is not allowed.")
ORIGIN_FORBIDDEN = ErrorKind(
    403, "Forbidden", None, "Service does not allow a cross domain request from this origin."
)
USER_AGENT_NOT_ALLOWED = ErrorKind(403, "Forbidden", "UserAgentNotAllowed", "This user agent is not allowed.")
LIMIT_EXCEEDED = ErrorKind(403, "Forbidden", "LimitExceeded", "A limit was exceeded.")
NOT_FOUND = ErrorKind(404, "NotFound", None, "The resource does not exist.")
APPLICATION_NOT_FOUND = ErrorKind(404, "NotFound", "ApplicationNotFound", "The application does not exist.")
API_VERSION_NOT_SUPPORTED = ErrorKind(
    404, "NotFound", "APIVersionNotSupported", "The requested resource version is not supported."
)
METHOD_NOT_ALLOWED = ErrorKind(405, "MethodNotAllowed", None, "The method is not allowed on this resource.")
CONFLICT = ErrorKind(409, "Conflict", None, "The resource is not in the proper state for this operation.")
ALREADY_EXISTS = ErrorKind(409, "Conflict", "AlreadyExists", "The resource already exists.")
MAKE_ME_AVAILABLE_REQUIRED = ErrorKind(
    409, "Conflict", "MakeMeAvailableRequired", "The application must call makeMeAvailable first."
)
PGET_REPLACED = ErrorKind(409, "Conflict", "PGetReplaced", "The pending GET was replaced by another one.")
THREAD_ID_ALREADY_EXISTS = ErrorKind(
    409, "Conflict", "ThreadIdAlreadyExists", "A conversation with this threadId already exists."
)
INACTIVE_APPLICATION_EXPIRED = ErrorKind(
    410, "Gone", "InactiveApplicationExpired", "The application expired after a period of inactivity."
)
TOO_MANY_APPLICATIONS = ErrorKind(
    410, "Gone", "TooManyApplications", "The application was removed because the user created too many."
)
PRECONDITION_FAILED = ErrorKind(412, "PreconditionFailed", None, "The If-Match value is not current.")
ENTITY_TOO_LARGE = ErrorKind(413, "EntityTooLarge", None, "The request body is too large.")
UNSUPPORTED_MEDIA_TYPE = ErrorKind(415, "UnsupportedMediaType", None, "The content type is not supported.")
PRECONDITION_REQUIRED = ErrorKind(428, "PreconditionRequired", None, "This request must be conditional.")
TOO_MANY_REQUESTS = ErrorKind(429, "TooManyRequests", None, "Too many outstanding requests.")
SERVICE_FAILURE = ErrorKind(500, "ServiceFailure", None, "The server failed to process the request.")
SERVICE_UNAVAILABLE = ErrorKind(503, "ServiceUnavailable", None, "The service is not available.")


class UcwaError(Exception):
    """A failure meant for the client, rendered as a UCWA error body at the edge."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str | None = None,
        *,
        parameters: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.kind = kind
        self.message = message or kind.message
        self.parameters = parameters
        self.headers = headers or {}
        super().__init__(f"{kind.code}/{kind.subcode}: {self.message}")

    @property
    def status(self) -> int:
        return self.kind.status

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.kind.code}
        if self.kind.subcode:
            out["subcode"] = self.kind.subcode
        out["message"] = self.message
        if self.parameters:
            out["parameters"] = dict(self.parameters)
        return out


def invalid(parameters: dict[str, str], message: str | None = None) -> UcwaError:
    """400 ParameterValidationFailure naming the offending inputs."""
    return UcwaError(PARAMETER_VALIDATION_FAILURE, message, parameters=parameters)


def reason(code: str, subcode: str | None, message: str) -> dict[str, str]:
    """An asynchronous ``reason`` object for events (SPEC §19.4)."""
    out = {"code": code}
    if subcode:
        out["subcode"] = subcode
    out["message"] = message
    return out
