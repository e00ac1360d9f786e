"""Communication sessions (the lock and deadline of each), conversation views and their messages."""

from __future__ import annotations

from collections.abc import Sequence

import orjson
import sqlalchemy as sa

from ...core.conversation import ConvView, Message
from ...core.machines.message import MessageStatus
from ..schema import conversations, messages, sessions
from .base import TxBase
from .rows import message_from_row, message_values
from .statements import (
    CONV_DELETE,
    CONV_DOC,
    CONV_UPDATE,
    CONVERSATIONS_OF_APP,
    MESSAGE_GET,
    MESSAGE_UPDATE,
    SESSION_DEADLINE,
    SESSION_DEADLINE_SOONER,
    SESSION_DELETE,
    SESSION_DOCS,
    SESSION_LOCK,
    SESSION_ROW,
    SESSION_TRY_LOCK,
)


class ConversationsTx(TxBase):
    # conversations -----------------------------------------------------------------------
    async def add_session(self, session_id: str, now: float) -> None:
        await self._insert(sessions, {"id": session_id, "created_at": now})

    async def lock_session(self, session_id: str) -> bool:
        """Serialises every action on one communication's views; False if the session is gone."""
        return (await self._run(SESSION_LOCK, {"b_id": session_id})).first() is not None

    async def try_lock_session(self, session_id: str) -> bool | None:
        if (await self._run(SESSION_TRY_LOCK, {"b_id": session_id})).first() is not None:
            return True
        # Skipped: either gone or locked by someone else; a plain read tells which.
        exists = (await self._run(SESSION_ROW, {"b_id": session_id})).first() is not None
        return None if exists else False

    async def set_session_deadline(self, session_id: str, deadline: float | None) -> None:
        await self._run(SESSION_DEADLINE, {"deadline": deadline, "b_id": session_id})

    async def advance_session_deadline(self, session_id: str, deadline: float) -> None:
        await self._run(SESSION_DEADLINE_SOONER, {"b_id": session_id, "b_deadline": deadline})

    async def due_sessions(self, now: float) -> list[str]:
        stmt = sa.select(sessions.c.id).where(sessions.c.deadline <= now)
        return list((await self._conn.execute(stmt)).scalars())

    async def delete_session(self, session_id: str) -> None:
        await self._run(SESSION_DELETE, {"b_id": session_id})

    async def put_conversation(self, view: ConvView) -> None:
        doc = orjson.dumps(view).decode()  # orjson writes a dataclass as its fields, nested ones too
        if (await self._run(CONV_UPDATE, {"b_id": view.id, "doc": doc})).rowcount == 0:
            await self._insert(
                conversations,
                {"id": view.id, "app_id": view.app_id, "session_id": view.session_id, "doc": doc},
            )

    async def get_conversation(self, conv_id: str) -> ConvView | None:
        doc = (await self._run(CONV_DOC, {"b_id": conv_id})).scalar_one_or_none()
        return None if doc is None else ConvView.from_doc(orjson.loads(doc))

    async def list_conversations(self, app_id: str) -> list[ConvView]:
        docs = (await self._run(CONVERSATIONS_OF_APP, {"b_app": app_id})).scalars()
        views = [ConvView.from_doc(orjson.loads(d)) for d in docs]
        return sorted(views, key=lambda v: (v.created_at, v.id))

    async def session_views(self, session_id: str) -> list[ConvView]:
        rows = await self._run(SESSION_DOCS, {"b_sid": session_id})
        views = [ConvView.from_doc(orjson.loads(doc)) for _, doc in rows]
        return sorted(views, key=lambda v: (v.created_at, v.id))

    async def delete_conversation(self, conv_id: str) -> None:
        await self._run(CONV_DELETE, {"b_id": conv_id})

    async def add_message(self, m: Message) -> None:
        await self._insert(messages, message_values(m))

    async def get_message(self, conv_id: str, n: int) -> Message | None:
        row = (await self._run(MESSAGE_GET, {"b_conv": conv_id, "b_n": n})).mappings().first()
        return None if row is None else message_from_row(row)

    async def list_messages(
        self, conv_id: str, before: int | None = None, limit: int = 1000
    ) -> list[Message]:
        """Newest first, at most ``limit``, with ``n < before`` when given."""
        c = messages.c
        stmt = sa.select(messages).where(c.conv_id == conv_id)
        if before is not None:
            stmt = stmt.where(c.n < before)
        stmt = stmt.order_by(c.n.desc()).limit(limit)
        return [message_from_row(r) for r in (await self._conn.execute(stmt)).mappings()]

    async def update_message(
        self, conv_id: str, n: int, *, status: MessageStatus, failed: Sequence[str]
    ) -> None:
        values = {"b_conv": conv_id, "b_n": n, "status": status.value}
        await self._run(MESSAGE_UPDATE, {**values, "failed": orjson.dumps(list(failed)).decode()})
