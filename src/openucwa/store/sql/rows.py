"""Rows ↔ core dataclasses: how each aggregate is laid out in its table.

JSON columns (an application's tuples and dicts, a message's failed list) are decoded back to the
type the dataclass declares, so a row read back equals the value that was written.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from typing import Any

import orjson

from ...core.conversation import Direction, Message
from ...core.events import Event
from ...core.machines.message import MessageStatus
from ...core.models import Application, User

_APP_HINTS = typing.get_type_hints(Application)
APP_FIELDS = frozenset(f.name for f in dataclasses.fields(Application))
# Columns holding JSON text, decoded back to the Python type the dataclass declares.
_TUPLE_FIELDS = frozenset(n for n, t in _APP_HINTS.items() if typing.get_origin(t) is tuple)
_DICT_FIELDS = frozenset(n for n, t in _APP_HINTS.items() if typing.get_origin(t) is dict)
_USER_FIELDS = frozenset(f.name for f in dataclasses.fields(User))
MESSAGE_FIELDS = tuple(f.name for f in dataclasses.fields(Message))


def to_column(name: str, value: Any) -> Any:
    if name in _TUPLE_FIELDS:
        return orjson.dumps(list(value)).decode()
    if name in _DICT_FIELDS:
        return orjson.dumps(dict(value)).decode()
    return value


def app_field_value(name: str, value: Any) -> Any:
    """A field given to ``update_application`` as reading the row back would give it."""
    if name in _TUPLE_FIELDS:
        return tuple(value)
    if name in _DICT_FIELDS:
        return dict(value)
    return value


_APP_FIELD_ORDER = tuple(f.name for f in dataclasses.fields(Application))
_set = object.__setattr__


def changed(app: Application, values: Mapping[str, Any]) -> Application:
    """``dataclasses.replace`` at half the cost (it runs several times per message); ``values`` as
    ``app_field_value`` gives them."""
    new = object.__new__(Application)
    for name in _APP_FIELD_ORDER:
        _set(new, name, values[name] if name in values else getattr(app, name))
    return new


def app_from_row(row: Mapping[Any, Any]) -> Application:
    values = dict(row)
    for name in _TUPLE_FIELDS:
        values[name] = tuple(orjson.loads(values[name]))
    for name in _DICT_FIELDS:
        values[name] = orjson.loads(values[name])
    return Application(**values)


def event_row(app_id: str, ev: Event, now: float) -> dict[str, Any]:
    """A queued event as stored: rendered once, with what batching and receipts need beside it."""
    return {
        "app_id": app_id,
        "sender_rel": ev.sender_rel,
        "sender_href": ev.sender_href,
        "body": orjson.dumps(ev.wire()).decode(),
        "priority": int(ev.priority),
        "enqueued_at": now,
        "merge_key": ev.merge_key,
        "receipt": None if ev.receipt is None else orjson.dumps(ev.receipt).decode(),
    }


def message_values(m: Message) -> dict[str, Any]:
    """A message as its row's values."""
    values = {f: getattr(m, f) for f in MESSAGE_FIELDS}  # not asdict: it deep-copies every value
    values["failed"] = orjson.dumps(list(m.failed)).decode()
    values["direction"] = m.direction.value  # drivers bind plain str, not its Enum subclass
    values["status"] = m.status.value
    return values


def message_from_row(row: Mapping[Any, Any]) -> Message:
    values = dict(row)
    values["failed"] = tuple(orjson.loads(values["failed"]))
    values["direction"] = Direction(values["direction"])
    values["status"] = MessageStatus(values["status"])
    return Message(**values)


def user_from_row(row: Mapping[Any, Any]) -> User:
    return User(**{k: v for k, v in row.items() if k in _USER_FIELDS})


def search_key(user: User) -> str:
    """What people search matches against (SPEC §12.6): name first, so a name prefix is a key prefix."""
    parts = (user.name, f"sip:{user.uri}", user.email or "", user.work_phone or "")
    return "\n".join(parts).lower()
