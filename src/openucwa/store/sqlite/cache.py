"""Applications kept between units of work on the one SQLite connection."""

from __future__ import annotations

from ...core.models import Application


class AppCache:
    """Applications as last read or written on this connection, so a unit need not reload them.

    Loading the application row (about thirty columns, three of them JSON) starts every P-GET
    round and almost every action: a tenth of the server's work per message. The cache stays
    right because it sees every change: the hot statements update it; any other write on this
    connection empties it; another process committing (the CLI) changes ``PRAGMA data_version``,
    which empties it at the next BEGIN; a unit that rolls back restores what it touched, and a
    transaction that fails whole empties it.

    ``drained`` holds the applications whose event queue is known to be empty: a re-armed P-GET
    then skips reading it (two of the five P-GET rounds per message). Forgotten on any doubt.
    """

    def __init__(self) -> None:
        self.apps: dict[str, Application] = {}
        self.drained: set[str] = set()
        self._undo: dict[str, Application | None] | None = None

    def begin_unit(self) -> None:
        self._undo = {}

    def end_unit(self) -> None:
        self._undo = None

    def rollback_unit(self) -> None:
        for app_id, before in (self._undo or {}).items():
            if before is None:
                self.apps.pop(app_id, None)
            else:
                self.apps[app_id] = before
        self._undo = None
        self.drained.clear()  # what the unit consumed is queued again

    def put(self, app: Application) -> None:
        if self._undo is not None and app.id not in self._undo:
            self._undo[app.id] = self.apps.get(app.id)
        self.apps[app.id] = app

    def clear(self) -> None:
        # What the unit touched keeps its undo entry: rolling back restores the state it began with.
        self.apps.clear()
        self.drained.clear()
