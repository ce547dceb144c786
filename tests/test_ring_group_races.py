"""Ring groups under every race: whatever the timing of answers and signals, one caller
gets exactly one human briefed and bridged, and every other phone is stopped.

Real dev server, real workflow, scripted LiveKit (tests.fakes). "At once" is made
exact: no workflow worker runs while the answers happen, so they reach the workflow in
one workflow task (checked in the history), as two answers in the same millisecond do.
"""

from __future__ import annotations

import asyncio
import json

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

from tests.fakes import FakeLiveKit
from tests.group_helpers import (
    MEMBER_A,
    MEMBER_B,
    MEMBER_C,
    TEAM,
    activity_worker,
    current_details,
    dials,
    group_of,
    history,
    hunt,
    in_one_workflow_task,
    members,
    of_type,
    workflow_worker,
)
from tests.workflow_helpers import accept, brief_and, fake_worker, start, wait_for_stage, wait_until
from warm_transfer.client import TransferHandle

CANCEL_REQUESTED = EventType.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED


def answered_dials(events: list[HistoryEvent]) -> list[tuple[int, str]]:
    """(event id, leg) of every dial that completed answered, in history order."""
    found = []
    for event in of_type(events, EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED):
        result = json.loads(event.activity_task_completed_event_attributes.result.payloads[0].data)
        if isinstance(result, dict) and result.get("result") == "answered":
            found.append((event.event_id, str(result["participant_identity"])))
    return found


async def until_in_history(handle: TransferHandle, kind: int, count: int) -> list[HistoryEvent]:
    """Waits until the run's history holds ``count`` events of ``kind``."""
    async with asyncio.timeout(15):
        while len(of_type(events := await history(handle), kind)) < count:
            await asyncio.sleep(0.05)
    return events


async def test_the_first_to_answer_is_briefed_and_the_other_phones_stop(
    client: Client, task_queue: str
) -> None:
    fake = FakeLiveKit(scripts={MEMBER_B: "ring_forever", MEMBER_C: "ring_forever"})
    opened = fake.gate(MEMBER_A)
    async with fake_worker(client, task_queue, fake):
        handle = await start(client, task_queue, hunt(group_of(*TEAM)))
        a, b, c = members(handle)
        ringing = await wait_until(handle, lambda s: s.group is not None and s.group.ringing == 3)
        ringing_words = await current_details(handle)
        opened.set()
        briefing = await wait_for_stage(handle, "briefing")
        briefing_words = await current_details(handle)
        await accept(handle, a)
        outcome = await handle.outcome()
    assert (ringing.stage, ringing.destination_index, ringing.participant_identity) == (
        "dialing",
        0,
        None,
    )
    assert ringing_words.startswith(f"Ringing 3 phones at once: {', '.join(TEAM)} (ring group")
    assert briefing.participant_identity == a and briefing.group is not None
    assert briefing.group.answered_by == 0 and briefing.group.ringing == 0
    assert briefing_words.startswith(f"Briefing {MEMBER_A}, who answered first of 3 phones")
    assert (outcome.outcome, outcome.destination, outcome.participant_identity) == (
        "connected",
        MEMBER_A,
        a,
    )
    [attempt] = outcome.attempts
    assert (attempt.result, attempt.answered_by, attempt.participant_identity) == ("answered", 0, a)
    assert attempt.members is not None
    assert [(m.participant_identity, m.outcome) for m in attempt.members] == [
        (a, "answered"),
        (b, "cancelled"),
        (c, "cancelled"),
    ]
    dialed = fake.requests("dial_human")
    assert sorted(d.participant_identity for d in dialed) == [a, b, c]  # each exactly once
    assert {d.participant_identity: d.headers for d in dialed}[b] == {"X-Member": "1"}
    assert {d.ring_timeout_s for d in dialed} == {20}
    assert [r.human_identity for r in fake.requests("brief_human")] == [a]
    assert [r.human_identity for r in fake.requests("bridge_caller")] == [a]
    assert sorted(r.participant_identity for r in fake.requests("hang_up_leg")) == [b, c]
    assert len(of_type(await history(handle), CANCEL_REQUESTED)) == 2


