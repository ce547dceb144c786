"""RoomService handlers: rooms, participants, subscriptions, data."""

from __future__ import annotations

import base64
import json
from typing import Any

from livekit.protocol import models as proto_models
from livekit.protocol import room as proto_room

from warm_transfer.livekit_sim.config import SimConfig
from warm_transfer.livekit_sim.dialer import Dialer
from warm_transfer.livekit_sim.errors import TwirpError, invalid_argument, no_response, not_found
from warm_transfer.livekit_sim.model import Dispatch, new_id
from warm_transfer.livekit_sim.state import SimState

Reason = proto_models.DisconnectReason


def decode_payload(data: bytes) -> dict[str, Any]:
    """The payload of SendData for the event log: JSON, else text, else base64."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return {"payload_b64": base64.b64encode(data).decode()}
    try:
        return {"payload": json.loads(text)}
    except ValueError:
        return {"payload": text}


class RoomService:
    """Handlers of ``livekit.RoomService`` over the simulated state."""

    def __init__(self, config: SimConfig, state: SimState, dialer: Dialer) -> None:
        self.config = config
        self.state = state
        self.dialer = dialer

    async def create_room(self, req: proto_room.CreateRoomRequest) -> proto_models.Room:
        """Creates a room; an existing room is returned unchanged (idempotent)."""
        if not req.name:
            raise invalid_argument("name", "is required")
        room, created = self.state.ensure_room(
            req.name,
            metadata=req.metadata,
            empty_timeout=req.empty_timeout,
            departure_timeout=req.departure_timeout,
            max_participants=req.max_participants,
        )
        if created:
            for agent in req.agents:
                dispatch = Dispatch(new_id("AD_"), agent.agent_name, room.name, agent.metadata)
                room.dispatches[dispatch.id] = dispatch
                self.state.events.emit(
                    "dispatch_created",
                    room=room.name,
                    dispatch_id=dispatch.id,
                    agent_name=dispatch.agent_name,
                    metadata=dispatch.metadata,
                )
        return room.to_proto()

    async def list_rooms(self, req: proto_room.ListRoomsRequest) -> proto_room.ListRoomsResponse:
        """Lists rooms, optionally only the given names."""
        rooms = self.state.rooms
        if req.names:
            chosen = [rooms[n] for n in req.names if n in rooms]
        else:
            chosen = list(rooms.values())
        return proto_room.ListRoomsResponse(rooms=[r.to_proto() for r in chosen])

    async def delete_room(self, req: proto_room.DeleteRoomRequest) -> proto_room.DeleteRoomResponse:
        """Deletes a room: everyone leaves with ROOM_DELETED, SIP legs hang up."""
        self.state.delete_room(req.room)
        return proto_room.DeleteRoomResponse()

    def _routed(self, room_name: str) -> None:
        """Self-hosted livekit-server routes room calls to the room's node over psrpc; for
        a room that exists nowhere it answers "no response from servers" (after 3 s,
        not simulated)."""
        if self.config.self_hosted and room_name not in self.state.rooms:
            raise no_response()

    async def list_participants(
        self, req: proto_room.ListParticipantsRequest
    ) -> proto_room.ListParticipantsResponse:
        """Participants of a room (none for an unknown room, as livekit-server answers)."""
        room = self.state.rooms.get(req.room)
        found = [] if room is None else room.participants.values()
        return proto_room.ListParticipantsResponse(participants=[p.to_proto() for p in found])

    async def get_participant(
        self, req: proto_room.RoomParticipantIdentity
    ) -> proto_models.ParticipantInfo:
        """One participant (``not_found`` when absent)."""
        return self.state.participant(req.room, req.identity).to_proto()

    async def remove_participant(
        self, req: proto_room.RoomParticipantIdentity
    ) -> proto_room.RemoveParticipantResponse:
        """Disconnects a participant with PARTICIPANT_REMOVED (a SIP leg hangs up)."""
        p = self.state.participant(req.room, req.identity)
        self.state.leave(p, Reason.PARTICIPANT_REMOVED)
        return proto_room.RemoveParticipantResponse()

    async def move_participant(
        self, req: proto_room.MoveParticipantRequest
    ) -> proto_room.MoveParticipantResponse:
        """Moves a participant to another room (LiveKit Cloud only).

        Self-hosted livekit-server forwards the call to the participant's node, whose
        RoomManager answers ``errors.New("not implemented")`` (``unknown``); for a
        participant hosted nowhere nobody answers (``unavailable``).
        """
        if self.config.self_hosted:
            room = self.state.rooms.get(req.room)
            if room is None or req.identity not in room.participants:
                raise no_response()
            raise TwirpError("unknown", "not implemented")
        if not req.destination_room:
            raise invalid_argument("destination_room", "is required")
        if req.destination_room == req.room:
            raise TwirpError("invalid_argument", "destination room cannot be the same as source")
        p = self.state.participant(req.room, req.identity)
        self.state.move(p, req.destination_room)
        self.dialer.brief_started(req.destination_room)
        return proto_room.MoveParticipantResponse()

    async def forward_participant(
        self, req: proto_room.ForwardParticipantRequest
    ) -> proto_room.ForwardParticipantResponse:
        """Not simulated (and not available on self-hosted LiveKit either)."""
        raise TwirpError("unimplemented", "not implemented")

    async def update_participant(
        self, req: proto_room.UpdateParticipantRequest
    ) -> proto_models.ParticipantInfo:
        """Updates metadata/name (when non-empty), merges attributes, replaces permission."""
        p = self.state.participant(req.room, req.identity)
        changes: dict[str, Any] = {}
        if req.metadata:
            p.metadata = changes["metadata"] = req.metadata
        if req.name:
            p.name = changes["name"] = req.name
        if req.HasField("permission"):
            # LiveKit replaces the whole permission, so unset flags become false.
            p.permission = proto_models.ParticipantPermission()
            p.permission.CopyFrom(req.permission)
            changes["permission"] = {
                "can_subscribe": p.permission.can_subscribe,
                "can_publish": p.permission.can_publish,
                "can_publish_data": p.permission.can_publish_data,
            }
        if changes:
            p.version += 1
            self.state.events.emit(
                "participant_updated", room=p.room, participant_identity=p.identity, **changes
            )
        if req.attributes:
            self.state.update_attributes(p, req.attributes)
        return p.to_proto()

    async def update_subscriptions(
        self, req: proto_room.UpdateSubscriptionsRequest
    ) -> proto_room.UpdateSubscriptionsResponse:
        """Subscribes/unsubscribes a participant to/from tracks."""
        self._routed(req.room)
        p = self.state.participant(req.room, req.identity)
        sids = list(req.track_sids)
        for pt in req.participant_tracks:
            sids.extend(pt.track_sids)
        if req.subscribe:
            p.unsubscribed.difference_update(sids)
        else:
            p.unsubscribed.update(sids)
        self.state.events.emit(
            "subscription_changed",
            room=p.room,
            participant_identity=p.identity,
            track_sids=sids,
            subscribe=req.subscribe,
        )
        return proto_room.UpdateSubscriptionsResponse()

    async def send_data(self, req: proto_room.SendDataRequest) -> proto_room.SendDataResponse:
        """Records a data packet sent to the room."""
        self._routed(req.room)
        self.state.room(req.room)
        self.state.count("data_sent")
        self.state.events.emit(
            "data_sent",
            room=req.room,
            topic=req.topic,
            destination_identities=list(req.destination_identities),
            data_kind=proto_models.DataPacket.Kind.Name(req.kind),
            **decode_payload(req.data),
        )
        return proto_room.SendDataResponse()

    async def update_room_metadata(
        self, req: proto_room.UpdateRoomMetadataRequest
    ) -> proto_models.Room:
        """Replaces a room's metadata."""
        room = self.state.room(req.room)
        room.metadata = req.metadata
        self.state.events.emit("room_metadata_changed", room=room.name, metadata=req.metadata)
        return room.to_proto()

    async def mute_published_track(
        self, req: proto_room.MuteRoomTrackRequest
    ) -> proto_room.MuteRoomTrackResponse:
        """Mutes/unmutes a participant's audio track (a muted track is inaudible)."""
        p = self.state.participant(req.room, req.identity)
        if p.track_sid is None or p.track_sid != req.track_sid:
            raise not_found("track")
        p.track_muted = req.muted
        p.version += 1
        self.state.events.emit(
            "track_muted", room=p.room, participant_identity=p.identity, muted=req.muted
        )
        return proto_room.MuteRoomTrackResponse(track=p.track_proto())
