"""Figure 3: the same LiveKit calls from a plain asyncio script, no durability.

This is the seed thread's approach (``../shared/seed``): call `livekit-api` directly
from the voice agent's process. It makes the engine's calls in the engine's order
(hold and consultation room together, look before dialing, dial and wait for the
answer, dispatch the briefing agent; on accept, look, then move the human into the
caller's room; the agent leaves; the room goes), so engine/direct isolates what
Temporal adds. The accept is an in-process event here: its gap is the LiveKit calls
alone, the floor any design pays.
"""

from __future__ import annotations

import asyncio
import json
import time

from google.protobuf.duration_pb2 import Duration
from livekit import api

from bench.config import HOLDS, BenchConfig
from bench.harness import Rig
from bench.latency import LatencySamples, by_identity, call_seq
from warm_transfer.livekit_sim import DEV_API_KEY, DEV_API_SECRET
from warm_transfer.sim_agents import SimulatedCall
from warm_transfer.stack import SIM_TRUNK
from warm_transfer.wire import DATA_TOPIC


async def _find(lk: api.LiveKitAPI, room: str, identity: str) -> bool:
    try:
        await lk.room.get_participant(api.RoomParticipantIdentity(room=room, identity=identity))
    except api.ServerError as err:
        if err.code == api.ServerErrorCode.NOT_FOUND:
            return False
        raise
    return True


async def _notify(lk: api.LiveKitAPI, call: SimulatedCall, event: str) -> None:
    await lk.room.send_data(
        api.SendDataRequest(
            room=call.room_name,
            data=json.dumps({"event": event}).encode(),
            kind=api.DataPacket.Kind.RELIABLE,
            destination_identities=[call.agent_identity],
            topic=DATA_TOPIC,
        )
    )


async def _hold(lk: api.LiveKitAPI, call: SimulatedCall) -> None:
    await lk.room.update_participant(
        api.UpdateParticipantRequest(
            room=call.room_name,
            identity=call.caller_identity,
            attributes={"warm_transfer.state": "on_hold"},
        )
    )
    await _notify(lk, call, "hold_started")


async def one_transfer(lk: api.LiveKitAPI, call: SimulatedCall, settle_s: float) -> float:
    """Runs one warm transfer with direct calls; returns the wall clock of the accept."""
    consult, leg = f"{call.room_name}-consult", f"{call.room_name}-human-1"
    await asyncio.gather(
        _hold(lk, call),
        lk.room.create_room(api.CreateRoomRequest(name=consult, empty_timeout=300)),
    )
    if not await _find(lk, consult, leg):
        await lk.sip.create_sip_participant(
            api.CreateSIPParticipantRequest(
                sip_trunk_id=SIM_TRUNK,
                sip_call_to=HOLDS,
                room_name=consult,
                participant_identity=leg,
                participant_name="Human agent",
                ringing_timeout=Duration(seconds=30),
                wait_until_answered=True,
            )
        )
    await lk.agent_dispatch.list_dispatch(consult)
    await lk.agent_dispatch.create_dispatch(
        api.CreateAgentDispatchRequest(
            agent_name="warm-transfer-briefer",
            room=consult,
            metadata=json.dumps({"human_identity": leg, "caller_room": call.room_name}),
        )
    )
    await asyncio.sleep(settle_s)  # the human listens to the brief, then presses 1
    accepted_at = time.time()
    if not await _find(lk, call.room_name, leg):
        await lk.room.move_participant(
            api.MoveParticipantRequest(room=consult, identity=leg, destination_room=call.room_name)
        )
    await _notify(lk, call, "leave")
    await lk.room.remove_participant(
        api.RoomParticipantIdentity(room=call.room_name, identity=call.agent_identity)
    )
    await lk.room.delete_room(api.DeleteRoomRequest(room=consult))
    return accepted_at


async def direct_latency(rig: Rig, cfg: BenchConfig) -> LatencySamples:
    """Runs ``cfg.direct_samples`` direct transfers one after another and times them."""
    lk = api.LiveKitAPI(rig.stack.sim_url, DEV_API_KEY, DEV_API_SECRET, failover=False)
    seq0 = await call_seq(rig.control)
    runs: list[tuple[str, float, float]] = []
    try:
        for _ in range(cfg.direct_samples):
            call = await rig.call("direct")
            started_at = time.time()
            accepted_at = await one_transfer(lk, call, cfg.settle_s)
            runs.append((f"{call.room_name}-human-1", started_at, accepted_at))
    finally:
        await lk.aclose()
    dials = by_identity(
        await rig.control.calls(seq0, method="CreateSIPParticipant"), "participant_identity"
    )
    moves = by_identity(await rig.control.calls(seq0, method="MoveParticipant"), "identity")
    result = LatencySamples()
    for leg, started_at, accepted_at in runs:
        dial, move = dials.get(leg), moves.get(leg)
        if dial is None or move is None or move["end"] is None:
            result.not_connected += 1
            continue
        result.time_to_dial_s.append(dial["start"] - started_at)
        result.handoff_gap_s.append(move["end"] - accepted_at)
    return result
