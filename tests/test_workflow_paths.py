"""Every path of the transfer state machine, on the real dev server, with fake LiveKit.

These tests are about the workflow's decisions (which destination next, which
fallback, what gets cleaned up), so LiveKit is a scripted fake registered under the
real activity names; the end-to-end tests run the same paths through the stand-in.
"""

from __future__ import annotations

from temporalio.client import Client

from tests.fakes import FakeLiveKit
from tests.workflow_helpers import (
    HUMAN_A,
    HUMAN_B,
    HUMAN_C,
    VOICEMAIL,
    accept,
    brief_and,
    decline,
    fake_worker,
    make_request,
    start,
)
from warm_transfer.models import Fallback


async def test_answered_and_accepted_connects(client: Client, task_queue: str) -> None:
    fake = FakeLiveKit()
    async with fake_worker(client, task_queue, fake):
        handle = await start(client, task_queue, make_request(HUMAN_A))
        leg = await brief_and(handle, accept)
        outcome = await handle.outcome()
    assert outcome.outcome == "connected"
    assert outcome.destination == HUMAN_A
    assert outcome.participant_identity == leg
    assert [a.result for a in outcome.attempts] == ["answered"]
    # Clean-up right after the bridge; the AI agent's exit (with its goodbye) last.
    assert fake.names()[-3:] == ["bridge_caller", "delete_room", "remove_agent"]
    # The connected human stays on the call: the engine never hangs that leg up.
    assert fake.requests("hang_up_leg") == []
    bridge = fake.requests("bridge_caller")[0]
    assert (bridge.human_identity, bridge.caller_room) == (leg, outcome_room(fake))


def outcome_room(fake: FakeLiveKit) -> str:
    return str(fake.requests("start_hold")[0].room_name)


async def test_busy_then_answered(client: Client, task_queue: str) -> None:
    fake = FakeLiveKit(scripts={HUMAN_A: "busy"})
    async with fake_worker(client, task_queue, fake):
        handle = await start(client, task_queue, make_request(HUMAN_A, HUMAN_B))
        await brief_and(handle, accept, destination_index=1)
        outcome = await handle.outcome()
    assert outcome.outcome == "connected"
    assert outcome.destination == HUMAN_B
    assert [(a.sip_call_to, a.result, a.sip_status_code) for a in outcome.attempts] == [
        (HUMAN_A, "busy", 486),
        (HUMAN_B, "answered", None),
    ]
    busy_leg = outcome.attempts[0].participant_identity
    assert [r.participant_identity for r in fake.requests("hang_up_leg")] == [busy_leg]


async def test_declined_moves_to_next_destination(client: Client, task_queue: str) -> None:
    fake = FakeLiveKit()
    async with fake_worker(client, task_queue, fake):
        handle = await start(client, task_queue, make_request(HUMAN_A, HUMAN_B))
        declined_leg = await brief_and(handle, decline, destination_index=0)
        await brief_and(handle, accept, destination_index=1)
        outcome = await handle.outcome()
    assert outcome.outcome == "connected"
    assert [(a.result, a.reason) for a in outcome.attempts] == [
        ("declined", "in a meeting"),
        ("answered", None),
    ]
    assert [r.participant_identity for r in fake.requests("hang_up_leg")] == [declined_leg]
    assert len(fake.requests("brief_human")) == 2


async def test_all_no_answer_then_voicemail(client: Client, task_queue: str) -> None:
    fake = FakeLiveKit(scripts={HUMAN_A: "no_answer", HUMAN_B: "busy"})
    fallback = Fallback(kind="voicemail", sip_call_to=VOICEMAIL)
    async with fake_worker(client, task_queue, fake):
        handle = await start(client, task_queue, make_request(HUMAN_A, HUMAN_B, fallback=fallback))
        outcome = await handle.outcome()
    assert outcome.outcome == "voicemail"
    assert outcome.destination == VOICEMAIL
    assert [a.result for a in outcome.attempts] == ["no_answer", "busy"]
    voicemail_dial = fake.requests("dial_human")[-1]
    assert (voicemail_dial.role, voicemail_dial.room_name) == ("voicemail", outcome_room(fake))
    assert "remove_agent" in fake.names()
    assert "stop_hold" not in fake.names()
    # Both human legs hung up, the voicemail leg kept for the caller's message.
    assert len(fake.requests("hang_up_leg")) == 2


