"""What operators ask of the database: counts for gauges, the schema revision for readiness."""

from __future__ import annotations

import functools
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).parents[1] / "migrations"
VERSION_TABLE = "alembic_version"


ACTIVITY_SQL = (
    "SELECT (SELECT count(*) FROM applications WHERE status = 'active'), (SELECT count(*) FROM sessions)"
)


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
