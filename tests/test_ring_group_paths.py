"""Ring groups on every path that is not a race: nobody answers, operators skip, cancel
and add groups, the deadline passes, the same-room bridge, a mixed hunt list.

Real dev server and workflow, scripted LiveKit (tests.fakes); the stand-in runs the
same paths end to end in tests/test_ring_group_e2e.py.
"""

from __future__ import annotations

import pytest
from temporalio.client import Client, WorkflowUpdateFailedError

from tests.fakes import FakeLiveKit
from tests.group_helpers import (
    MEMBER_A,
    MEMBER_B,
    MEMBER_C,
    TEAM,
    dials,
    group_of,
    hunt,
    members,
)
from tests.workflow_helpers import (
    HUMAN_B,
    accept,
    brief_and,
    fake_worker,
    start,
    wait_for_stage,
    wait_until,
)
from warm_transfer.models import Fallback, parse_transfer_request


async def test_a_group_nobody_answers_reports_every_member_then_the_hunt_goes_on(
    client: Client, task_queue: str
) -> None:
    fake = FakeLiveKit(scripts={MEMBER_A: "busy", MEMBER_B: "no_answer", MEMBER_C: "failed"})
    async with fake_worker(client, task_queue, fake):
        handle = await start(client, task_queue, hunt(group_of(*TEAM), HUMAN_B))
        await brief_and(handle, accept, 1)
        outcome = await handle.outcome()
    group, single = outcome.attempts
    assert (group.result, group.sip_status_code, group.answered_by) == ("no_answer", 480, None)
    assert group.reason == "no member answered: 1 busy, 1 failed, 1 no_answer"
    assert (group.sip_call_to, group.participant_identity) == (
        MEMBER_A,
        f"{handle.workflow_id}-human-1",
    )
    assert group.members is not None
    assert [(m.outcome, m.sip_status_code) for m in group.members] == [
        ("busy", 486),
        ("no_answer", 480),
        ("failed", None),
    ]
    assert outcome.outcome == "connected" and outcome.destination == HUMAN_B
    assert single.participant_identity == f"{handle.workflow_id}-human-2"
    assert sorted(r.participant_identity for r in fake.requests("hang_up_leg")) == members(handle)


async def test_skip_a_ringing_group_then_cancel_the_next(client: Client, task_queue: str) -> None:
    second = ("+15105550151", "+15105550152")
    fake = FakeLiveKit(scripts=dict.fromkeys((*TEAM, *second), "ring_forever"))
    async with fake_worker(client, task_queue, fake):
        handle = await start(client, task_queue, hunt(group_of(*TEAM), group_of(*second)))
        await wait_until(handle, lambda s: s.group is not None and s.group.ringing == 3)
        skipped = await handle.skip_destination("team asleep")
        await wait_until(handle, lambda s: s.group is not None and s.group.destination_index == 1)
        cancelled = await handle.cancel_transfer("supervisor takes it")
        outcome = await handle.outcome()
    assert [(a.result, a.reason) for a in skipped.attempts] == [("no_answer", "team asleep")]
    assert cancelled.stage in ("fallback", "done")
    first, other = outcome.attempts
    assert (first.result, first.reason) == ("no_answer", "team asleep")
    assert (other.result, other.reason) == (
        "no_answer",
        "cancelled by operator: supervisor takes it",
    )
    assert other.members is not None
    assert [m.participant_identity for m in other.members] == [
        f"{handle.workflow_id}-human-2-1",
        f"{handle.workflow_id}-human-2-2",
    ]
    assert outcome.outcome == "returned_to_agent"
    assert len(fake.dialed()) == 5  # three, then two: nobody twice
    assert len(fake.requests("hang_up_leg")) == 5
    assert fake.names()[-1] == "stop_hold"


async def test_an_operator_adds_a_group_to_the_hunt(client: Client, task_queue: str) -> None:
    fake = FakeLiveKit(scripts={HUMAN_B: "ring_forever", MEMBER_B: "ring_forever"})
    async with fake_worker(client, task_queue, fake):
        handle = await start(client, task_queue, hunt(HUMAN_B))
        await wait_for_stage(handle, "dialing")
        added = await handle.add_destination(group_of(MEMBER_A, MEMBER_B))
        await handle.skip_destination("no pickup")
        leg = await brief_and(handle, accept, 1)
        outcome = await handle.outcome()
    assert added.destinations_total == 2
    assert leg == f"{handle.workflow_id}-human-2-1"
    assert outcome.outcome == "connected" and outcome.destination == MEMBER_A
    assert outcome.attempts[1].answered_by == 0


