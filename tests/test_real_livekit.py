"""Every outcome of CONTRACT.md on real livekit-server, livekit-sip and SIP phones.

The evidence is what the phones received (INVITE, CANCEL, BYE, REFER, from sipp's own
message logs), what livekit-server reports (rooms, participants, the SFU's
subscriptions) and what the WebRTC voice agent was told; the engine runs as
``python worker.py`` against the real stack through the contract's variables only.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from livekit import api

from tests.real_stack import (
    SUMMARY,
    RealEngine,
    open_real_engine,
    real_stack_or_skip,
    wait_for,
)
from warm_transfer.client import TransferHandle, start_transfer
from warm_transfer.models import DestinationGroup, Fallback, TransferOutcome, TransferRequest
from warm_transfer.realstack.phones import CALLER_NUMBER
from warm_transfer.realstack.sfu import subscribers
from warm_transfer.telephony import Call

pytestmark = [pytest.mark.real, pytest.mark.slow]

ACCEPTS, BUSY, RINGS, DECLINES, BAD_NUMBER = (
    "+15105550100",
    "+15105550101",
    "+15105550102",
    "+15105550103",
    "+15105550104",
)
REJECTS, UNAVAILABLE, SLOW_ACCEPT, TAKES_REFER, VOICEMAIL = (
    "+15105550106",
    "+15105550107",
    "+15105550108",
    "+15105550198",
    "+15105550199",
)


@pytest_asyncio.fixture(scope="module")
async def engine(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RealEngine]:
    real_stack_or_skip()
    async for running in open_real_engine(tmp_path_factory.mktemp("real")):
        yield running


async def caller_never_hears_human_before_accept(
    engine: RealEngine, call: Call, handle: TransferHandle
) -> bool:
    """Samples the SFU while the human is being briefed: the caller must not listen."""
    sampled = False
    for _ in range(200):
        status = await handle.status()
        if status.stage in ("bridging", "done"):
            break
        if status.stage == "briefing" and status.participant_identity:
            heard = await subscribers(engine.livekit.network.lk_ip, call.room_name)
            after = await handle.status()
            # Only a sample taken wholly inside the briefing counts: the accept may
            # have come, and the bridge opened the call, between two looks. The brief
            # is under way once the briefing agent (a LiveKit Agents job) is in the room.
            briefer_in = any(identity.startswith("agent-") for identity in heard)
            if (
                briefer_in
                and after.stage == "briefing"
                and after.participant_identity == status.participant_identity
            ):
                assert call.caller_identity not in heard.get(status.participant_identity, set())
                sampled = True
        await asyncio.sleep(0.1)
    return sampled


async def run(
    engine: RealEngine,
    numbers: list[str],
    fallback: Fallback | None = None,
    *,
    ring_s: float = 10,
    hang_up_after_s: float | None = None,
) -> tuple[TransferOutcome, Call, bool]:
    call = await engine.call(hang_up_after_s=hang_up_after_s)
    handle: TransferHandle = await engine.transfer(call, numbers, fallback, ring_s=ring_s)
    sampled = await caller_never_hears_human_before_accept(engine, call, handle)
    return await asyncio.wait_for(handle.outcome(), 120), call, sampled


@pytest.mark.timeout(300)
async def test_every_outcome_end_to_end(engine: RealEngine) -> None:
    before = engine.invites()
    stories = {
        "connected": run(engine, [ACCEPTS]),
        "busy_then_connected": run(engine, [BUSY, ACCEPTS]),
        "no_answer_then_voicemail": run(
            engine, [RINGS], Fallback(kind="voicemail", sip_call_to=VOICEMAIL), ring_s=4
        ),
        "bad_number": run(engine, [BAD_NUMBER]),
        "declines_then_cold_transfer": run(
            engine, [DECLINES, REJECTS], Fallback(kind="cold_transfer", sip_call_to=TAKES_REFER)
        ),
        "caller_hangs_up_ringing": run(engine, [RINGS], ring_s=30, hang_up_after_s=6),
        "returned_to_agent": run(engine, [UNAVAILABLE]),
    }
    results = dict(zip(stories, await asyncio.gather(*stories.values()), strict=True))
    outcome = {name: r[0] for name, r in results.items()}
    calls = {name: r[1] for name, r in results.items()}

    def tried(name: str) -> list[tuple[str, str, int | None]]:
        return [(a.sip_call_to, a.result, a.sip_status_code) for a in outcome[name].attempts]

    assert outcome["connected"].outcome == "connected"
    assert tried("connected") == [(ACCEPTS, "answered", None)]
    assert outcome["busy_then_connected"].outcome == "connected"
    assert tried("busy_then_connected") == [(BUSY, "busy", 486), (ACCEPTS, "answered", None)]
    # A ring timeout comes back from livekit-sip as `canceled`, with no SIP status.
    assert outcome["no_answer_then_voicemail"].outcome == "voicemail"
    assert tried("no_answer_then_voicemail") == [(RINGS, "no_answer", None)]
    assert outcome["bad_number"].outcome == "returned_to_agent"
    assert tried("bad_number") == [(BAD_NUMBER, "failed", 404)]
    assert outcome["declines_then_cold_transfer"].outcome == "cold_transferred"
    assert tried("declines_then_cold_transfer") == [
        (DECLINES, "declined", None),
        (REJECTS, "declined", 603),
    ]
    assert outcome["caller_hangs_up_ringing"].outcome == "caller_hung_up"
    assert outcome["returned_to_agent"].outcome == "returned_to_agent"
    assert tried("returned_to_agent") == [(UNAVAILABLE, "no_answer", 480)]
    # The SFU never forwarded a briefed human to the caller before the accept.
    assert results["connected"][2] and results["busy_then_connected"][2]

    state = await engine.telephony.end_state()
    assert not [room for room in state.rooms if room.endswith("-consult")]
    for name, call in calls.items():
        left = state.rooms.get(call.room_name, set())
        humans = {p for p in left if "-human-" in p}
        if outcome[name].outcome == "connected":
            # The caller with the human who accepted; the AI agent removed.
            assert left == {call.caller_identity, outcome[name].participant_identity}
            assert engine.telephony.agents[call.room_name].events()[-1] == "leave"
        else:
            assert humans == set()
    assert engine.telephony.agents[calls["returned_to_agent"].room_name].events() == [
        "hold_started",
        "hold_stopped",
    ]
    # The REFER reached the caller's phone.
    assert engine.livekit.phones[CALLER_NUMBER].read_log().count("REFER") >= 1

    # Nobody was rung twice: one INVITE per attempt, per phone.
    dialed = Counter(a.sip_call_to for o in outcome.values() for a in o.attempts)
    dialed[VOICEMAIL] += 1
    after = engine.invites()
    for number, count in dialed.items():
        assert after[number] - before[number] == count, number

    # The calls end as calls do; then every phone that was dialed saw its call end.
    for call in calls.values():
        try:
            await engine.livekit.lk.room.delete_room(api.DeleteRoomRequest(room=call.room_name))
        except api.TwirpError:
            pass  # closed already: everybody left

    async def all_ended() -> bool:
        return not (await engine.telephony.end_state()).unended

    try:
        await wait_for(all_ended, timeout=20)
    except TimeoutError:
        unended = (await engine.telephony.end_state()).unended
        raise AssertionError(f"calls never ended: {unended}") from None


@pytest.mark.timeout(240)
async def test_worker_killed_while_ringing_rings_nobody_twice(engine: RealEngine) -> None:
    before = engine.invites()[SLOW_ACCEPT]
    call = await engine.call()
    handle = await engine.transfer(call, [SLOW_ACCEPT], ring_s=20)

    async def ringing() -> bool:
        return engine.invites()[SLOW_ACCEPT] > before

    await wait_for(ringing)
    await engine.stack.kill_worker()
    await engine.stack.start_worker()
    outcome = await asyncio.wait_for(handle.outcome(), 120)
    assert outcome.outcome == "connected", outcome
    assert engine.invites()[SLOW_ACCEPT] - before == 1
    await engine.livekit.lk.room.delete_room(api.DeleteRoomRequest(room=call.room_name))


@pytest.mark.timeout(180)
async def test_a_ring_group_rings_three_phones_and_cancels_the_two_that_lost(
    engine: RealEngine,
) -> None:
    members = (RINGS, ACCEPTS, SLOW_ACCEPT)
    before = engine.invites()
    cancels = {n: engine.livekit.phones[n].read_log().count("CANCEL") for n in members}
    call = await engine.call()
    request = TransferRequest(
        room_name=call.room_name,
        caller_identity=call.caller_identity,
        agent_identity=call.agent_identity,
        destinations=[
            DestinationGroup(
                group=[engine.telephony.destination(n) for n in members], ring_timeout_s=20
            )
        ],
        summary=SUMMARY,
    )
    outcome = await asyncio.wait_for((await start_transfer(engine.client, request)).outcome(), 120)
    assert outcome.outcome == "connected", outcome
    [attempt] = outcome.attempts
    assert attempt.answered_by == 1  # +15105550100 answers after 0.6 s; the others ring on
    assert attempt.members is not None
    assert [m.outcome for m in attempt.members] == ["cancelled", "answered", "cancelled"]
    # The phones' own logs: every member rung exactly once, the two that lost cancelled.
    after = engine.invites()
    assert {n: after[n] - before[n] for n in members} == dict.fromkeys(members, 1)

    async def cancelled() -> bool:
        now = {n: engine.livekit.phones[n].read_log().count("CANCEL") for n in members}
        return now[RINGS] > cancels[RINGS] and now[SLOW_ACCEPT] > cancels[SLOW_ACCEPT]

    await wait_for(cancelled, timeout=20)
    assert engine.livekit.phones[ACCEPTS].read_log().count("CANCEL") == cancels[ACCEPTS]
    await engine.livekit.lk.room.delete_room(api.DeleteRoomRequest(room=call.room_name))
