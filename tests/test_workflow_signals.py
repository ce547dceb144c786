"""Caller hang-ups, stale and duplicate signals, cancellation, operator updates, bad input."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio.client import Client, WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError, CancelledError

from tests.fakes import FakeLiveKit
from tests.workflow_helpers import (
    HUMAN_A,
    HUMAN_B,
    VOICEMAIL,
    accept,
    brief_and,
    decline,
    fake_worker,
    make_request,
    start,
    wait_for_stage,
    wait_until,
)
from warm_transfer.models import Destination, Fallback


async def test_caller_hangs_up_while_ringing(client: Client, task_queue: str) -> None:
    fake = FakeLiveKit(scripts={HUMAN_A: "ring_forever"})
    async with fake_worker(client, task_queue, fake):
        handle = await start(client, task_queue, make_request(HUMAN_A, HUMAN_B))
        status = await wait_for_stage(handle, "dialing")
        await handle.caller_hung_up()
        outcome = await handle.outcome()
    assert outcome.outcome == "caller_hung_up"
    assert [(a.result, a.reason) for a in outcome.attempts] == [("no_answer", "caller hung up")]
    assert [r.participant_identity for r in fake.requests("hang_up_leg")] == [
        status.participant_identity
    ]
    assert len(fake.requests("dial_human")) == 1  # HUMAN_B is never rung
    assert "delete_room" in fake.names()
    assert not {"stop_hold", "cold_transfer", "remove_agent"} & set(fake.names())


async def test_caller_hangs_up_while_briefing(client: Client, task_queue: str) -> None:
    fake = FakeLiveKit()
    async with fake_worker(client, task_queue, fake):
        handle = await start(client, task_queue, make_request(HUMAN_A))
        leg = await brief_and(handle, lambda h, _: h.caller_hung_up())
        outcome = await handle.outcome()
    assert outcome.outcome == "caller_hung_up"
    assert [r.participant_identity for r in fake.requests("hang_up_leg")] == [leg]
    assert "bridge_caller" not in fake.names()


async def test_caller_hangs_up_during_fallback(client: Client, task_queue: str) -> None:
    fake = FakeLiveKit(scripts={HUMAN_A: "busy", VOICEMAIL: "ring_forever"})
    fallback = Fallback(kind="voicemail", sip_call_to=VOICEMAIL)
    async with fake_worker(client, task_queue, fake):
        handle = await start(client, task_queue, make_request(HUMAN_A, fallback=fallback))
        await wait_for_stage(handle, "fallback")
        await fake_dialed(fake, VOICEMAIL)
        await handle.caller_hung_up()
        outcome = await handle.outcome()
    assert outcome.outcome == "caller_hung_up"
    voicemail_leg = fake.requests("dial_human")[-1].participant_identity
    assert voicemail_leg in [r.participant_identity for r in fake.requests("hang_up_leg")]
    assert "stop_hold" not in fake.names()


async def fake_dialed(fake: FakeLiveKit, number: str) -> None:
    while number not in [r.sip_call_to for r in fake.requests("dial_human")]:
        await asyncio.sleep(0.02)


async def test_caller_gone_before_hold_dials_nobody(client: Client, task_queue: str) -> None:
    fake = FakeLiveKit(caller_present=False)
    async with fake_worker(client, task_queue, fake):
        handle = await start(client, task_queue, make_request(HUMAN_A))
        outcome = await handle.outcome()
    assert outcome.outcome == "caller_hung_up"
    assert "dial_human" not in fake.names()


async def test_stale_duplicate_and_unknown_signals_are_ignored(
    client: Client, task_queue: str
) -> None:
    fake = FakeLiveKit()
    async with fake_worker(client, task_queue, fake):
        handle = await start(client, task_queue, make_request(HUMAN_A, HUMAN_B))
        first = await brief_and(handle, decline, destination_index=0)
        second = (await wait_for_stage(handle, "briefing", 1)).participant_identity
        assert second is not None and second != first
        # A late accept from the first leg, and signals naming nobody we dialed.
        await handle.accepted(first)
        await handle.answered("someone-else")
        await handle.declined("someone-else", "not me")
        await asyncio.sleep(0.3)
        assert (await handle.status()).stage == "briefing"
        # The same accept twice, then a contradicting decline: one bridge, first wins.
        await handle.accepted(second)
        await handle.accepted(second)
        await handle.declined(second, "changed my mind")
        outcome = await handle.outcome()
    assert outcome.outcome == "connected"
    assert outcome.participant_identity == second
    assert len(fake.requests("bridge_caller")) == 1


async def test_accept_before_answer_is_honoured_once(client: Client, task_queue: str) -> None:
    fake = FakeLiveKit(scripts={HUMAN_A: "ring_forever"})
    async with fake_worker(client, task_queue, fake):
        handle = await start(client, task_queue, make_request(HUMAN_A))
        leg = (await wait_for_stage(handle, "dialing")).participant_identity
        assert leg is not None
        await handle.accepted(leg)  # out of order: no human_answered first
        await handle.answered(leg)
        outcome = await handle.outcome()
    assert outcome.outcome == "connected"
    assert len(fake.requests("bridge_caller")) == 1


async def test_cancelled_workflow_cleans_up(client: Client, task_queue: str) -> None:
    fake = FakeLiveKit(scripts={HUMAN_A: "ring_forever"})
    async with fake_worker(client, task_queue, fake):
        handle = await start(client, task_queue, make_request(HUMAN_A))
        status = await wait_for_stage(handle, "dialing")
        await fake.dial_started.wait()
        await handle.handle.cancel()
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.outcome()
    assert isinstance(failure.value.cause, CancelledError)
    assert [r.participant_identity for r in fake.requests("hang_up_leg")] == [
        status.participant_identity
    ]
    # The caller goes back to the AI agent rather than staying on hold.
    assert {"delete_room", "stop_hold"} <= set(fake.names())


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"caller_identity": "c", "agent_identity": "a", "destinations": []}, "room_name"),
        (
            {
                "room_name": "r",
                "caller_identity": "c",
                "agent_identity": "a",
                "destinations": [{"sip_call_to": "+15105550100@pbx"}],
            },
            "destinations[0].sip_call_to",
        ),
        (
            {
                "room_name": "r",
                "caller_identity": "c",
                "agent_identity": "a",
                "destinations": [{"sip_call_to": "2001"}],
                "fallback": {"kind": "carrier_pigeon"},
            },
            "fallback.kind",
        ),
        (
            {
                "room_name": "r",
                "caller_identity": "c",
                "agent_identity": "a",
                "destinations": [{"sip_call_to": "2001"}],
                "accept_timeout_s": -5,
            },
            "accept_timeout_s",
        ),
        (
            {
                "room_name": "r",
                "caller_identity": "c",
                "agent_identity": "a",
                "destinations": [{"sip_call_to": "2001"}],
                "colour": "blue",
            },
            "colour: unknown field",
        ),
        ("not an object", "(input)"),
    ],
)
async def test_bad_input_fails_at_once_naming_the_field(
    client: Client, task_queue: str, payload: object, field: str
) -> None:
    fake = FakeLiveKit()
    async with fake_worker(client, task_queue, fake):
        with pytest.raises(WorkflowFailureError) as failure:
            await client.execute_workflow(
                "WarmTransferWorkflow", payload, id=f"bad-{uuid.uuid4()}", task_queue=task_queue
            )
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "InvalidTransferRequest" and cause.non_retryable
    assert field in cause.message
    assert fake.calls == []


async def test_operator_cancel_runs_the_fallback(client: Client, task_queue: str) -> None:
    fake = FakeLiveKit(scripts={HUMAN_A: "ring_forever"})
    fallback = Fallback(kind="voicemail", sip_call_to=VOICEMAIL)
    async with fake_worker(client, task_queue, fake):
        handle = await start(client, task_queue, make_request(HUMAN_A, HUMAN_B, fallback=fallback))
        await wait_for_stage(handle, "dialing")
        status = await handle.cancel_transfer("supervisor takes over")
        assert status.stage in ("fallback", "done")
        outcome = await handle.outcome()
    assert outcome.outcome == "voicemail"
    assert outcome.reason == "cancelled by operator: supervisor takes over"
    assert [r.sip_call_to for r in fake.requests("dial_human")] == [HUMAN_A, VOICEMAIL]


async def test_operator_skips_and_adds_destinations(client: Client, task_queue: str) -> None:
    fake = FakeLiveKit(scripts={HUMAN_A: "ring_forever"})
    async with fake_worker(client, task_queue, fake):
        handle = await start(client, task_queue, make_request(HUMAN_A))
        await wait_for_stage(handle, "dialing")
        added = await handle.add_destination(Destination(sip_call_to=HUMAN_B, sip_trunk_id="T"))
        assert added.destinations_total == 2
        skipped = await handle.skip_destination("not picking up")
        assert skipped.destination_index != 0
        await brief_and(handle, accept, destination_index=1)
        outcome = await handle.outcome()
    assert outcome.outcome == "connected"
    assert outcome.destination == HUMAN_B
    assert (outcome.attempts[0].result, outcome.attempts[0].reason) == (
        "no_answer",
        "not picking up",
    )


async def test_operator_updates_refused_when_senseless(client: Client, task_queue: str) -> None:
    fake = FakeLiveKit(scripts={HUMAN_A: "busy", VOICEMAIL: "ring_forever"})
    fallback = Fallback(kind="voicemail", sip_call_to=VOICEMAIL)
    async with fake_worker(client, task_queue, fake):
        handle = await start(client, task_queue, make_request(HUMAN_A, fallback=fallback))
        await wait_until(handle, lambda s: s.stage == "fallback")
        for update in (
            handle.skip_destination(),
            handle.cancel_transfer("too late"),
            handle.add_destination(Destination(sip_call_to=HUMAN_B)),
        ):
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await update
            assert "while the transfer is 'fallback'" in str(refused.value.cause)
        await handle.caller_hung_up()
        assert (await handle.outcome()).outcome == "caller_hung_up"


async def test_transfer_deadline_ends_in_fallback(client: Client, task_queue: str) -> None:
    fake = FakeLiveKit(scripts={HUMAN_A: "ring_forever"})
    fallback = Fallback(kind="voicemail", sip_call_to=VOICEMAIL)
    async with fake_worker(client, task_queue, fake):
        request = make_request(HUMAN_A, HUMAN_B, max_transfer_s=1.5, fallback=fallback)
        handle = await start(client, task_queue, request)
        outcome = await handle.outcome()
    # The deadline stops the hunt, not the fallback it leads to.
    assert outcome.outcome == "voicemail"
    assert outcome.reason == "the transfer deadline (max_transfer_s) passed"
    assert [r.sip_call_to for r in fake.requests("dial_human")] == [HUMAN_A, VOICEMAIL]


async def test_ring_timer_backstops_a_dial_that_never_returns(
    client: Client, task_queue: str
) -> None:
    # LiveKit normally ends an unanswered leg itself (408 after ringing_timeout); this
    # dial hangs, so only the dial's schedule-to-close window can move the hunt on.
    fake = FakeLiveKit(scripts={HUMAN_A: "ring_forever"})
    async with fake_worker(client, task_queue, fake):
        handle = await start(client, task_queue, make_request(HUMAN_A, HUMAN_B, ring_timeout_s=1))
        await brief_and(handle, accept, destination_index=1)
        outcome = await handle.outcome()
    assert [(a.result, a.reason) for a in outcome.attempts] == [
        ("no_answer", "ring timeout: LiveKit never reported the call's end"),
        ("answered", None),
    ]
    assert (
        fake.requests("hang_up_leg")[0].participant_identity
        == outcome.attempts[0].participant_identity
    )
