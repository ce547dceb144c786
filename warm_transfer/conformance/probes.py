"""The probes: every LiveKit answer the engine relies on, observed, not assumed.

Each probe makes a few API calls in rooms of its own and returns plain data: what
LiveKit answered (error code, HTTP status, ``sip_status_code``, which of the phrases
the engine matches on appear in the message, whether it took seconds), the order of
``sip.callStatus`` values a dial goes through with the participant's state and
tracks at each, and the webhooks a room's life sends. The same probe runs on the
stand-in and on the real stack; the two columns must agree.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from livekit import api
from livekit.protocol import models as proto_models

from warm_transfer.conformance.targets import Target

Observation = dict[str, Any]
Probe = Callable[[Target], Awaitable[Observation]]

# The phrases of LiveKit's messages that the engine's error mapping matches on
# (activities/livekit_errors.py): only their presence is compared, not the wording.
PHRASES: Final = ("not implemented", "no response from servers", "timed out")
SLOW_S: Final = 2.0
CALL_STATUS: Final = "sip.callStatus"
TRANSFER_TO: Final = "tel:+15105550100"


@dataclass(frozen=True)
class ProbeSpec:
    """One probe: its name, whether it needs livekit-sip and the phones, the function."""

    name: str
    sip: bool
    run: Probe


def room_name(probe: str) -> str:
    """A room of the probe's own (the suffix keeps runs apart)."""
    return f"conf-{probe.replace('.', '-')}-{uuid.uuid4().hex[:6]}"


async def answer(call: Awaitable[object]) -> Observation:
    """What LiveKit answered to ``call``, as comparable data."""
    started = time.monotonic()
    try:
        await call
        out: Observation = {"ok": True}
    except api.ServerError as err:
        message = err.message.lower()
        out = {
            "error": err.code,
            "status": err.status,
            "sip_status_code": (err.metadata or {}).get("sip_status_code"),
            "phrases": [p for p in PHRASES if p in message],
        }
    out["slow"] = time.monotonic() - started >= SLOW_S
    return out


def permission_flags(p: proto_models.ParticipantPermission) -> dict[str, bool]:
    """The permission flags the engine sets and relies on."""
    return {
        "can_subscribe": p.can_subscribe,
        "can_publish": p.can_publish,
        "can_publish_data": p.can_publish_data,
        "can_update_metadata": p.can_update_metadata,
    }


async def _cleanup(t: Target, room: str) -> None:
    try:
        await t.lk.room.delete_room(api.DeleteRoomRequest(room=room))
    except api.ServerError:
        pass


# -- RoomService ------------------------------------------------------------------------


async def move_hosted(t: Target) -> Observation:
    """MoveParticipant of a participant the server hosts (self-hosted: not implemented)."""
    room = room_name("move")
    await t.join(room, "alice")
    try:
        req = api.MoveParticipantRequest(room=room, identity="alice", destination_room=room + "-b")
        return await answer(t.lk.room.move_participant(req))
    finally:
        await t.leave(room, "alice")
        await _cleanup(t, room)


async def move_missing(t: Target) -> Observation:
    """MoveParticipant of a participant that exists nowhere (the `auto` probe's call)."""
    req = api.MoveParticipantRequest(
        room=room_name("nowhere"), identity="ghost", destination_room=room_name("nowhere-b")
    )
    return await answer(t.lk.room.move_participant(req))


async def missing_room_calls(t: Target) -> Observation:
    """Room-scoped calls on a room that does not exist: what a late clean-up meets."""
    room = room_name("gone")
    calls: dict[str, Awaitable[object]] = {
        "send_data": t.lk.room.send_data(
            api.SendDataRequest(room=room, data=b"{}", kind=proto_models.DataPacket.RELIABLE)
        ),
        "update_subscriptions": t.lk.room.update_subscriptions(
            api.UpdateSubscriptionsRequest(room=room, identity="ghost", subscribe=False)
        ),
        "remove_participant": t.lk.room.remove_participant(
            api.RoomParticipantIdentity(room=room, identity="ghost")
        ),
        "get_participant": t.lk.room.get_participant(
            api.RoomParticipantIdentity(room=room, identity="ghost")
        ),
        "update_participant": t.lk.room.update_participant(
            api.UpdateParticipantRequest(room=room, identity="ghost", metadata="x")
        ),
        "list_participants": t.lk.room.list_participants(api.ListParticipantsRequest(room=room)),
        "delete_room": t.lk.room.delete_room(api.DeleteRoomRequest(room=room)),
        "list_dispatch": t.lk.agent_dispatch.list_dispatch(room),
    }
    results = await asyncio.gather(*(answer(call) for call in calls.values()))
    return dict(zip(calls, results, strict=True))


