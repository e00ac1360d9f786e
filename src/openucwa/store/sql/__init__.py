"""The Store, once, in SQLAlchemy Core: SQLite and PostgreSQL differ only in how they are opened.

Dialect differences stay in ``sqlite``/``postgres`` (connection setup, how transactions are
serialised, how the hot statements are run); everything here is portable SQL, so both backends
pass one contract suite. ``SqlTx`` is assembled from one part per aggregate (``users``,
``people``, ``channel``, ``conversations``) over ``base.TxBase``; ``rows`` maps rows to the core
dataclasses, ``statements`` holds the hot paths' prepared statements, and ``store`` holds
``SqlStore`` and the schema upgrade.
"""

from __future__ import annotations

from .ops import MIGRATIONS
from .rows import APP_FIELDS, app_field_value, search_key
from .store import SqlStore, SqlTx, upgrade

__all__ = ["APP_FIELDS", "MIGRATIONS", "SqlStore", "SqlTx", "app_field_value", "search_key", "upgrade"]
