"""A call that comes in: the caller phones the support line, LiveKit does the rest.

`dial_in` starts a `DialInPhone` calling `SUPPORT_LINE`; livekit-sip takes the INVITE,
the dispatch rule (`RealLiveKit.create_support_line`) puts the caller in a room of its
own and dispatches the voice agent worker there. The harness learns the room from the
caller's attributes (its INVITE's tag, mapped by the inbound trunk) and the agent's
identity from the room, and hands back the same `RealCall` a dialed-out caller gives.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Final

import structlog
from livekit import api

from warm_transfer.realstack.dialin import (
    CALL_TAG_ATTRIBUTE,
    CALL_TAG_HEADER,
    TRANSFER_PLAN_HEADER,
    DialIn,
    DialInPhone,
    TransferPlan,
)
from warm_transfer.realstack.netns import Network
from warm_transfer.realstack.people import DispatchedAgent, RealCall

log = structlog.get_logger(__name__)

ROOM_PREFIX: Final = "call_"  # the dispatch rule's rooms: call_<caller>_<random>
_POLL_S: Final = 0.1


async def dial_in(
    lk: api.LiveKitAPI,
    net: Network,
    workdir: Path,
    *,
    number: str,
    tone_hz: int,
    voice_agent_log: Path,
    plan: TransferPlan | None = None,
    ask_after_s: float = 7.0,
    hang_up_after_s: float | None = None,
    timeout: float = 30.0,
) -> tuple[RealCall, DialInPhone]:
    """Phones the support line from ``number``; returns once the call is up and the voice
    agent is in its room.

    Args:
        plan: what the voice agent's transfer tool dials; the caller then presses 0
            ``ask_after_s`` after the answer (and again 2.5 s later, in case the first
            press came before the agent listened). None: the caller asks for nothing.
        hang_up_after_s: the caller hangs up this long after the answer.

    Raises:
        TimeoutError: the call did not come up, or no voice agent joined, in time.
        RuntimeError: the phone gave up (its sipp error is in the message).
    """
    tag = uuid.uuid4().hex[:12]
    headers = [(CALL_TAG_HEADER, tag)]
    presses: tuple[tuple[int, str], ...] = ()
    if plan is not None:
        headers.append((TRANSFER_PLAN_HEADER, plan.header()))
        ask_ms = round(ask_after_s * 1000)
        presses = ((ask_ms, "0"), (ask_ms + 2500, "0"))
    hang_up_ms = None if hang_up_after_s is None else round(hang_up_after_s * 1000)
    call = DialIn(number, tone_hz, presses, hang_up_ms, tuple(headers))
    phone = DialInPhone(call, net, workdir)
    await phone.start()
    try:
        room, caller = await _caller_room(lk, phone, tag, timeout)
        agent_identity = await _agent_in(lk, room, timeout)
    except BaseException:
        await phone.stop()
        raise
    log.info("caller dialed in", room=room, caller=caller, agent=agent_identity)
    agent = DispatchedAgent(room, agent_identity, voice_agent_log)
    return RealCall(room, caller, agent_identity, agent), phone


async def _caller_room(
    lk: api.LiveKitAPI, phone: DialInPhone, tag: str, timeout: float
) -> tuple[str, str]:
    """The room and identity of the SIP participant whose INVITE carried ``tag``, once its
    call is answered (``sip.callStatus`` active)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not phone.running:
            raise RuntimeError(f"the dial-in phone gave up: {phone.failure()}")
        rooms = await lk.room.list_rooms(api.ListRoomsRequest())
        for room in rooms.rooms:
            if not room.name.startswith(ROOM_PREFIX):
                continue
            listed = await lk.room.list_participants(api.ListParticipantsRequest(room=room.name))
            for p in listed.participants:
                if p.attributes.get(CALL_TAG_ATTRIBUTE) != tag:
                    continue
                if p.attributes.get("sip.callStatus") == "active":
                    return room.name, p.identity
        await asyncio.sleep(_POLL_S)
    raise TimeoutError(f"the dial-in call did not come up in {timeout} s")


async def _agent_in(lk: api.LiveKitAPI, room: str, timeout: float) -> str:
    """The identity of the agent the dispatch rule put in ``room``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = await lk.room.list_participants(api.ListParticipantsRequest(room=room))
        for p in listed.participants:
            if p.kind == api.ParticipantInfo.Kind.AGENT:
                return p.identity
        await asyncio.sleep(_POLL_S)
    raise TimeoutError(f"no voice agent joined {room} in {timeout} s")