async def test_the_deadline_passing_while_a_group_rings_runs_the_fallback(
    client: Client, task_queue: str
) -> None:
    fake = FakeLiveKit(scripts=dict.fromkeys(TEAM, "ring_forever"))
    fallback = Fallback(kind="voicemail", sip_call_to="+15105550199")
    async with fake_worker(client, task_queue, fake):
        request = hunt(group_of(*TEAM), fallback=fallback, max_transfer_s=1)
        outcome = await (await start(client, task_queue, request)).outcome()
    assert outcome.outcome == "voicemail"
    [attempt] = outcome.attempts
    assert (attempt.result, attempt.reason) == (
        "no_answer",
        "the transfer deadline (max_transfer_s) passed",
    )


async def test_same_room_rings_every_member_isolated_in_the_callers_room(
    client: Client, task_queue: str
) -> None:
    fake = FakeLiveKit(bridge="same_room", scripts={MEMBER_A: "ring_forever"})
    async with fake_worker(client, task_queue, fake):
        request = hunt(group_of(*TEAM), bridge="same_room")
        handle = await start(client, task_queue, request)
        await dials(fake, 3)
        leg = await brief_and(handle, accept)
        outcome = await handle.outcome()
    assert outcome.outcome == "connected"
    assert {(d.room_name, d.isolate) for d in fake.requests("dial_human")} == {
        (request.room_name, True)
    }
    [brief] = fake.requests("brief_human")
    assert (brief.human_identity, brief.bridge) == (leg, "same_room")
    [bridge] = fake.requests("bridge_caller")
    assert (bridge.human_identity, bridge.human_room) == (leg, request.room_name)
    assert leg != members(handle)[0]  # A still rang when another member answered
    assert "delete_room" not in fake.names()


async def test_an_add_destination_group_is_validated_like_the_request(
    client: Client, task_queue: str
) -> None:
    fake = FakeLiveKit(scripts={HUMAN_B: "ring_forever"})
    async with fake_worker(client, task_queue, fake):
        handle = await start(client, task_queue, hunt(HUMAN_B))
        await wait_for_stage(handle, "dialing")
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.handle.execute_update(
                "add_destination",
                {"destination": {"group": [{"sip_call_to": MEMBER_A, "ring_timeout_s": 5}]}},
            )
        await handle.cancel_transfer("done testing")
        await handle.outcome()


def test_a_group_is_written_the_way_a_node_or_shell_caller_writes_it() -> None:
    request = parse_transfer_request(
        {
            "room_name": "call-8f3a",
            "caller_identity": "sip_+15105550123",
            "agent_identity": "voice-agent",
            "destinations": [
                {
                    "group": [
                        {"sip_call_to": "+15105550100", "sip_trunk_id": "ST_abc"},
                        {"sip_call_to": "2001", "sip_trunk_id": "ST_pbx", "dtmf": "1"},
                        {"sip_call_to": "+1 (510) 555-0102", "headers": {"X-Team": "tier2"}},
                    ],
                    "ring_timeout_s": 20,
                },
                {"sip_call_to": "+15105550111"},
            ],
        }
    )
    group = request.destinations[0]
    dumped = request.model_dump(mode="json")
    assert dumped["destinations"][0]["ring_timeout_s"] == 20
    assert "ring_timeout_s" not in dumped["destinations"][0]["group"][0]
    assert dumped["destinations"][1]["ring_timeout_s"] == 30  # a plain entry, as ever
    assert parse_transfer_request(dumped) == request
    assert [group.member(i).ring_timeout_s for i in range(3)] == [20, 20, 20]  # type: ignore[union-attr]
    assert group.group[2].sip_call_to == "+15105550102"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"group": []}, "destinations[0].group: List should have at least 1 item"),
        ({"group": [{"sip_call_to": MEMBER_A}] * 11}, "destinations[0].group: List should have"),
        (
            {"group": [{"sip_call_to": MEMBER_A, "ring_timeout_s": 5}]},
            "destinations[0].group[0]: must not set ring_timeout_s",
        ),
        (
            {"group": [{"sip_call_to": MEMBER_A}, {"sip_call_to": "+1 510 555 0141"}]},
            "destinations[0].group: members 0 and 1 dial the same number",
        ),
        ({"group": [{"sip_call_to": "desk@pbx"}]}, "destinations[0].group[0].sip_call_to: "),
        ({"group": [{"sip_call_to": MEMBER_A}], "colour": 1}, "destinations[0].colour: unknown"),
        ({"group": [{"sip_call_to": MEMBER_A}], "ring_timeout_s": 0}, "destinations[0].ring_"),
        ({"group": "everyone"}, "destinations[0].group: Input should be a valid list"),
        (5, "destinations[0]: must be a destination object or a group"),
    ],
)
def test_a_bad_group_is_refused_naming_the_field(entry: object, field: str) -> None:
    data = {
        "room_name": "call-1",
        "caller_identity": "sip_+15105550123",
        "agent_identity": "voice-agent",
        "destinations": [entry],
    }
    with pytest.raises(ValueError) as refused:
        parse_transfer_request(data)
    assert str(refused.value).startswith(f"invalid TransferRequest: {field}"), str(refused.value)
    assert "\n" not in str(refused.value)
