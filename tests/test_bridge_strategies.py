"""Both bridge strategies, and `auto`, against the stand-in as LiveKit Cloud and as a
self-hosted livekit-server (no MoveParticipant): who can hear whom at every stage."""

from __future__ import annotations

import pytest
from temporalio.client import Client

from tests.e2e_helpers import Engine, engine, rooms_of
from tests.workflow_helpers import start, wait_for_stage
from warm_transfer.livekit_sim import Scenario, SimConfig, SimEvent
from warm_transfer.models import BridgeStrategy, Destination, Fallback, TransferRequest
from warm_transfer.sim_agents import briefer_identity

QUIET_HUMAN = "+15105550170"  # answers, then waits for the test to decide for them
BUSY = "+15105550101"
VOICEMAIL = "+15105550199"
SCENARIOS = {QUIET_HUMAN: Scenario(outcome="answer", ring_s=1.0, decision=None)}

MODES = [
    pytest.param(False, "move", "move", id="cloud-move"),
    pytest.param(False, "auto", "move", id="cloud-auto"),
    pytest.param(True, "same_room", "same_room", id="selfhosted-same_room"),
    pytest.param(True, "auto", "same_room", id="selfhosted-auto"),
    pytest.param(False, "same_room", "same_room", id="cloud-same_room"),
]


def sim_config(self_hosted: bool) -> SimConfig:
    return SimConfig(time_scale=0.2, self_hosted=self_hosted, scenarios=SCENARIOS)


def request(
    eng_call: object, bridge: BridgeStrategy, *numbers: str, fallback: Fallback | None = None
) -> TransferRequest:
    return TransferRequest(
        room_name=eng_call.room_name,  # type: ignore[attr-defined]
        caller_identity=eng_call.caller_identity,  # type: ignore[attr-defined]
        agent_identity=eng_call.agent_identity,  # type: ignore[attr-defined]
        destinations=[Destination(sip_call_to=n, ring_timeout_s=10) for n in numbers],
        summary="Wants to dispute a charge.",
        fallback=fallback or Fallback(),
        bridge=bridge,
    )


async def hears(eng: Engine, room: str, listener: str) -> set[str]:
    return set((await eng.lk.control.audibility(room)).get(listener, []))


@pytest.mark.parametrize(("self_hosted", "bridge", "used"), MODES)
async def test_nobody_hears_the_human_before_acceptance(
    client: Client, task_queue: str, self_hosted: bool, bridge: BridgeStrategy, used: str
) -> None:
    async with engine(client, task_queue, sim_config(self_hosted)) as eng:
        call = await eng.call()
        handle = await start(client, task_queue, request(call, bridge, QUIET_HUMAN))
        leg = (await wait_for_stage(handle, "dialing")).participant_identity
        assert leg is not None
        human_room = call.room_name if used == "same_room" else f"{handle.workflow_id}-consult"

        def answered(e: SimEvent) -> bool:
            return e["type"] == "call_status" and e.get("status") == "active"

        await eng.lk.control.wait_for_event(answered)
        # The moment the human picks up: nobody hears them, they hear nobody.
        assert leg not in await hears(eng, call.room_name, call.caller_identity)
        assert await hears(eng, human_room, leg) <= set()
        status = await wait_for_stage(handle, "briefing")
        assert status.bridge == used
        briefer = briefer_identity(leg)
        await eng.lk.control.wait_for_event(
            lambda e: e["type"] == "participant_joined" and e.get("participant_identity") == briefer
        )
        # During the brief: the caller still hears only the AI agent's hold audio, not
        # the briefing agent (whose voice is the human's alone), and the human hears
        # the briefing agent only.
        assert await hears(eng, call.room_name, call.caller_identity) == {call.agent_identity}
        assert await hears(eng, human_room, leg) == {briefer}
        assert briefer not in await hears(eng, call.room_name, call.agent_identity)
        assert leg not in await hears(eng, call.room_name, call.agent_identity)
        await handle.accepted(leg)
        outcome = await handle.outcome()
        audible = await eng.lk.control.audibility(call.room_name)
        state = await eng.lk.control.state()
    assert outcome.outcome == "connected"
    # Accepted for the human (not by their keypad): the briefing agent left all the same.
    assert audible == {call.caller_identity: [leg], leg: [call.caller_identity]}
    assert rooms_of(state) == {call.room_name: {call.caller_identity, leg}}
    people = state["rooms"][call.room_name]["participants"].values()
    assert all(p["unsubscribed"] == [] for p in people)


OUTCOMES = [
    pytest.param([BUSY], Fallback(kind="voicemail", sip_call_to=VOICEMAIL), "voicemail", id="vm"),
    pytest.param(
        [BUSY],
        Fallback(kind="cold_transfer", sip_call_to="+15105550100"),
        "cold_transferred",
        id="cold",
    ),
    pytest.param([QUIET_HUMAN], Fallback(), "returned_to_agent", id="declined-back-to-agent"),
    pytest.param([QUIET_HUMAN], Fallback(), "caller_hung_up", id="caller-hangs-up"),
]


@pytest.mark.parametrize(("self_hosted", "bridge", "used"), MODES[1:4])
@pytest.mark.parametrize(("numbers", "fallback", "expected"), OUTCOMES)
async def test_every_outcome_leaves_nothing_behind(
    client: Client,
    task_queue: str,
    self_hosted: bool,
    bridge: BridgeStrategy,
    used: str,
    numbers: list[str],
    fallback: Fallback,
    expected: str,
) -> None:
    async with engine(client, task_queue, sim_config(self_hosted)) as eng:
        call = await eng.call()
        handle = await start(client, task_queue, request(call, bridge, *numbers, fallback=fallback))
        if numbers == [QUIET_HUMAN]:
            leg = (await wait_for_stage(handle, "briefing")).participant_identity
            assert leg is not None
            if expected == "caller_hung_up":
                await eng.lk.control.remove_participant(call.room_name, call.caller_identity)
                await handle.caller_hung_up()
            else:
                await handle.declined(leg, "not my queue")
        outcome = await handle.outcome()
        assert (await handle.status()).bridge == used
        state = await eng.lk.control.state()
        audible = await eng.lk.control.audibility(call.room_name)
    assert outcome.outcome == expected
    rooms = rooms_of(state)
    assert set(rooms) <= {call.room_name}
    left = rooms.get(call.room_name, set())
    assert not any(p.endswith(("-human-1", "-human-2")) for p in left)
    for room in state["rooms"].values():
        assert all(p["unsubscribed"] == [] for p in room["participants"].values())
    if expected == "returned_to_agent":
        # Back to the AI agent: the caller and the agent hear each other again.
        assert left == {call.caller_identity, call.agent_identity}
        assert audible == {
            call.caller_identity: [call.agent_identity],
            call.agent_identity: [call.caller_identity],
        }
