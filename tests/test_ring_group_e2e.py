"""Ring groups end to end: the real activities and `livekit-api` client against the
stand-in, judged by what the phones received (the stand-in's SIP requests: one INVITE
per leg, CANCEL to a phone that rang, BYE to one that had picked up) and by what is
left in LiveKit, for both bridge strategies."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from temporalio.client import Client

from tests.e2e_helpers import Engine, dials_per_identity, engine, rooms_of
from tests.workflow_helpers import start, wait_until
from warm_transfer.livekit_sim import CallRecord, Scenario, SimConfig, SimEvent
from warm_transfer.models import Destination, DestinationGroup, TransferRequest
from warm_transfer.sim_agents import SimulatedCall

ANSWERS = "+15550142001"  # answers after 1 s, accepts 1 s into the brief
RINGS = ("+15550142002", "+15550142003")  # ring until the ring timeout
ON_CUE = ("+15550142011", "+15550142012", "+15550142013")  # ring until the test answers
SCENARIOS = {
    ANSWERS: Scenario(outcome="answer", ring_s=1, decision="accept", decide_after_s=1),
    **{n: Scenario(outcome="no_answer") for n in RINGS},
    **{n: Scenario(outcome="answer", ring_s=1000, decision="accept") for n in ON_CUE},
}


def config(self_hosted: bool = False) -> SimConfig:
    return SimConfig(time_scale=0.05, self_hosted=self_hosted, scenarios=SCENARIOS)


def group_request(call: SimulatedCall, *numbers: str, ring_timeout_s: float) -> TransferRequest:
    return TransferRequest(
        room_name=call.room_name,
        caller_identity=call.caller_identity,
        agent_identity=call.agent_identity,
        destinations=[
            DestinationGroup(
                group=[Destination(sip_call_to=n) for n in numbers], ring_timeout_s=ring_timeout_s
            )
        ],
        summary="Caller disputes a $42 charge on the May invoice.",
    )


def moved_humans(calls: list[CallRecord]) -> list[str]:
    """Whom MoveParticipant moved, in order (not the bridge probe's made-up identity)."""
    moved = [
        str((c["request"] or {}).get("identity")) for c in calls if c["method"] == "MoveParticipant"
    ]
    return [identity for identity in moved if "-human-" in identity]


def sip_requests(events: list[SimEvent]) -> dict[str, list[str]]:
    """The SIP requests each leg's phone received, in order."""
    got: dict[str, list[str]] = {}
    for e in events:
        if e["type"] == "sip_request":
            got.setdefault(e.get("participant_identity", ""), []).append(e.get("method", ""))
    return got


async def ringing(eng: Engine, legs: list[str]) -> None:
    """Waits until every one of ``legs`` rings."""
    seen: set[str] = set()
    async with asyncio.timeout(15):
        while not set(legs) <= seen:
            events = await eng.lk.control.events()
            seen = {
                e.get("participant_identity", "")
                for e in events
                if e["type"] == "call_status" and e.get("status") == "ringing"
            }
            await asyncio.sleep(0.02)


@pytest.mark.parametrize("self_hosted", [False, True], ids=["move", "same_room"])
async def test_three_phones_ring_one_answers_the_other_two_get_cancel(
    client: Client, task_queue: str, self_hosted: bool
) -> None:
    async with engine(client, task_queue, config(self_hosted)) as eng:
        call = await eng.call()
        request = group_request(call, ANSWERS, *RINGS, ring_timeout_s=100)
        handle = await start(client, task_queue, request)
        outcome = await handle.outcome()
        await asyncio.sleep(0.1)
        state, calls = await eng.lk.control.state(), await eng.lk.control.calls()
        events = await eng.lk.control.events()
        hears = await eng.lk.control.audibility(call.room_name)
    winner, *others = (f"{handle.workflow_id}-human-1-{m}" for m in (1, 2, 3))
    assert outcome.outcome == "connected" and outcome.participant_identity == winner
    assert outcome.attempts[0].members is not None
    assert [m.outcome for m in outcome.attempts[0].members] == [
        "answered",
        "cancelled",
        "cancelled",
    ]
    # Every phone got exactly one INVITE; the two that rang on got a CANCEL, nothing else.
    assert sip_requests(events) == {winner: ["INVITE"], **{o: ["INVITE", "CANCEL"] for o in others}}
    assert dials_per_identity(calls) == dict.fromkeys([winner, *others], 1)
    dialed = Counter(
        str(c["request"]["sip_call_to"])
        for c in calls
        if c["method"] == "CreateSIPParticipant" and c["request"]
    )
    assert dialed == Counter([ANSWERS, *RINGS])
    briefs = [c for c in calls if c["method"] == "CreateDispatch" and c["request"]]
    assert len(briefs) == 1 and winner in str(briefs[0]["request"])
    assert rooms_of(state) == {call.room_name: {call.caller_identity, winner}}
    assert set(hears[call.caller_identity]) == {winner}
    assert moved_humans(calls) == ([] if self_hosted else [winner])


async def test_two_phones_answering_at_once_bridge_one_and_the_other_gets_bye(
    client: Client, task_queue: str
) -> None:
    async with engine(client, task_queue, config()) as eng:
        call = await eng.call()
        handle = await start(client, task_queue, group_request(call, *ON_CUE, ring_timeout_s=200))
        legs = [f"{handle.workflow_id}-human-1-{m}" for m in (1, 2, 3)]
        await ringing(eng, legs)
        consult = f"{handle.workflow_id}-consult"
        assert await eng.lk.control.answer(consult, legs[0], legs[1]) == legs[:2]
        outcome = await handle.outcome()
        await asyncio.sleep(0.1)
        state, calls = await eng.lk.control.state(), await eng.lk.control.calls()
        events = await eng.lk.control.events()
    assert outcome.outcome == "connected"
    winner = outcome.participant_identity
    assert winner in legs[:2]
    [loser] = [leg for leg in legs[:2] if leg != winner]
    assert sip_requests(events) == {
        winner: ["INVITE"],
        loser: ["INVITE", "BYE"],
        legs[2]: ["INVITE", "CANCEL"],
    }
    assert outcome.attempts[0].members is not None
    by_leg = {m.participant_identity: m.outcome for m in outcome.attempts[0].members}
    assert by_leg[winner] == "answered" and by_leg[legs[2]] == "cancelled"
    assert by_leg[loser] in ("answered_late", "cancelled")  # its answer may be cut short
    briefs = [c for c in calls if c["method"] == "CreateDispatch" and c["request"]]
    assert len(briefs) == 1 and winner in str(briefs[0]["request"])
    assert moved_humans(calls) == [winner]
    assert rooms_of(state) == {call.room_name: {call.caller_identity, winner}}


async def test_the_caller_hanging_up_with_three_phones_ringing_cancels_all_three(
    client: Client, task_queue: str
) -> None:
    async with engine(client, task_queue, config()) as eng:
        call = await eng.call()
        handle = await start(client, task_queue, group_request(call, *ON_CUE, ring_timeout_s=200))
        legs = [f"{handle.workflow_id}-human-1-{m}" for m in (1, 2, 3)]
        await ringing(eng, legs)
        status = await wait_until(handle, lambda s: s.group is not None and s.group.ringing == 3)
        await eng.lk.control.remove_participant(call.room_name, call.caller_identity)
        await handle.caller_hung_up()
        outcome = await handle.outcome()
        await asyncio.sleep(0.1)
        state, events = await eng.lk.control.state(), await eng.lk.control.events()
    assert status.stage == "dialing"
    assert outcome.outcome == "caller_hung_up"
    assert sip_requests(events) == {leg: ["INVITE", "CANCEL"] for leg in legs}
    assert all(not set(legs) & people for people in rooms_of(state).values())
    assert set(rooms_of(state)) <= {call.room_name}
