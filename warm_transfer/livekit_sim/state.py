"""The simulated LiveKit world: rooms and participants, their lifecycle and side effects.

Every change goes through :class:`SimState` so that the event log, the webhooks and
the counters stay consistent. Everything runs on the event loop thread: no locks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any, Final

from livekit.protocol import models as proto_models
from livekit.protocol import webhook as proto_webhook

from warm_transfer.livekit_sim.config import SimConfig
from warm_transfer.livekit_sim.errors import not_found
from warm_transfer.livekit_sim.events import EventLog
from warm_transfer.livekit_sim.model import (
    Dispatch,
    Participant,
    Room,
    audibility,
    kind_name,
    new_id,
    reason_name,
)
from warm_transfer.livekit_sim.webhooks import WebhookSender

ACTIVE: Final = proto_models.ParticipantInfo.ACTIVE
DISCONNECTED: Final = proto_models.ParticipantInfo.DISCONNECTED
Reason = proto_models.DisconnectReason

# LiveKit's defaults for closing rooms.
DEFAULT_EMPTY_TIMEOUT_S: Final = 300
DEFAULT_DEPARTURE_TIMEOUT_S: Final = 20


class SimState:
    """Rooms by name, with the operations LiveKit performs on them.

    Args:
        config: The sim configuration (room auto-close, ...).
        events: Where events are recorded.
        webhooks: Where webhooks are queued.
    """

    def __init__(self, config: SimConfig, events: EventLog, webhooks: WebhookSender) -> None:
        self.config = config
        self.events = events
        self.webhooks = webhooks
        self.rooms: dict[str, Room] = {}
        self.counters: dict[str, int] = {}

    def count(self, name: str, n: int = 1) -> None:
        """Bumps a counter shown in ``GET /sim/state``."""
        self.counters[name] = self.counters.get(name, 0) + n

    # -- lookups ---------------------------------------------------------------------

    def room(self, name: str) -> Room:
        """The room called ``name`` (raises Twirp ``not_found``)."""
        room = self.rooms.get(name)
        if room is None:
            raise not_found("room")
        return room

    def participant(self, room_name: str, identity: str) -> Participant:
        """The participant ``identity`` of room ``room_name`` (raises ``not_found``)."""
        room = self.rooms.get(room_name)
        p = None if room is None else room.participants.get(identity)
        if p is None:
            raise not_found("participant")
        return p

    # -- rooms -----------------------------------------------------------------------

    def ensure_room(
        self,
        name: str,
        *,
        metadata: str = "",
        empty_timeout: int = 0,
        departure_timeout: int = 0,
        max_participants: int = 0,
    ) -> tuple[Room, bool]:
        """The room called ``name``, created (room_started) if it does not exist."""
        room = self.rooms.get(name)
        if room is not None:
            return room, False
        room = Room(
            name=name,
            sid=new_id("RM_"),
            metadata=metadata,
            empty_timeout=empty_timeout,
            departure_timeout=departure_timeout,
            max_participants=max_participants,
        )
        # livekit-server gives every new room the default dispatch (no agent name):
        # the one automatic-dispatch workers take. ListDispatch shows it.
        default = Dispatch(new_id("AD_"), "", name, "")
        room.dispatches[default.id] = default
        self.rooms[name] = room
        self.count("rooms_created")
        self.events.emit("room_created", room=name, room_sid=room.sid)
        self._hook("room_started", room)
        self._schedule_close(room, empty_timeout or DEFAULT_EMPTY_TIMEOUT_S, "empty_timeout")
        return room, True

    def delete_room(self, name: str, reason: str = "deleted") -> None:
        """Closes a room: everyone leaves with ROOM_DELETED, SIP legs hang up."""
        room = self.rooms.pop(name, None)
        if room is None:
            raise not_found("room")
        if room.close_timer is not None:
            room.close_timer.cancel()
        for p in list(room.participants.values()):
            self._remove(room, p, Reason.ROOM_DELETED)
        room.dispatches.clear()
        self.count("rooms_closed")
        self.events.emit("room_deleted", room=name, room_sid=room.sid, reason=reason)
        self._hook("room_finished", room)

    def _schedule_close(self, room: Room, delay: float, why: str) -> None:
        if not self.config.room_auto_close:
            return
        if room.close_timer is not None:
            room.close_timer.cancel()
        room.close_timer = asyncio.get_running_loop().call_later(delay, self._auto_close, room, why)

    def _auto_close(self, room: Room, why: str) -> None:
        room.close_timer = None
        if self.rooms.get(room.name) is room and not room.participants:
            self.delete_room(room.name, why)

    # -- participants ----------------------------------------------------------------

    def join(
        self,
        room_name: str,
        identity: str,
        *,
        kind: int,
        name: str = "",
        metadata: str = "",
        attributes: Mapping[str, str] | None = None,
        active: bool = True,
        track_subscribers: Iterable[str] | None = None,
    ) -> Participant:
        """A participant joins (room auto-created); an older one with the same identity
        is disconnected with DUPLICATE_IDENTITY, like LiveKit does. ``track_subscribers``:
        who alone may subscribe to its track (None: everyone)."""
        room, _ = self.ensure_room(room_name)
        old = room.participants.get(identity)
        if old is not None:
            self._remove(room, old, Reason.DUPLICATE_IDENTITY)
        p = Participant(
            sid=new_id("PA_"),
            identity=identity,
            name=name,
            kind=kind,
            room=room_name,
            metadata=metadata,
            attributes=dict(attributes or {}),
            track_subscribers=None if track_subscribers is None else frozenset(track_subscribers),
        )
        room.participants[identity] = p
        if room.close_timer is not None:
            room.close_timer.cancel()
            room.close_timer = None
        self.count("participants_joined")
        self.events.emit(
            "participant_joined",
            room=room_name,
            participant_identity=identity,
            participant_sid=p.sid,
            kind=kind_name(kind),
            attributes=dict(p.attributes),
        )
        self._hook("participant_joined", room, p)
        if active:
            self.activate(p)
        return p

    def activate(self, p: Participant) -> None:
        """The participant is connected: ACTIVE, with its audio track published."""
        p.state = ACTIVE
        p.version += 1
        self.publish(p)

    def publish(self, p: Participant) -> None:
        """Publishes the participant's audio track (once); a SIP leg does so as it joins,
        before its phone rings, as livekit-sip does."""
        if p.track_sid is None:
            p.track_sid = new_id("TR_")
            self.events.emit(
                "track_published",
                room=p.room,
                participant_identity=p.identity,
                track_sid=p.track_sid,
            )
            room = self.rooms.get(p.room)
            if room is not None:
                self._hook("track_published", room, p, track=True)

    def leave(self, p: Participant, reason: int) -> None:
        """The participant leaves its room (no-op if it already left)."""
        room = self.rooms.get(p.room)
        if room is None or room.participants.get(p.identity) is not p:
            return
        self._remove(room, p, reason)
        if not room.participants:
            departure = room.departure_timeout or DEFAULT_DEPARTURE_TIMEOUT_S
            self._schedule_close(room, departure, "departure_timeout")

    @staticmethod
    def _forget_track(room: Room, p: Participant) -> None:
        """Subscription settings die with the track, as in LiveKit: nothing lingers."""
        if p.track_sid is not None:
            for other in room.participants.values():
                other.unsubscribed.discard(p.track_sid)

    def _remove(self, room: Room, p: Participant, reason: int) -> None:
        del room.participants[p.identity]
        self._forget_track(room, p)
        if p.track_sid is not None:
            self._hook("track_unpublished", room, p, track=True)
        p.state = DISCONNECTED
        p.disconnect_reason = reason
        p.version += 1
        if p.leg is not None:
            if not p.leg.ended:
                # LiveKit ends the call: CANCEL while the phone rings, BYE once answered.
                method = "BYE" if p.leg.answered_at is not None else "CANCEL"
                self.sip_request(p, method)
            p.leg.on_removed(reason)
        self.count("participants_left")
        self.events.emit(
            "participant_left",
            room=room.name,
            participant_identity=p.identity,
            participant_sid=p.sid,
            kind=kind_name(p.kind),
            reason=reason_name(reason),
        )
        self._hook("participant_left", room, p)

    def sip_request(self, p: Participant, method: str) -> None:
        """Records a SIP request LiveKit sent to the phone of ``p``'s leg."""
        leg = p.leg
        if leg is None:
            return
        self.count(f"sip_{method.lower()}")
        self.events.emit(
            "sip_request",
            room=p.room,
            participant_identity=p.identity,
            method=method,
            number=leg.number,
            call_id=leg.call_id,
        )

    def update_attributes(self, p: Participant, changes: Mapping[str, str]) -> bool:
        """Merges attributes like LiveKit (an empty value deletes the key).

        Returns:
            True when something changed. LiveKit sends no webhook for it (there is no
            ``participant_attributes_changed`` webhook); the sim's own event log has it.
        """
        changed: dict[str, str] = {}
        for key, value in changes.items():
            if value == "":
                if key in p.attributes:
                    del p.attributes[key]
                    changed[key] = ""
            elif p.attributes.get(key) != value:
                p.attributes[key] = value
                changed[key] = value
        if not changed:
            return False
        p.version += 1
        self.events.emit(
            "attributes_changed", room=p.room, participant_identity=p.identity, changed=changed
        )
        return True

    def move(self, p: Participant, destination: str) -> None:
        """Moves a participant (and its track) to another room, created if needed."""
        src = self.room(p.room)
        dest, _ = self.ensure_room(destination)
        clash = dest.participants.get(p.identity)
        if clash is not None:
            self._remove(dest, clash, Reason.DUPLICATE_IDENTITY)
        del src.participants[p.identity]
        self._forget_track(src, p)
        self._hook("participant_left", src, p)
        p.room = destination
        p.unsubscribed.clear()
        p.version += 1
        dest.participants[p.identity] = p
        if dest.close_timer is not None:
            dest.close_timer.cancel()
            dest.close_timer = None
        self.count("moves")
        self.events.emit(
            "moved", room=destination, from_room=src.name, participant_identity=p.identity
        )
        self._hook("participant_joined", dest, p)
        if not src.participants:
            departure = src.departure_timeout or DEFAULT_DEPARTURE_TIMEOUT_S
            self._schedule_close(src, departure, "departure_timeout")

    def audibility(self, room_name: str) -> dict[str, list[str]]:
        """Who hears whom in a room (see :func:`model.audibility`)."""
        return audibility(self.room(room_name))

    def snapshot(self) -> dict[str, Any]:
        """Plain-data view of every room for ``GET /sim/state``."""
        return {name: room.snapshot() for name, room in self.rooms.items()}

    def reset(self) -> None:
        """Forgets everything silently (no events, no webhooks)."""
        for room in self.rooms.values():
            if room.close_timer is not None:
                room.close_timer.cancel()
            for p in room.participants.values():
                if p.leg is not None:
                    p.leg.on_removed(Reason.SERVER_SHUTDOWN)
        self.rooms.clear()
        self.counters.clear()

    # -- webhooks --------------------------------------------------------------------

    def _hook(
        self, event: str, room: Room, p: Participant | None = None, *, track: bool = False
    ) -> None:
        if not self.webhooks.enabled:
            return
        msg = proto_webhook.WebhookEvent(event=event, room=room.to_proto())
        if p is not None:
            msg.participant.CopyFrom(p.to_proto())
            if track and p.track_sid is not None:
                msg.track.CopyFrom(p.track_proto())
        self.webhooks.enqueue(room.name, msg)
