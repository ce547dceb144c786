"""Signals that arrive twice, late, out of order, malformed, misnamed or before the start.

Complements test_workflow_signals.py (a late accept, a double accept, an accept before
the answer): here a duplicate decline, stale signals while the next human rings or is
briefed, payloads no model accepts, and signals that arrive before the workflow runs.
None may cause a second bridge, skip a destination, or fail a workflow task.
"""

from __future__ import annotations

import uuid

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from tests.e2e_helpers import engine
from tests.fakes import FakeLiveKit
from tests.workflow_helpers import (
    HUMAN_A,
    HUMAN_B,
    HUMAN_C,
    accept,
    brief_and,
    decline,
    fake_worker,
    make_request,
    start,
    wait_for_stage,
)
from warm_transfer.client import TransferHandle, TransferStarter
from warm_transfer.models import Destination, HumanAccepted, TransferRequest


async def failed_workflow_tasks(handle: TransferHandle) -> int:
    """Workflow tasks that failed: a signal the workflow could not digest shows here."""
    history = await handle.handle.fetch_history()
    failed = EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
    return sum(1 for e in history.events if e.event_type == failed)


async def test_a_duplicate_decline_gives_up_one_destination_only(
    client: Client, task_queue: str
) -> None:
    fake = FakeLiveKit()
    async with fake_worker(client, task_queue, fake):
        handle = await start(client, task_queue, make_request(HUMAN_A, HUMAN_B, HUMAN_C))
        first = await brief_and(handle, decline, destination_index=0)
        await handle.declined(first, "in a meeting")  # the same decline, again
        await brief_and(handle, accept, destination_index=1)
        outcome = await handle.outcome()
    assert outcome.outcome == "connected" and outcome.destination == HUMAN_B
    assert [a.result for a in outcome.attempts] == ["declined", "answered"]
    assert [r.sip_call_to for r in fake.requests("dial_human")] == [HUMAN_A, HUMAN_B]
    assert len(fake.requests("bridge_caller")) == 1


async def test_stale_signals_from_an_earlier_human_leave_the_next_one_alone(
    client: Client, task_queue: str
) -> None:
    fake = FakeLiveKit()
    async with fake_worker(client, task_queue, fake):
        handle = await start(client, task_queue, make_request(HUMAN_A, HUMAN_B))
        first = await brief_and(handle, decline, destination_index=0)
        second = (await wait_for_stage(handle, "briefing", 1)).participant_identity
        assert second is not None
        # Signals are handled in order: had any of these touched the second human,
        # the accept below would find that attempt already over.
        await handle.declined(first, "late decline")
        await handle.answered(first)
        await handle.accepted(first)
        await handle.accepted(second)
        outcome = await handle.outcome()
    assert outcome.outcome == "connected" and outcome.participant_identity == second
    assert [(a.result, a.reason) for a in outcome.attempts] == [
        ("declined", "in a meeting"),
        ("answered", None),
    ]
    assert [r.human_identity for r in fake.requests("bridge_caller")] == [second]


async def test_an_earlier_humans_answer_does_not_brief_a_phone_still_ringing(
    client: Client, task_queue: str
) -> None:
    fake = FakeLiveKit(scripts={HUMAN_B: "ring_forever"})
    async with fake_worker(client, task_queue, fake):
        handle = await start(client, task_queue, make_request(HUMAN_A, HUMAN_B))
        first = await brief_and(handle, decline, destination_index=0)
        await wait_for_stage(handle, "dialing", 1)
        await handle.answered(first)
        await handle.accepted(first)
        await handle.caller_hung_up()
        outcome = await handle.outcome()
    assert outcome.outcome == "caller_hung_up"
    assert [r.human_identity for r in fake.requests("brief_human")] == [first]
    assert fake.requests("bridge_caller") == []


async def test_malformed_and_misnamed_signals_are_dropped_not_fatal(
    client: Client, task_queue: str
) -> None:
    fake = FakeLiveKit()
    async with fake_worker(client, task_queue, fake):
        handle = await start(client, task_queue, make_request(HUMAN_A))
        leg = (await wait_for_stage(handle, "briefing", 0)).participant_identity
        assert leg is not None
        raw = handle.handle
        for payload in ({}, {"participant_identity": ""}, {"participant_identity": 42}, "x", [1]):
            await raw.signal("human_accepted", payload)
            await raw.signal("human_declined", payload)
        await raw.signal("human_declined", {"participant_identity": leg, "reason": "x" * 1001})
        await raw.signal("human_acepted", {"participant_identity": leg})  # a typo
        await raw.signal("caller_hung_up", "not an object")
        await handle.accepted(leg)
        outcome = await handle.outcome()
    assert outcome.outcome == "connected" and outcome.participant_identity == leg
    assert len(fake.requests("bridge_caller")) == 1
    assert await failed_workflow_tasks(handle) == 0


async def test_a_hang_up_sent_before_the_start_ends_it_with_nothing_done(
    client: Client, task_queue: str
) -> None:
    async with engine(client, task_queue) as eng:
        call = await eng.call()
        request = TransferRequest(
            room_name=call.room_name,
            caller_identity=call.caller_identity,
            agent_identity=call.agent_identity,
            destinations=[Destination(sip_call_to="+15105550100")],
        )
        # The voice agent's entry point (warm_transfer.client): the hang-up goes out as
        # signal-with-start because no start has come back yet.
        starter = TransferStarter(
            client, request, workflow_id=f"test-{uuid.uuid4()}", task_queue=task_queue
        )
        handle = await starter.caller_hung_up()
        outcome = await handle.outcome()
        assert await eng.lk.control.calls() == []
    assert outcome.outcome == "caller_hung_up" and outcome.attempts == []


async def test_an_accept_sent_before_the_start_bridges_nobody_early(
    client: Client, task_queue: str
) -> None:
    # The first leg's identity is predictable; an accept for it before it was even
    # dialed must not count once it is.
    fake = FakeLiveKit()
    request = make_request(HUMAN_A, HUMAN_B)
    async with fake_worker(client, task_queue, fake):
        starter = TransferStarter(
            client, request, workflow_id=f"test-{uuid.uuid4()}", task_queue=task_queue
        )
        early = HumanAccepted(participant_identity=f"{starter.workflow_id}-human-1")
        handle = await starter.signal("human_accepted", early)
        await brief_and(handle, decline, destination_index=0)
        await brief_and(handle, accept, destination_index=1)
        outcome = await handle.outcome()
    assert outcome.destination == HUMAN_B
    assert [a.result for a in outcome.attempts] == ["declined", "answered"]
