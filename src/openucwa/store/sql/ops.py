"""What operators ask of the database: counts for gauges, the schema revision for readiness."""

from __future__ import annotations

import functools
from pathlib import Path

import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory

from ..interface import Activity
from ..schema import applications, sessions
from .base import TxBase

MIGRATIONS = Path(__file__).parents[1] / "migrations"
VERSION_TABLE = "alembic_version"
_ACTIVE = sa.select(sa.func.count()).select_from(applications).where(applications.c.status == "active")
_SESSIONS = sa.select(sa.func.count()).select_from(sessions)


class OpsTx(TxBase):
    async def activity(self) -> Activity:
        apps = (await self._conn.execute(_ACTIVE)).scalar_one()
        convs = (await self._conn.execute(_SESSIONS)).scalar_one()
        return Activity(applications=int(apps), conversations=int(convs))


@functools.cache
def _scripts() -> ScriptDirectory:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    return ScriptDirectory.from_config(cfg)


def head_revision() -> str:
    """The newest migration this code ships (one history, so one head)."""
    head = _scripts().get_current_head()
    assert head is not None, "the migrations directory has no revision"
    return head


def known_revision(revision: str) -> bool:
    """Whether ``revision`` is one of ours (a backup from an older release still is)."""
    try:
        return _scripts().get_revision(revision) is not None
    except Exception:  # alembic raises several kinds for unknown or malformed ids
        return False