async def test_two_answers_in_one_workflow_task_brief_only_the_first(
    client: Client, task_queue: str
) -> None:
    fake = FakeLiveKit(scripts={MEMBER_C: "ring_forever"})
    both = fake.gate(MEMBER_A, MEMBER_B)
    async with activity_worker(client, task_queue, fake):
        async with workflow_worker(client, task_queue, fake):
            handle = await start(client, task_queue, hunt(group_of(*TEAM)))
            await dials(fake, 3)
        both.set()  # A and B pick up together, while no workflow task runs
        await until_in_history(handle, EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, 2)
        async with workflow_worker(client, task_queue, fake):
            briefing = await wait_for_stage(handle, "briefing")
            assert briefing.participant_identity is not None
            await accept(handle, briefing.participant_identity)
            outcome = await handle.outcome()
    events = await history(handle)
    (first_id, first), (second_id, second) = answered_dials(events)
    assert in_one_workflow_task(events, first_id, second_id)
    c = members(handle)[2]
    assert briefing.participant_identity == first  # the first answer in history wins
    assert outcome.outcome == "connected" and outcome.participant_identity == first
    [attempt] = outcome.attempts
    assert attempt.members is not None
    assert {m.participant_identity: m.outcome for m in attempt.members} == {
        first: "answered",
        second: "answered_late",
        c: "cancelled",
    }
    assert [r.human_identity for r in fake.requests("brief_human")] == [first]
    assert [r.human_identity for r in fake.requests("bridge_caller")] == [first]
    assert sorted(r.participant_identity for r in fake.requests("hang_up_leg")) == sorted(
        [second, c]
    )


async def test_two_answer_signals_at_once_brief_only_the_first(
    client: Client, task_queue: str
) -> None:
    fake = FakeLiveKit(scripts=dict.fromkeys(TEAM, "ring_forever"))
    async with activity_worker(client, task_queue, fake):
        async with workflow_worker(client, task_queue, fake):
            handle = await start(client, task_queue, hunt(group_of(*TEAM)))
            await dials(fake, 3)
        a, b, c = members(handle)
        await handle.answered(b)  # the webhook bridge saw B, then A, pick up
        await handle.answered(a)
        async with workflow_worker(client, task_queue, fake):
            briefing = await wait_for_stage(handle, "briefing")
            await accept(handle, b)
            outcome = await handle.outcome()
    signals = of_type(
        events := await history(handle), EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    )
    assert in_one_workflow_task(events, signals[0].event_id, signals[1].event_id)
    assert briefing.participant_identity == b
    assert outcome.outcome == "connected" and outcome.participant_identity == b
    [attempt] = outcome.attempts
    assert attempt.members is not None and attempt.answered_by == 1
    assert [m.outcome for m in attempt.members] == ["answered_late", "answered", "cancelled"]
    assert [r.human_identity for r in fake.requests("brief_human")] == [b]
    assert sorted(r.participant_identity for r in fake.requests("hang_up_leg")) == [a, c]


async def test_an_answer_after_the_winner_was_chosen_is_hung_up_never_briefed(
    client: Client, task_queue: str
) -> None:
    fake = FakeLiveKit(scripts={MEMBER_B: "ring_forever", MEMBER_C: "ring_forever"})
    fake.gate(MEMBER_A).set()
    async with fake_worker(client, task_queue, fake):
        handle = await start(client, task_queue, hunt(group_of(*TEAM)))
        a, b, c = members(handle)
        await wait_for_stage(handle, "briefing")
        await handle.answered(b)  # B picked up a moment too late...
        await handle.accepted(b)  # ...and even pressed 1: not the one briefed
        still = await handle.status()
        await accept(handle, a)
        outcome = await handle.outcome()
    assert (still.stage, still.participant_identity) == ("briefing", a)
    assert outcome.outcome == "connected" and outcome.participant_identity == a
    assert outcome.attempts[0].members is not None
    assert [m.outcome for m in outcome.attempts[0].members] == [
        "answered",
        "answered_late",
        "cancelled",
    ]
    assert [r.human_identity for r in fake.requests("brief_human")] == [a]
    assert [r.human_identity for r in fake.requests("bridge_caller")] == [a]
    assert sorted(r.participant_identity for r in fake.requests("hang_up_leg")) == [b, c]


