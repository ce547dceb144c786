"""The Twirp route table: request type, handler and required grants per method.

Grants are checked exactly as livekit-server checks them and as the livekit-api client
requests them: ``roomCreate`` for Create/DeleteRoom, ``roomList`` for ListRooms,
``roomAdmin`` for the named ``room`` for participant operations and agent dispatch,
plus ``destinationRoom`` for Move/ForwardParticipant, ``sip.call`` for
CreateSIPParticipant and ``sip.call`` + ``roomAdmin`` for TransferSIPParticipant.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message
from livekit.protocol import agent_dispatch as proto_dispatch
from livekit.protocol import room as proto_room
from livekit.protocol import sip as proto_sip

from warm_transfer.livekit_sim.auth import Grants
from warm_transfer.livekit_sim.dialer import Dialer
from warm_transfer.livekit_sim.errors import invalid_argument, no_response, not_found
from warm_transfer.livekit_sim.model import Dispatch, new_id
from warm_transfer.livekit_sim.room_service import RoomService
from warm_transfer.livekit_sim.state import SimState
from warm_transfer.livekit_sim.transfers import TransferService

GrantCheck = Callable[[Grants, Any], bool]
Handler = Callable[[Any], Awaitable[Message]]


@dataclass(frozen=True, slots=True)
class Route:
    """One Twirp method."""

    request_type: type[Message]
    handler: Handler
    allowed: GrantCheck


class AgentDispatchService:
    """Handlers of ``livekit.AgentDispatchService``."""

    def __init__(self, state: SimState, dialer: Dialer) -> None:
        self.state = state
        self.dialer = dialer

    async def create_dispatch(
        self, req: proto_dispatch.CreateAgentDispatchRequest
    ) -> proto_dispatch.AgentDispatch:
        """Creates an explicit dispatch (the room is created if needed)."""
        if not req.room:
            raise invalid_argument("room", "is required")
        room, _ = self.state.ensure_room(req.room)
        dispatch = Dispatch(
            new_id("AD_"), req.agent_name, room.name, req.metadata, attributes=dict(req.attributes)
        )
        room.dispatches[dispatch.id] = dispatch
        self.state.count("dispatches_created")
        self.state.events.emit(
            "dispatch_created",
            room=room.name,
            dispatch_id=dispatch.id,
            agent_name=dispatch.agent_name,
            metadata=dispatch.metadata,
        )
        # A dispatch is what starts the briefing of the legs waiting in that room.
        self.dialer.brief_started(room.name)
        return dispatch.to_proto()

    async def delete_dispatch(
        self, req: proto_dispatch.DeleteAgentDispatchRequest
    ) -> proto_dispatch.AgentDispatch:
        """Deletes a dispatch (``not_found`` when unknown)."""
        room = self.state.rooms.get(req.room)
        dispatch = None if room is None else room.dispatches.pop(req.dispatch_id, None)
        if dispatch is None:
            raise not_found("dispatch")
        self.state.events.emit(
            "dispatch_deleted",
            room=req.room,
            dispatch_id=dispatch.id,
            agent_name=dispatch.agent_name,
        )
        return dispatch.to_proto()

    async def list_dispatch(
        self, req: proto_dispatch.ListAgentDispatchRequest
    ) -> proto_dispatch.ListAgentDispatchResponse:
        """Dispatches of a room, optionally only ``dispatch_id``.

        Self-hosted livekit-server asks the room's node; for a room that exists nowhere
        it answers "no response from servers".
        """
        room = self.state.rooms.get(req.room)
        if room is None and self.state.config.self_hosted:
            raise no_response()
        found = [] if room is None else list(room.dispatches.values())
        if req.dispatch_id:
            found = [d for d in found if d.id == req.dispatch_id]
        return proto_dispatch.ListAgentDispatchResponse(
            agent_dispatches=[d.to_proto() for d in found]
        )


def _admin(g: Grants, req: Any) -> bool:
    return g.admin_of(req.room)


def _dest_admin(g: Grants, req: Any) -> bool:
    return g.admin_of(req.room) and g.destination_room == req.destination_room


def build_routes(
    rooms: RoomService,
    dialer: Dialer,
    transfers: TransferService,
    dispatch: AgentDispatchService,
) -> dict[tuple[str, str], Route]:
    """Every implemented ``(service, method)``; anything else is a Twirp bad_route."""
    r = proto_room
    room_routes: dict[str, Route] = {
        "CreateRoom": Route(r.CreateRoomRequest, rooms.create_room, lambda g, _: g.room_create),
        "DeleteRoom": Route(r.DeleteRoomRequest, rooms.delete_room, lambda g, _: g.room_create),
        "ListRooms": Route(r.ListRoomsRequest, rooms.list_rooms, lambda g, _: g.room_list),
        "ListParticipants": Route(r.ListParticipantsRequest, rooms.list_participants, _admin),
        "GetParticipant": Route(r.RoomParticipantIdentity, rooms.get_participant, _admin),
        "RemoveParticipant": Route(r.RoomParticipantIdentity, rooms.remove_participant, _admin),
        "MoveParticipant": Route(r.MoveParticipantRequest, rooms.move_participant, _dest_admin),
        "ForwardParticipant": Route(
            r.ForwardParticipantRequest, rooms.forward_participant, _dest_admin
        ),
        "UpdateParticipant": Route(r.UpdateParticipantRequest, rooms.update_participant, _admin),
        "UpdateSubscriptions": Route(
            r.UpdateSubscriptionsRequest, rooms.update_subscriptions, _admin
        ),
        "SendData": Route(r.SendDataRequest, rooms.send_data, _admin),
        "UpdateRoomMetadata": Route(
            r.UpdateRoomMetadataRequest, rooms.update_room_metadata, _admin
        ),
        "MutePublishedTrack": Route(r.MuteRoomTrackRequest, rooms.mute_published_track, _admin),
    }
    sip_routes: dict[str, Route] = {
        "CreateSIPOutboundTrunk": Route(
            proto_sip.CreateSIPOutboundTrunkRequest,
            dialer.create_outbound_trunk,
            lambda g, _: g.sip_admin,
        ),
        "CreateSIPParticipant": Route(
            proto_sip.CreateSIPParticipantRequest, dialer.create, lambda g, _: g.sip_call
        ),
        "TransferSIPParticipant": Route(
            proto_sip.TransferSIPParticipantRequest,
            transfers.transfer,
            lambda g, req: g.sip_call and g.admin_of(req.room_name),
        ),
    }
    d = proto_dispatch
    dispatch_routes: dict[str, Route] = {
        "CreateDispatch": Route(d.CreateAgentDispatchRequest, dispatch.create_dispatch, _admin),
        "DeleteDispatch": Route(d.DeleteAgentDispatchRequest, dispatch.delete_dispatch, _admin),
        "ListDispatch": Route(d.ListAgentDispatchRequest, dispatch.list_dispatch, _admin),
    }
    table: dict[tuple[str, str], Route] = {}
    for service, routes in (
        ("livekit.RoomService", room_routes),
        ("livekit.SIP", sip_routes),
        ("livekit.AgentDispatchService", dispatch_routes),
    ):
        for method, route in routes.items():
            table[(service, method)] = route
    return table
