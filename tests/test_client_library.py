"""The voice agents' client library on the real dev server: idempotent start, each
signal, status, outcome, and a ``caller_hung_up`` that arrives before the start."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from tests.fakes import FakeLiveKit
from tests.workflow_helpers import HUMAN_A, HUMAN_B, fake_worker, make_request, wait_for_stage
from warm_transfer.client import (
    TransferStarter,
    get_transfer,
    signal_with_start,
    start_transfer,
    transfer_workflow_id,
)
from warm_transfer.models import CallerHungUp, TransferRequest


def starter(client: Client, task_queue: str, request: TransferRequest) -> TransferStarter:
    return TransferStarter(
        client, request, workflow_id=f"test-{uuid.uuid4()}", task_queue=task_queue
    )


async def signal_names(client: Client, workflow_id: str) -> list[str]:
    """The signals in the history of the transfer's latest run, in order."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return [
        event.workflow_execution_signaled_event_attributes.signal_name
        for event in history.events
        if event.HasField("workflow_execution_signaled_event_attributes")
    ]


async def test_starting_twice_returns_the_same_run(client: Client, task_queue: str) -> None:
    fake = FakeLiveKit(scripts={HUMAN_A: "ring_forever"})
    request = make_request(HUMAN_A)
    wid = f"test-{uuid.uuid4()}"
    async with fake_worker(client, task_queue, fake):
        first = await start_transfer(client, request, workflow_id=wid, task_queue=task_queue)
        second = await start_transfer(client, request, workflow_id=wid, task_queue=task_queue)
        await wait_for_stage(first, "dialing")
        await second.caller_hung_up()
        outcome = await first.outcome()
    assert first.run_id is not None and first.run_id == second.run_id
    assert outcome.outcome == "caller_hung_up"
    assert len(fake.requests("dial_human")) == 1


async def test_default_workflow_id_is_one_per_caller_room() -> None:
    assert transfer_workflow_id("call-8f3a") == "warm-transfer-call-8f3a"


async def test_answered_accepted_status_and_outcome(client: Client, task_queue: str) -> None:
    fake = FakeLiveKit(scripts={HUMAN_A: "ring_forever"})
    async with fake_worker(client, task_queue, fake):
        handle = starter(client, task_queue, make_request(HUMAN_A))
        transfer = await handle.start()
        dialing = await wait_for_stage(transfer, "dialing")
        leg = dialing.participant_identity
        assert leg is not None and dialing.destination_index == 0
        # The webhook bridge's signal: the ringing phone was picked up.
        await transfer.answered(leg)
        briefing = await wait_for_stage(transfer, "briefing")
        await transfer.accepted(leg)
        outcome = await transfer.outcome()
        done = await transfer.status()  # a query needs a worker, even after the end
    assert briefing.participant_identity == leg
    assert outcome.outcome == "connected"
    assert outcome.destination == HUMAN_A
    assert outcome.participant_identity == leg
    assert (done.stage, done.outcome, done.participant_identity) == ("done", "connected", None)
    assert await signal_names(client, handle.workflow_id) == ["human_answered", "human_accepted"]


async def test_declined_moves_on_to_the_next_destination(client: Client, task_queue: str) -> None:
    fake = FakeLiveKit()
    async with fake_worker(client, task_queue, fake):
        transfer = await starter(client, task_queue, make_request(HUMAN_A, HUMAN_B)).start()
        first = await wait_for_stage(transfer, "briefing", destination_index=0)
        assert first.participant_identity is not None
        await transfer.declined(first.participant_identity, "in a meeting")
        second = await wait_for_stage(transfer, "briefing", destination_index=1)
        assert second.participant_identity is not None
        await transfer.accepted(second.participant_identity)
        outcome = await transfer.outcome()
    assert [(a.result, a.reason) for a in outcome.attempts] == [
        ("declined", "in a meeting"),
        ("answered", None),
    ]
    assert outcome.destination == HUMAN_B


async def test_a_plain_signal_before_the_start_is_lost(client: Client) -> None:
    """Why the starter exists: signalling a transfer that does not exist yet fails."""
    with pytest.raises(RPCError) as err:
        await get_transfer(client, f"test-{uuid.uuid4()}").caller_hung_up()
    assert err.value.status == RPCStatusCode.NOT_FOUND


async def test_caller_hung_up_before_the_start_is_not_lost(client: Client, task_queue: str) -> None:
    fake = FakeLiveKit()
    async with fake_worker(client, task_queue, fake):
        handle = starter(client, task_queue, make_request(HUMAN_A))
        hung_up = await handle.caller_hung_up()  # the caller left first
        started = await handle.start()  # the voice agent's start, arriving late
        outcome = await started.outcome()
    assert started.run_id == hung_up.run_id
    assert outcome.outcome == "caller_hung_up"
    assert outcome.reason == "caller left before the transfer"
    # Nothing was done in LiveKit: no hold, no dial, no room.
    assert fake.names() == []
    assert await signal_names(client, handle.workflow_id) == ["caller_hung_up"]


async def test_start_and_hang_up_racing_make_one_transfer(client: Client, task_queue: str) -> None:
    fake = FakeLiveKit(scripts={HUMAN_A: "ring_forever"})
    async with fake_worker(client, task_queue, fake):
        handle = starter(client, task_queue, make_request(HUMAN_A))
        started, hung_up = await asyncio.gather(handle.start(), handle.caller_hung_up())
        outcome = await started.outcome()
        runs = [
            run.run_id
            async for run in client.list_workflows(f"WorkflowId = '{handle.workflow_id}'")
        ]
    assert started.run_id == hung_up.run_id
    assert runs == [started.run_id]
    assert outcome.outcome == "caller_hung_up"
    assert "bridge_caller" not in fake.names()


async def test_a_signal_after_the_transfer_ended_is_dropped(
    client: Client, task_queue: str
) -> None:
    fake = FakeLiveKit(scripts={HUMAN_A: "busy"})
    async with fake_worker(client, task_queue, fake):
        handle = starter(client, task_queue, make_request(HUMAN_A))
        outcome = await (await handle.start()).outcome()
        # A late hang-up of a caller who went back to the AI agent: no new transfer.
        again = await handle.caller_hung_up()
    assert outcome.outcome == "returned_to_agent"
    assert again.run_id == (handle.handle.run_id if handle.handle else None)
    runs = [
        run.run_id async for run in client.list_workflows(f"WorkflowId = '{handle.workflow_id}'")
    ]
    assert len(runs) == 1


async def test_signal_with_start_signals_a_running_transfer(
    client: Client, task_queue: str
) -> None:
    fake = FakeLiveKit(scripts={HUMAN_A: "ring_forever"})
    request = make_request(HUMAN_A)
    wid = f"test-{uuid.uuid4()}"
    async with fake_worker(client, task_queue, fake):
        started = await start_transfer(client, request, workflow_id=wid, task_queue=task_queue)
        await wait_for_stage(started, "dialing")
        signalled = await signal_with_start(
            client,
            request,
            "caller_hung_up",
            CallerHungUp(),
            workflow_id=wid,
            task_queue=task_queue,
        )
        outcome = await started.outcome()
    assert signalled.run_id == started.run_id
    assert outcome.outcome == "caller_hung_up"
    assert [a.reason for a in outcome.attempts] == ["caller hung up"]
