"""startMessaging, invitations, conversations, participants, messaging and messages (SPEC §13–§17)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...actions import conversations as reads
from ...actions import invitations, leaving, messages
from ...core import commands, errors
from ...core.conversation import ConvView, InvitationKind
from ...core.errors import UcwaError
from ...core.links import APPLICATIONS
from ...core.resources import application as app_res
from ...core.resources import conversation as res
from ..http import (
    created,
    empty_input,
    media_type,
    no_content,
    query,
    read_body,
    resource_input,
    resource_response,
)
from ..middleware import current_user
from ..runtime import Runtime
from . import resource

A = APPLICATIONS + "/{app_id}"
INV = A + "/communication/messagingInvitations/{inv_id}"
C = A + "/communication/conversations/{conv_id}"
PINV = A + "/communication/participantInvitations/{inv_id}"
HISTORY_PAGE = 50


def routes(rt: Runtime) -> list[Route]:
    def ids(request: Request) -> tuple[str, str]:
        return request.path_params["app_id"], current_user(request)

    async def view(request: Request) -> ConvView:
        return await reads.read(rt.services, *ids(request), request.path_params["conv_id"])

    async def start_messaging(request: Request) -> Response:
        app_id, user = ids(request)
        data = commands.merged(await resource_input(request, rt.settings.max_body_bytes), query(request))
        cmd = commands.start_messaging(data, sender=user)
        return created(await invitations.start_messaging(rt.services, app_id, user, cmd))

    async def get_invitation(request: Request) -> Response:
        body = await reads.invitation(
            rt.services, *ids(request), request.path_params["inv_id"], InvitationKind.MESSAGING
        )
        return resource_response(body, request=request)

    async def add_participant(request: Request) -> Response:
        app_id, user = ids(request)
        data = commands.merged(await resource_input(request, rt.settings.max_body_bytes), query(request))
        cmd = commands.add_participant(data, sender=user)
        return created(await invitations.add_participant(rt.services, app_id, user, cmd))

    async def get_participant_invitation(request: Request) -> Response:
        body = await reads.invitation(
            rt.services, *ids(request), request.path_params["inv_id"], InvitationKind.PARTICIPANT
        )
        return resource_response(body, request=request)

    async def cancel_participant(request: Request) -> Response:
        await empty_input(request, rt.settings.max_body_bytes)
        await invitations.cancel_participant(rt.services, *ids(request), request.path_params["inv_id"])
        return no_content()

    async def accept(request: Request) -> Response:
        await empty_input(request, rt.settings.max_body_bytes)
        await invitations.accept(rt.services, *ids(request), request.path_params["inv_id"])
        return no_content()

    async def decline(request: Request) -> Response:
        data = commands.merged(await resource_input(request, rt.settings.max_body_bytes), query(request))
        cmd = commands.decline(data)
        await invitations.decline(rt.services, *ids(request), request.path_params["inv_id"], cmd)
        return no_content()

    async def conversations(request: Request) -> Response:
        app, views = await reads.conversations(rt.services, *ids(request))
        return resource_response(
            app_res.conversations(app, [v.links.conversation() for v in views]), request=request
        )

    async def get_conversation(request: Request) -> Response:
        return resource_response(res.conversation(await view(request)), request=request)

    async def stop(request: Request) -> Response:
        await empty_input(request, rt.settings.max_body_bytes)
        await leaving.stop(rt.services, *ids(request), request.path_params["conv_id"])
        return no_content()

    async def delete_conversation(request: Request) -> Response:
        await leaving.stop(rt.services, *ids(request), request.path_params["conv_id"])
        return no_content()

    async def participants(request: Request) -> Response:
        return resource_response(res.participants(await view(request)), request=request)

    async def participant(request: Request) -> Response:
        v = await view(request)
        user = request.path_params["user"]
        if user == v.user_uri:
            return resource_response(res.local_participant(v), request=request)
        if user in v.remote:
            return resource_response(res.participant(v, user), request=request)
        raise UcwaError(errors.NOT_FOUND, "No such participant in this conversation.")

    async def participant_messaging(request: Request) -> Response:
        v = await view(request)
        user = request.path_params["user"]
        if (user == v.user_uri and v.local_messaging) or user in v.remote_messaging:
            return resource_response(res.participant_messaging(v, user), request=request)
        raise UcwaError(errors.NOT_FOUND, "That participant is not in messaging.")

    async def get_messaging(request: Request) -> Response:
        return resource_response(res.messaging(await view(request)), request=request)

    async def send_message(request: Request) -> Response:
        raw = await read_body(request, rt.settings.max_body_bytes)
        kind, charset = media_type(request)
        cmd = commands.send_message(
            raw, kind, charset, query(request), max_bytes=rt.settings.max_message_bytes
        )
        conv_id = request.path_params["conv_id"]
        location = await messages.send_message(rt.services, *ids(request), conv_id, cmd)
        rt.services.metrics.messages_sent.inc()  # committed
        return created(location)

    async def list_messages(request: Request) -> Response:
        v, msgs = await reads.messages(rt.services, *ids(request), request.path_params["conv_id"], None, 1000)
        return resource_response(res.messages(v, sorted(m.n for m in msgs)), request=request)

    async def get_message(request: Request) -> Response:
        n = commands.parse_int(request.path_params["n"])
        if n is None:
            raise UcwaError(errors.NOT_FOUND, "The message does not exist.")
        body = await reads.message(rt.services, *ids(request), request.path_params["conv_id"], n)
        return resource_response(body, request=request)

    async def typing(request: Request) -> Response:
        await empty_input(request, rt.settings.max_body_bytes)
        await messages.set_typing(rt.services, *ids(request), request.path_params["conv_id"])
        return no_content()

    async def typing_participants(request: Request) -> Response:
        return resource_response(
            res.typing_participants(await view(request), rt.services.clock()), request=request
        )

    async def history(request: Request) -> Response:
        """Extension (rel ``history``): the conversation's messages, newest first, paged by ``before``."""
        q = commands.fold(query(request))
        before = commands.integer(q, "before", minimum=1)
        limit = min(commands.integer(q, "limit", minimum=1) or HISTORY_PAGE, 200)
        v, msgs = await reads.messages(
            rt.services, *ids(request), request.path_params["conv_id"], before, limit
        )
        return resource_response(res.history(v, msgs, limit), request=request)

    return [
        resource(C + "/messaging/messages", POST=send_message, GET=list_messages),  # the busiest first
        resource(A + "/communication/messagingInvitations", POST=start_messaging),
        resource(A + "/communication/startMessaging", POST=start_messaging),
        resource(A + "/communication/conversations", GET=conversations),
        resource(INV, GET=get_invitation),
        resource(PINV.rsplit("/", 1)[0], POST=add_participant),
        resource(PINV, GET=get_participant_invitation),
        resource(PINV + "/cancel", POST=cancel_participant),
        resource(INV + "/accept", POST=accept),
        resource(INV + "/decline", POST=decline),
        resource(C, GET=get_conversation, DELETE=delete_conversation),
        resource(C + "/participants", GET=participants),
        resource(C + "/participants/{user}", GET=participant),
        resource(C + "/participants/{user}/messaging", GET=participant_messaging),
        resource(C + "/messaging", GET=get_messaging),
        resource(C + "/messaging/terminate", POST=stop),
        # Deployed reply bots POST a new message to a message's own href: sent like sendMessage.
        resource(C + "/messaging/messages/{n}", GET=get_message, POST=send_message),
        resource(C + "/messaging/typing", POST=typing),
        resource(C + "/messaging/setIsTyping", POST=typing),  # the link's rel, used as a path
        resource(C + "/messaging/typingParticipants", GET=typing_participants),
        resource(C + "/messaging/history", GET=history),
    ]
