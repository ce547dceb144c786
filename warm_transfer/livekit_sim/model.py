"""The in-memory model: rooms, participants, dispatches, and their LiveKit protos."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from livekit.protocol import agent_dispatch as proto_dispatch
from livekit.protocol import models as proto_models

if TYPE_CHECKING:
    from warm_transfer.livekit_sim.sip import SipLeg

Kind = proto_models.ParticipantInfo.Kind
State = proto_models.ParticipantInfo.State

KIND_NAMES: Final[dict[str, int]] = {
    "standard": proto_models.ParticipantInfo.STANDARD,
    "sip": proto_models.ParticipantInfo.SIP,
    "agent": proto_models.ParticipantInfo.AGENT,
}

_ALPHABET: Final = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
# Ids only need to be unique and look like LiveKit's, not be secret: a counter (unique
# for 16M ids) mixed with 40 random bits, written as 12 base-57 characters.
_ID_RNG: Final = random.Random()
_ID_COUNTER: Final = itertools.count(1)


def new_id(prefix: str) -> str:
    """A LiveKit-style id, e.g. ``PA_x4Zt9...`` (prefix + 12 characters)."""
    value = (_ID_RNG.getrandbits(40) << 24) | (next(_ID_COUNTER) & 0xFFFFFF)
    chars = []
    for _ in range(12):
        value, digit = divmod(value, 57)
        chars.append(_ALPHABET[digit])
    return prefix + "".join(chars)


def kind_name(kind: int) -> str:
    """``ParticipantInfo.Kind`` name, e.g. ``"SIP"``."""
    return str(proto_models.ParticipantInfo.Kind.Name(kind))


def state_name(state: int) -> str:
    """``ParticipantInfo.State`` name, e.g. ``"ACTIVE"``."""
    return str(proto_models.ParticipantInfo.State.Name(state))


def reason_name(reason: int) -> str:
    """``DisconnectReason`` name, e.g. ``"USER_UNAVAILABLE"``."""
    return str(proto_models.DisconnectReason.Name(reason))


def default_permission() -> proto_models.ParticipantPermission:
    """What a participant joining with an ordinary token may do."""
    return proto_models.ParticipantPermission(
        can_subscribe=True, can_publish=True, can_publish_data=True
    )


@dataclass(slots=True, eq=False)
class Participant:
    """A participant of a room; SIP legs carry their call in ``leg``."""

    sid: str
    identity: str
    name: str
    kind: int
    room: str
    state: int = proto_models.ParticipantInfo.JOINING
    attributes: dict[str, str] = field(default_factory=dict)
    metadata: str = ""
    permission: proto_models.ParticipantPermission = field(default_factory=default_permission)
    joined_at: float = field(default_factory=time.time)
    track_sid: str | None = None
    track_muted: bool = False
    # Track sids this participant has unsubscribed from (UpdateSubscriptions).
    unsubscribed: set[str] = field(default_factory=set)
    # Who may subscribe to its track: set by the participant itself (the rtc SDK's
    # set_track_subscription_permissions, as a briefing agent restricts its voice to the
    # human); None lets everyone.
    track_subscribers: frozenset[str] | None = None
    version: int = 0
    disconnect_reason: int = proto_models.DisconnectReason.UNKNOWN_REASON
    leg: SipLeg | None = None

    def to_proto(self) -> proto_models.ParticipantInfo:
        """The ``ParticipantInfo`` LiveKit would answer."""
        tracks = []
        if self.track_sid is not None:
            tracks.append(
                proto_models.TrackInfo(
                    sid=self.track_sid,
                    type=proto_models.TrackType.AUDIO,
                    source=proto_models.TrackSource.MICROPHONE,
                    name="audio",
                    muted=self.track_muted,
                    mime_type="audio/opus",
                )
            )
        return proto_models.ParticipantInfo(
            sid=self.sid,
            identity=self.identity,
            name=self.name,
            state=self.state,  # type: ignore[arg-type]
            kind=self.kind,  # type: ignore[arg-type]
            tracks=tracks,
            metadata=self.metadata,
            joined_at=int(self.joined_at),
            joined_at_ms=int(self.joined_at * 1000),
            version=self.version,
            permission=self.permission,
            attributes=self.attributes,
            is_publisher=self.track_sid is not None,
            disconnect_reason=self.disconnect_reason,  # type: ignore[arg-type]
        )

    def track_proto(self) -> proto_models.TrackInfo:
        """The audio track as ``TrackInfo`` (only valid once published)."""
        info = self.to_proto()
        return info.tracks[0]


@dataclass(slots=True, eq=False)
class Dispatch:
    """An explicit agent dispatch."""

    id: str
    agent_name: str
    room: str
    metadata: str
    created_at: float = field(default_factory=time.time)
    attributes: dict[str, str] = field(default_factory=dict)

    def to_proto(self) -> proto_dispatch.AgentDispatch:
        """The ``AgentDispatch`` LiveKit would answer."""
        return proto_dispatch.AgentDispatch(
            id=self.id,
            agent_name=self.agent_name,
            room=self.room,
            metadata=self.metadata,
            attributes=self.attributes,
            state=proto_dispatch.AgentDispatchState(created_at=int(self.created_at * 1e9)),
        )


@dataclass(slots=True, eq=False)
class Room:
    """A room with its participants (by identity) and dispatches (by id)."""

    name: str
    sid: str
    created_at: float = field(default_factory=time.time)
    metadata: str = ""
    empty_timeout: int = 0
    departure_timeout: int = 0
    max_participants: int = 0
    participants: dict[str, Participant] = field(default_factory=dict)
    dispatches: dict[str, Dispatch] = field(default_factory=dict)
    close_timer: asyncio.TimerHandle | None = None

    def to_proto(self) -> proto_models.Room:
        """The ``Room`` LiveKit would answer."""
        publishers = sum(1 for p in self.participants.values() if p.track_sid is not None)
        return proto_models.Room(
            sid=self.sid,
            name=self.name,
            empty_timeout=self.empty_timeout,
            departure_timeout=self.departure_timeout,
            max_participants=self.max_participants,
            creation_time=int(self.created_at),
            creation_time_ms=int(self.created_at * 1000),
            metadata=self.metadata,
            num_participants=len(self.participants),
            num_publishers=publishers,
        )

    def snapshot(self) -> dict[str, Any]:
        """Plain-data view for ``GET /sim/state``."""
        return {
            "sid": self.sid,
            "name": self.name,
            "metadata": self.metadata,
            "created_at": self.created_at,
            "participants": {i: participant_snapshot(p) for i, p in self.participants.items()},
            "dispatches": [
                {
                    "id": d.id,
                    "agent_name": d.agent_name,
                    "metadata": d.metadata,
                    "created_at": d.created_at,
                }
                for d in self.dispatches.values()
            ],
        }


def participant_snapshot(p: Participant) -> dict[str, Any]:
    """Plain-data view of a participant for ``GET /sim/state``."""
    perm = p.permission
    return {
        "sid": p.sid,
        "identity": p.identity,
        "name": p.name,
        "kind": kind_name(p.kind),
        "state": state_name(p.state),
        "attributes": dict(p.attributes),
        "metadata": p.metadata,
        "permission": {
            "can_subscribe": perm.can_subscribe,
            "can_publish": perm.can_publish,
            "can_publish_data": perm.can_publish_data,
        },
        "tracks": [] if p.track_sid is None else [{"sid": p.track_sid, "muted": p.track_muted}],
        "unsubscribed": sorted(p.unsubscribed),
        "track_subscribers": None if p.track_subscribers is None else sorted(p.track_subscribers),
        "joined_at": p.joined_at,
        "sip": None if p.leg is None else p.leg.snapshot(),
    }


def audibility(room: Room) -> dict[str, list[str]]:
    """Who hears whom: ``{listener: [speakers]}`` for the ACTIVE participants of ``room``.

    A listener hears a speaker when both are ACTIVE, the speaker's track is published,
    unmuted and ``can_publish``, the listener ``can_subscribe`` (a SIP leg: once answered)
    and did not unsubscribe from that track (UpdateSubscriptions), and the speaker lets
    the listener subscribe (``track_subscribers``, set by the speaker itself). Note that
    UpdateParticipant replaces the whole permission, as LiveKit does: flags left unset
    become false.
    """
    active = proto_models.ParticipantInfo.ACTIVE
    members = [p for p in room.participants.values() if p.state == active]
    speakers = [
        p
        for p in members
        if p.track_sid is not None and not p.track_muted and p.permission.can_publish
    ]
    out: dict[str, list[str]] = {}
    for listener in members:
        # livekit-sip subscribes a SIP leg to the room only once the call is answered.
        unanswered = listener.leg is not None and listener.leg.answered_at is None
        if not listener.permission.can_subscribe or unanswered:
            out[listener.identity] = []
            continue
        out[listener.identity] = [
            s.identity
            for s in speakers
            if s is not listener
            and s.track_sid not in listener.unsubscribed
            and (s.track_subscribers is None or listener.identity in s.track_subscribers)
        ]
    return out
