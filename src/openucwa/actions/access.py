"""Who may touch which application: the check every use case starts with."""

from __future__ import annotations

from ..core import errors
from ..core.errors import UcwaError
from ..core.models import Application, AppStatus
from .services import Unit

_TOUCH_EVERY = 5.0
_ENDED_ERRORS = {
    AppStatus.EXPIRED: errors.INACTIVE_APPLICATION_EXPIRED,
    AppStatus.EVICTED: errors.TOO_MANY_APPLICATIONS,
    AppStatus.DELETED: errors.APPLICATION_NOT_FOUND,
}


def check_owned(app: Application | None, user_uri: str) -> Application:
    """Another user's application answers exactly like a missing one: no hint that it exists."""
    if app is None or app.user_uri != user_uri:
        raise UcwaError(errors.APPLICATION_NOT_FOUND)
    if app.status != AppStatus.ACTIVE:
        raise UcwaError(_ENDED_ERRORS.get(app.status, errors.APPLICATION_NOT_FOUND))
    return app


async def load(u: Unit, app_id: str, user_uri: str, *, for_update: bool = False) -> Application:
    app = check_owned(await u.tx.get_application(app_id, for_update=for_update), user_uri)
    if u.now - app.last_request_at > _TOUCH_EVERY:
        await u.tx.update_application(app.id, last_request_at=u.now)
    return app
