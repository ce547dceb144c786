"""The direct script on the real stack: the seed's approach, no durability.

Self-hosted livekit-server has no MoveParticipant, so this is the engine's
``same_room`` sequence called straight from one process (as a voice agent would):
tell the agent to hold, dial the human into the caller's room and wait for the answer,
keep the caller off the human's track and the human deaf while it rings, dispatch a
briefing agent (a name no worker serves: the brief itself is not timed), accept
in-process ``SETTLE_S`` after the answer, then open the caller and the human to each
other and let the agent leave. The phone presses 1 too, but nobody listens for it.
"""

from __future__ import annotations

import asyncio
import json
import time

from google.protobuf.duration_pb2 import Duration
from livekit import api

from warm_transfer.realstack.telephony import RealTelephony
from warm_transfer.telephony import Call
from warm_transfer.wire import DATA_TOPIC

SETTLE_S = 3.0
NOBODY = "bench-direct-briefer"


async def _notify(lk: api.LiveKitAPI, call: Call, event: str) -> None:
    await lk.room.send_data(
        api.SendDataRequest(
            room=call.room_name,
            data=json.dumps({"event": event}).encode(),
            kind=api.DataPacket.Kind.RELIABLE,
            destination_identities=[call.agent_identity],
            topic=DATA_TOPIC,
        )
    )


def _tracks(p: api.ParticipantInfo) -> list[str]:
    return [t.sid for t in p.tracks]


async def _participant(lk: api.LiveKitAPI, room: str, identity: str) -> api.ParticipantInfo:
    return await lk.room.get_participant(api.RoomParticipantIdentity(room=room, identity=identity))


async def _subscribe(
    lk: api.LiveKitAPI, room: str, who: str, sids: list[str], subscribe: bool
) -> None:
    if sids:
        await lk.room.update_subscriptions(
            api.UpdateSubscriptionsRequest(
                room=room, identity=who, track_sids=sids, subscribe=subscribe
            )
        )


def _permission(hearing: bool) -> api.ParticipantPermission:
    return api.ParticipantPermission(
        can_publish=True, can_subscribe=hearing, can_publish_data=True, can_update_metadata=True
    )


async def _isolate(lk: api.LiveKitAPI, call: Call, leg: str) -> None:
    """Once the ringing leg's track is published: deaf, and nobody subscribed to it."""
    room = call.room_name
    while True:
        try:
            human = await _participant(lk, room, leg)
        except api.ServerError:
            human = None
        if human is not None and human.tracks:
            break
        await asyncio.sleep(0.01)
    await lk.room.update_participant(
        api.UpdateParticipantRequest(room=room, identity=leg, permission=_permission(False))
    )
    for who in (call.caller_identity, call.agent_identity):
        await _subscribe(lk, room, who, _tracks(human), subscribe=False)


async def direct_transfer(telephony: RealTelephony, call: Call, leg: str, number: str) -> float:
    """Runs one direct warm transfer; returns the wall clock of the accept."""
    lk, room = telephony.real.lk, call.room_name
    await lk.room.update_participant(
        api.UpdateParticipantRequest(
            room=room, identity=call.caller_identity, attributes={"warm_transfer.state": "on_hold"}
        )
    )
    await _notify(lk, call, "hold_started")
    isolating = asyncio.create_task(_isolate(lk, call, leg))
    await lk.sip.create_sip_participant(
        api.CreateSIPParticipantRequest(
            sip_trunk_id=telephony.real.phones[number].trunk_id,
            sip_call_to=number,
            room_name=room,
            participant_identity=leg,
            participant_name="Human agent",
            ringing_timeout=Duration(seconds=20),
            wait_until_answered=True,
        )
    )
    await isolating
    await lk.agent_dispatch.create_dispatch(
        api.CreateAgentDispatchRequest(
            agent_name=NOBODY, room=room, metadata=json.dumps({"human_identity": leg})
        )
    )
    await asyncio.sleep(SETTLE_S)  # the human listens to the brief, then presses 1
    accepted_at = time.time()
    human = await _participant(lk, room, leg)
    caller = await _participant(lk, room, call.caller_identity)
    await _subscribe(lk, room, call.caller_identity, _tracks(human), subscribe=True)
    await _subscribe(lk, room, leg, _tracks(caller), subscribe=True)
    await lk.room.update_participant(
        api.UpdateParticipantRequest(room=room, identity=leg, permission=_permission(True))
    )
    await _notify(lk, call, "leave")
    return accepted_at
