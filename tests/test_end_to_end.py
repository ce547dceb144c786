"""Every CONTRACT.md outcome through the real activities, the real `livekit-api` client
and the LiveKit stand-in, on the real dev server; then what is left in LiveKit."""

from __future__ import annotations

import asyncio

from temporalio.client import Client

from tests.e2e_helpers import dials_per_identity, engine, rooms_of
from tests.workflow_helpers import start, wait_for_stage
from warm_transfer.models import Destination, Fallback, TransferRequest

ANSWERS = "+15105550100"
BUSY = "+15105550101"
NO_ANSWER = "+15105550102"
DECLINES = "+15105550103"
BAD_NUMBER = "+15105550104"
VOICEMAIL = "+15105550199"


def request_for(call: object, *numbers: str, fallback: Fallback | None = None) -> TransferRequest:
    return TransferRequest(
        room_name=call.room_name,  # type: ignore[attr-defined]
        caller_identity=call.caller_identity,  # type: ignore[attr-defined]
        agent_identity=call.agent_identity,  # type: ignore[attr-defined]
        destinations=[Destination(sip_call_to=n, ring_timeout_s=20) for n in numbers],
        summary="Caller disputes a $42 charge on the May invoice.",
        fallback=fallback or Fallback(),
    )


async def test_connected_leaves_caller_and_human_together(client: Client, task_queue: str) -> None:
    async with engine(client, task_queue) as eng:
        call = await eng.call()
        handle = await start(client, task_queue, request_for(call, BUSY, ANSWERS))
        outcome = await handle.outcome()
        state = await eng.lk.control.state()
        calls = await eng.lk.control.calls()
        events = await eng.lk.control.events()
    assert outcome.outcome == "connected"
    assert outcome.destination == ANSWERS
    assert [a.result for a in outcome.attempts] == ["busy", "answered"]
    assert outcome.attempts[0].sip_status_code == 486
    human = outcome.participant_identity
    assert human is not None
    # One room: the caller and the human; the AI agent removed, the consult room gone.
    assert rooms_of(state) == {call.room_name: {call.caller_identity, human}}
    assert all(count == 1 for count in dials_per_identity(calls).values())
    agent_messages = [
        e["payload"]["event"]
        for e in events
        if e["type"] == "data_sent" and e.get("topic") == "warm-transfer"
    ]
    assert agent_messages == ["hold_started", "leave"]
    removed = [
        e
        for e in events
        if e["type"] == "participant_left" and e.get("participant_identity") == call.agent_identity
    ]
    assert removed and removed[0]["reason"] == "PARTICIPANT_REMOVED"


async def test_voicemail_after_everyone_refuses(client: Client, task_queue: str) -> None:
    async with engine(client, task_queue) as eng:
        call = await eng.call()
        fallback = Fallback(kind="voicemail", sip_call_to=VOICEMAIL)
        request = request_for(call, NO_ANSWER, DECLINES, BAD_NUMBER, fallback=fallback)
        outcome = await (await start(client, task_queue, request)).outcome()
        state = await eng.lk.control.state()
    assert outcome.outcome == "voicemail"
    assert [(a.result, a.sip_status_code) for a in outcome.attempts] == [
        ("no_answer", None),  # the ring timeout: livekit-sip reports no SIP status
        ("declined", None),
        ("failed", 404),
    ]
    in_room = rooms_of(state)
    assert set(in_room) == {call.room_name}
    assert call.caller_identity in in_room[call.room_name]
    assert call.agent_identity not in in_room[call.room_name]
    assert any(identity.endswith("-voicemail") for identity in in_room[call.room_name])


async def test_cold_transfer_after_busy(client: Client, task_queue: str) -> None:
    async with engine(client, task_queue) as eng:
        call = await eng.call()
        fallback = Fallback(kind="cold_transfer", sip_call_to=ANSWERS)
        outcome = await (
            await start(client, task_queue, request_for(call, BUSY, fallback=fallback))
        ).outcome()
        state = await eng.lk.control.state()
        events = await eng.lk.control.events()
    assert outcome.outcome == "cold_transferred"
    assert outcome.destination == f"tel:{ANSWERS}"
    assert any(
        e["type"] == "transferred" and e.get("transfer_to") == f"tel:{ANSWERS}" for e in events
    )
    # The caller was REFERred away and the agent removed: nothing of the call is left.
    assert call.room_name not in rooms_of(state) or rooms_of(state)[call.room_name] == set()


async def test_returned_to_agent_takes_the_caller_off_hold(client: Client, task_queue: str) -> None:
    async with engine(client, task_queue) as eng:
        call = await eng.call()
        outcome = await (await start(client, task_queue, request_for(call, BUSY))).outcome()
        state = await eng.lk.control.state()
        events = await eng.lk.control.events()
    assert outcome.outcome == "returned_to_agent"
    assert rooms_of(state) == {call.room_name: {call.caller_identity, call.agent_identity}}
    agent_messages = [e["payload"]["event"] for e in events if e["type"] == "data_sent"]
    assert agent_messages == ["hold_started", "hold_stopped"]


async def test_caller_hangs_up_while_the_human_rings(client: Client, task_queue: str) -> None:
    async with engine(client, task_queue) as eng:
        call = await eng.call()
        handle = await start(client, task_queue, request_for(call, NO_ANSWER))
        status = await wait_for_stage(handle, "dialing")
        await eng.lk.control.wait_for_event(
            lambda e: e["type"] == "call_status" and e.get("status") == "ringing"
        )
        await eng.lk.control.remove_participant(call.room_name, call.caller_identity)
        await handle.caller_hung_up()  # what the voice agent or webhook bridge sends
        outcome = await handle.outcome()
        await asyncio.sleep(0.1)
        state = await eng.lk.control.state()
    assert outcome.outcome == "caller_hung_up"
    leg = status.participant_identity
    assert leg is not None
    assert all(leg not in people for people in rooms_of(state).values())
    assert set(rooms_of(state)) <= {call.room_name}