async def test_all_no_answer_then_cold_transfer(client: Client, task_queue: str) -> None:
    fake = FakeLiveKit(scripts={HUMAN_A: "no_answer"})
    fallback = Fallback(kind="cold_transfer", sip_call_to="+15105550188")
    async with fake_worker(client, task_queue, fake):
        handle = await start(client, task_queue, make_request(HUMAN_A, fallback=fallback))
        outcome = await handle.outcome()
    assert outcome.outcome == "cold_transferred"
    assert outcome.destination == "tel:+15105550188"
    assert fake.requests("cold_transfer")[0].transfer_to == "tel:+15105550188"
    assert fake.names()[-1] in ("remove_agent", "delete_room")


async def test_all_no_answer_then_back_to_agent(client: Client, task_queue: str) -> None:
    fake = FakeLiveKit(scripts={HUMAN_A: "no_answer", HUMAN_B: "failed"})
    async with fake_worker(client, task_queue, fake):
        handle = await start(client, task_queue, make_request(HUMAN_A, HUMAN_B))
        outcome = await handle.outcome()
    assert outcome.outcome == "returned_to_agent"
    assert outcome.reason == "no destination took the call"
    assert [a.result for a in outcome.attempts] == ["no_answer", "failed"]
    assert fake.names()[-1] == "stop_hold"
    assert "remove_agent" not in fake.names()


async def test_caller_gone_when_taken_off_hold_hung_up(client: Client, task_queue: str) -> None:
    # The call died with no hang-up reaching the engine (livekit-sip crashed with it):
    # the outcome says so instead of claiming the caller is back with the AI agent.
    fake = FakeLiveKit(scripts={HUMAN_A: "no_answer"}, caller_present_off_hold=False)
    async with fake_worker(client, task_queue, fake):
        handle = await start(client, task_queue, make_request(HUMAN_A))
        outcome = await handle.outcome()
    assert outcome.outcome == "caller_hung_up"
    assert outcome.reason == "no destination took the call"
    assert "stop_hold" in fake.names()


async def test_refused_cold_transfer_returns_caller_to_agent(
    client: Client, task_queue: str
) -> None:
    fake = FakeLiveKit(scripts={HUMAN_A: "busy"}, cold_transfer_ok=False)
    fallback = Fallback(kind="cold_transfer", sip_call_to="sip:desk@pbx.example.com")
    async with fake_worker(client, task_queue, fake):
        handle = await start(client, task_queue, make_request(HUMAN_A, fallback=fallback))
        outcome = await handle.outcome()
    assert outcome.outcome == "returned_to_agent"
    assert outcome.fallback_error == "cold transfer refused: busy"
    assert fake.names()[-1] == "stop_hold"


async def test_failed_voicemail_returns_caller_to_agent(client: Client, task_queue: str) -> None:
    fake = FakeLiveKit(scripts={HUMAN_A: "busy", VOICEMAIL: "busy"})
    fallback = Fallback(kind="voicemail", sip_call_to=VOICEMAIL)
    async with fake_worker(client, task_queue, fake):
        handle = await start(client, task_queue, make_request(HUMAN_A, fallback=fallback))
        outcome = await handle.outcome()
    assert outcome.outcome == "returned_to_agent"
    assert outcome.fallback_error is not None and "voicemail" in outcome.fallback_error
    voicemail_leg = fake.requests("dial_human")[-1].participant_identity
    assert voicemail_leg in [r.participant_identity for r in fake.requests("hang_up_leg")]


async def test_bridge_failure_tries_next_destination(client: Client, task_queue: str) -> None:
    fake = FakeLiveKit(bridge_fails=True)
    async with fake_worker(client, task_queue, fake):
        handle = await start(client, task_queue, make_request(HUMAN_A, HUMAN_B, HUMAN_C))
        for index in range(3):
            await brief_and(handle, accept, destination_index=index)
        outcome = await handle.outcome()
    assert outcome.outcome == "returned_to_agent"
    assert [a.result for a in outcome.attempts] == ["failed"] * 3
    assert all("bridge failed" in (a.reason or "") for a in outcome.attempts)