async def test_a_winner_who_declines_hands_the_caller_to_the_next_entry(
    client: Client, task_queue: str
) -> None:
    other = "+15105550111"
    fake = FakeLiveKit(scripts={MEMBER_B: "ring_forever", MEMBER_C: "ring_forever"})
    async with fake_worker(client, task_queue, fake):
        handle = await start(client, task_queue, hunt(group_of(*TEAM), other))
        a, b, c = members(handle)
        await brief_and(handle, lambda h, leg: h.declined(leg, "in a meeting"), 0)
        await brief_and(handle, accept, 1)
        outcome = await handle.outcome()
    assert outcome.outcome == "connected" and outcome.destination == other
    group, single = outcome.attempts
    assert (group.result, group.reason, group.answered_by) == ("declined", "in a meeting", 0)
    assert group.members is not None
    assert [m.outcome for m in group.members] == ["answered", "cancelled", "cancelled"]
    assert single.participant_identity == f"{handle.workflow_id}-human-2"
    assert single.members is None and single.answered_by is None
    # Nobody of the group was rung again: one dial per person, the next entry's after.
    assert fake.dialed()[-1] == single.participant_identity
    assert sorted(fake.dialed()[:3]) == [a, b, c] and len(fake.dialed()) == 4
    assert [r.human_identity for r in fake.requests("brief_human")] == [
        a,
        single.participant_identity,
    ]


async def test_the_caller_hanging_up_with_three_phones_ringing_stops_them_all(
    client: Client, task_queue: str
) -> None:
    fake = FakeLiveKit(scripts=dict.fromkeys(TEAM, "ring_forever"))
    async with fake_worker(client, task_queue, fake):
        handle = await start(client, task_queue, hunt(group_of(*TEAM), "+15105550111"))
        await wait_until(handle, lambda s: s.group is not None and s.group.ringing == 3)
        await handle.caller_hung_up()
        outcome = await handle.outcome()
    assert outcome.outcome == "caller_hung_up"
    [attempt] = outcome.attempts
    assert (attempt.result, attempt.reason, attempt.answered_by) == (
        "no_answer",
        "caller hung up",
        None,
    )
    assert attempt.participant_identity == f"{handle.workflow_id}-human-1"  # the group's stem
    assert attempt.members is not None
    assert {(m.outcome, m.reason) for m in attempt.members} == {("cancelled", "caller hung up")}
    assert sorted(r.participant_identity for r in fake.requests("hang_up_leg")) == members(handle)
    assert len(fake.dialed()) == 3  # the next entry is never rung
    assert "brief_human" not in fake.names()
    assert len(of_type(await history(handle), CANCEL_REQUESTED)) == 3


async def test_an_accept_before_any_answer_makes_its_sender_the_one_bridged(
    client: Client, task_queue: str
) -> None:
    fake = FakeLiveKit(scripts=dict.fromkeys(TEAM, "ring_forever"))
    async with fake_worker(client, task_queue, fake):
        handle = await start(client, task_queue, hunt(group_of(*TEAM)))
        await dials(fake, 3)
        c = members(handle)[2]
        await handle.accepted(c)  # out of order: the accept outran every answer
        outcome = await handle.outcome()
    assert outcome.outcome == "connected" and outcome.participant_identity == c
    assert outcome.attempts[0].answered_by == 2
    assert "brief_human" not in fake.names()
    assert [r.human_identity for r in fake.requests("bridge_caller")] == [c]