async def permission_replaces(t: Target) -> Observation:
    """UpdateParticipant's permission replaces the old one: unset flags become false."""
    room = room_name("perm")
    await t.join(room, "alice")
    try:
        before = await t.lk.room.get_participant(
            api.RoomParticipantIdentity(room=room, identity="alice")
        )
        only = proto_models.ParticipantPermission(can_subscribe=True)
        req = api.UpdateParticipantRequest(room=room, identity="alice", permission=only)
        after = await t.lk.room.update_participant(req)
        return {
            "joined": permission_flags(before.permission),
            "after_update": permission_flags(after.permission),
        }
    finally:
        await t.leave(room, "alice")
        await _cleanup(t, room)


async def room_webhooks(t: Target) -> Observation:
    """The webhooks of a room's life, attributes changed on the way (sent or not)."""
    room = room_name("hooks")
    await t.lk.room.create_room(api.CreateRoomRequest(name=room))
    await t.join(room, "alice")
    await asyncio.sleep(0.5)
    req = api.UpdateParticipantRequest(room=room, identity="alice", attributes={"x": "1"})
    await t.lk.room.update_participant(req)
    await asyncio.sleep(1.0)
    await t.leave(room, "alice")
    await asyncio.sleep(0.5)
    await _cleanup(t, room)
    await asyncio.sleep(1.5)
    return {"events": sorted(set(t.webhooks.for_room(room)))}


async def unsubscribe(t: Target) -> Observation:
    """UpdateSubscriptions on a published track answers ok (the effect is the SFU's)."""
    room = room_name("subs")
    await t.join(room, "alice")
    await t.join(room, "bob")
    try:
        await asyncio.sleep(0.5)
        bob = await t.lk.room.get_participant(
            api.RoomParticipantIdentity(room=room, identity="bob")
        )
        tracks = [tr.sid for tr in bob.tracks]
        req = api.UpdateSubscriptionsRequest(
            room=room, identity="alice", track_sids=tracks, subscribe=False
        )
        out = await answer(t.lk.room.update_subscriptions(req))
        return {"bob_tracks": len(tracks), "unsubscribe": out}
    finally:
        await t.leave(room, "alice")
        await t.leave(room, "bob")
        await _cleanup(t, room)


# -- AgentDispatchService and trunks -------------------------------------------------


async def create_dispatch(t: Target) -> Observation:
    """CreateDispatch into a room that exists, then ListDispatch."""
    room = room_name("dispatch")
    await t.lk.room.create_room(api.CreateRoomRequest(name=room))
    try:
        req = api.CreateAgentDispatchRequest(agent_name="probe-agent", room=room, metadata="{}")
        made = await t.lk.agent_dispatch.create_dispatch(req)
        listed = await t.lk.agent_dispatch.list_dispatch(room)
        return {
            "agent_name": made.agent_name,
            "metadata": made.metadata,
            "room": made.room == room,
            "listed": len(listed),
        }
    finally:
        await _cleanup(t, room)


async def trunk_validation(t: Target) -> Observation:
    """CreateSIPOutboundTrunk without an address, and without a number."""
    no_address = api.SIPOutboundTrunkInfo(name="probe", numbers=["+15105550000"])
    no_numbers = api.SIPOutboundTrunkInfo(name="probe", address="127.0.0.1:5060")
    return {
        "no_address": await answer(
            t.lk.sip.create_outbound_trunk(api.CreateSIPOutboundTrunkRequest(trunk=no_address))
        ),
        "no_numbers": await answer(
            t.lk.sip.create_outbound_trunk(api.CreateSIPOutboundTrunkRequest(trunk=no_numbers))
        ),
    }
