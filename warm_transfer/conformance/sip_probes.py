"""The SIP probes: each dial outcome of the phone book, and TransferSIPParticipant.

A dial is watched while it runs: the participant is read every 50 ms, and every
change of (``sip.callStatus``, participant state, published tracks) is recorded, so
the column shows the leg's state before the answer and whether its track is
published by then, the order of its call statuses, and what the answer looks like for each way
a call can end.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from livekit import api
from livekit.protocol import models as proto_models

from warm_transfer.conformance.probes import (
    CALL_STATUS,
    TRANSFER_TO,
    Observation,
    answer,
    room_name,
)
from warm_transfer.conformance.targets import Target

POLL_S = 0.05
RING_TIMEOUT_S = 3


async def _watch(t: Target, room: str, identity: str, seen: list[list[Any]]) -> None:
    """Appends every change of the leg's (call status, state, tracks) until cancelled."""
    who = api.RoomParticipantIdentity(room=room, identity=identity)
    while True:
        try:
            p = await t.lk.room.get_participant(who)
            now = [
                p.attributes.get(CALL_STATUS, ""),
                proto_models.ParticipantInfo.State.Name(p.state),
                len(p.tracks),
            ]
        except api.ServerError as err:
            now = ["", err.code, 0]
        if not seen or seen[-1] != now:
            seen.append(now)
        await asyncio.sleep(POLL_S)


async def dial(t: Target, number: str, probe: str) -> Observation:
    """Dials ``number`` and waits for the answer, watching the leg as it goes."""
    room = room_name(probe)
    identity = "leg"
    await t.lk.room.create_room(api.CreateRoomRequest(name=room))
    seen: list[list[Any]] = []
    watcher = asyncio.create_task(_watch(t, room, identity, seen))
    req = api.CreateSIPParticipantRequest(
        sip_trunk_id=t.trunk(number),
        sip_call_to=number,
        room_name=room,
        participant_identity=identity,
        wait_until_answered=True,
    )
    req.ringing_timeout.FromSeconds(RING_TIMEOUT_S)
    try:
        out = await answer(t.lk.sip.create_sip_participant(req))
        out.pop("slow")
        await asyncio.sleep(0.5)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        with contextlib.suppress(api.ServerError):
            await t.lk.room.delete_room(api.DeleteRoomRequest(room=room))
    # "dialing" lasts from livekit-sip's room join to the phone's 180: with phones on
    # the next hop that is under one poll, so only what follows it is compared.
    order = [row[0] for row in seen if row[0] and row[0] != "dialing"]
    out["call_status_order"] = [s for i, s in enumerate(order) if i == 0 or order[i - 1] != s]
    if out.get("ok"):
        # What the engine's isolation relies on: the leg is in the room, with its track
        # published, before the phone answers.
        before = [row for row in seen if row[0] and row[0] != "active"]
        out["states_before_answer"] = sorted({row[1] for row in before})
        out["track_before_answer"] = any(row[2] > 0 for row in before)
    out["gone_after"] = bool(seen) and seen[-1][1] == "not_found"
    return out


def dial_probe(number: str, probe: str) -> Any:
    """A probe dialing the phone at ``number``."""

    async def run(t: Target) -> Observation:
        return await dial(t, number, probe)

    run.__doc__ = f"CreateSIPParticipant to {number}, waiting for the answer."
    return run


async def transfer(t: Target) -> Observation:
    """TransferSIPParticipant (REFER) of an answered leg, and of a WebRTC participant."""
    number = "+15105550198"
    room = room_name("refer")
    await t.lk.room.create_room(api.CreateRoomRequest(name=room))
    await t.join(room, "alice")
    try:
        req = api.CreateSIPParticipantRequest(
            sip_trunk_id=t.trunk(number),
            sip_call_to=number,
            room_name=room,
            participant_identity="leg",
            wait_until_answered=True,
        )
        await t.lk.sip.create_sip_participant(req)
        refer = api.TransferSIPParticipantRequest(
            room_name=room, participant_identity="leg", transfer_to=TRANSFER_TO
        )
        accepted = await answer(t.lk.sip.transfer_sip_participant(refer))
        accepted.pop("slow")
        await asyncio.sleep(1.0)
        left = await t.lk.room.list_participants(api.ListParticipantsRequest(room=room))
        not_sip = api.TransferSIPParticipantRequest(
            room_name=room, participant_identity="alice", transfer_to=TRANSFER_TO
        )
        refused = await answer(t.lk.sip.transfer_sip_participant(not_sip))
        refused.pop("slow")
        return {
            "accepted": accepted,
            "leg_after": "leg" in {p.identity for p in left.participants},
            "not_a_sip_participant": refused,
        }
    finally:
        await t.leave(room, "alice")
        with contextlib.suppress(api.ServerError):
            await t.lk.room.delete_room(api.DeleteRoomRequest(room=room))
