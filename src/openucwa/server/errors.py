"""The one place failures become responses: UCWA bodies for clients, a logged 500 for bugs."""

from __future__ import annotations

import logging
import uuid

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ..core import errors, xml_wire
from ..core.errors import UcwaError
from .http import UCWA_HEADERS, encode, response_type
from .logs import request_id

log = logging.getLogger("openucwa.server")

_BY_STATUS = {
    400: errors.BAD_REQUEST,
    404: errors.NOT_FOUND,
    405: errors.METHOD_NOT_ALLOWED,
    413: errors.ENTITY_TOO_LARGE,
    415: errors.UNSUPPORTED_MEDIA_TYPE,
}


class Unauthorized(Exception):
    """No valid token: answered with the MsRtcOAuth challenge and no UCWA body (SPEC §5.5)."""


def error_response(err: UcwaError, request: Request | None = None) -> Response:
    body = err.body()
    body["debugInfo"] = {"requestId": request_id.get() or uuid.uuid4().hex}  # as in the logs
    headers = {**UCWA_HEADERS, **err.headers}
    kind = response_type(request)
    return Response(
        encode(body, kind, xml_wire.reason), status_code=err.status, headers=headers, media_type=kind
    )


async def ucwa_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, UcwaError)
    return error_response(exc, request)


async def http_error(request: Request, exc: Exception) -> Response:
    """Routing failures (unknown path, wrong method) in the UCWA shape."""
    assert isinstance(exc, HTTPException)
    kind = _BY_STATUS.get(exc.status_code, errors.BAD_REQUEST)
    headers = dict(exc.headers or {})
    if exc.status_code == 405 and "allow" in {k.lower() for k in headers}:
        allow = next(v for k, v in headers.items() if k.lower() == "allow")
        headers = {"Allow": ", ".join(m for m in allow.split(", ") if m != "HEAD")}
    return error_response(UcwaError(kind, headers=headers), request)


async def unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(UcwaError(errors.SERVICE_FAILURE), request)
