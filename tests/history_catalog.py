"""The runs whose histories make up the replay corpus: one per path of the workflow.

Leg identities derive from the workflow id, so each run uses a fixed one,
``replay-<name>``, which the replay test uses again.

`python -m tests.record_histories` runs each on a dev server and writes its history
to tests/histories/; tests/test_replay.py replays every file against the current
workflow code, so a change that would break a running transfer fails CI.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Final

from temporalio.client import Client

from tests.fakes import FakeLiveKit
from tests.group_helpers import MEMBER_A, MEMBER_B, MEMBER_C, TEAM, group_of, hunt, members
from tests.workflow_helpers import (
    HUMAN_A,
    HUMAN_B,
    VOICEMAIL,
    accept,
    brief_and,
    decline,
    make_request,
    start,
    wait_for_stage,
    wait_until,
)
from warm_transfer.client import TransferHandle
from warm_transfer.models import Destination, Fallback

Run = Callable[[Client, str, str], Awaitable[TransferHandle]]
CATALOG: dict[str, tuple[FakeLiveKit, Run]] = {}


def path(name: str, fake: FakeLiveKit) -> Callable[[Run], Run]:
    """Registers a run under ``name`` with the fake LiveKit it needs."""

    def register(run: Run) -> Run:
        CATALOG[name] = (fake, run)
        return run

    return register


@path("connected", FakeLiveKit())
async def _connected(client: Client, tq: str, wid: str) -> TransferHandle:
    handle = await start(client, tq, make_request(HUMAN_A), workflow_id=wid)
    await brief_and(handle, accept)
    return handle


@path("connected_same_room", FakeLiveKit(bridge="same_room"))
async def _same_room(client: Client, tq: str, wid: str) -> TransferHandle:
    handle = await start(client, tq, make_request(HUMAN_A, bridge="same_room"), workflow_id=wid)
    await brief_and(handle, accept)
    return handle


@path("busy_declined_then_connected", FakeLiveKit(scripts={HUMAN_A: "busy"}))
async def _busy_declined(client: Client, tq: str, wid: str) -> TransferHandle:
    handle = await start(
        client, tq, make_request(HUMAN_A, HUMAN_B, "+15105550133"), workflow_id=wid
    )
    await brief_and(handle, decline, destination_index=1)
    await brief_and(handle, accept, destination_index=2)
    return handle


@path("voicemail", FakeLiveKit(scripts={HUMAN_A: "no_answer"}))
async def _voicemail(client: Client, tq: str, wid: str) -> TransferHandle:
    fallback = Fallback(kind="voicemail", sip_call_to=VOICEMAIL)
    return await start(client, tq, make_request(HUMAN_A, fallback=fallback), workflow_id=wid)


@path("cold_transferred", FakeLiveKit(scripts={HUMAN_A: "failed"}))
async def _cold(client: Client, tq: str, wid: str) -> TransferHandle:
    fallback = Fallback(kind="cold_transfer", sip_call_to="+15105550188")
    return await start(client, tq, make_request(HUMAN_A, fallback=fallback), workflow_id=wid)


@path(
    "returned_to_agent_refused_refer",
    FakeLiveKit(scripts={HUMAN_A: "busy"}, cold_transfer_ok=False),
)
async def _refused(client: Client, tq: str, wid: str) -> TransferHandle:
    fallback = Fallback(kind="cold_transfer", sip_call_to="+15105550188")
    return await start(client, tq, make_request(HUMAN_A, fallback=fallback), workflow_id=wid)


@path(
    "caller_gone_off_hold",
    FakeLiveKit(scripts={HUMAN_A: "no_answer"}, caller_present_off_hold=False),
)
async def _gone_off_hold(client: Client, tq: str, wid: str) -> TransferHandle:
    return await start(client, tq, make_request(HUMAN_A), workflow_id=wid)


@path("caller_hung_up_ringing", FakeLiveKit(scripts={HUMAN_A: "ring_forever"}))
async def _hung_up(client: Client, tq: str, wid: str) -> TransferHandle:
    handle = await start(client, tq, make_request(HUMAN_A), workflow_id=wid)
    await wait_for_stage(handle, "dialing")
    await handle.caller_hung_up()
    return handle


@path("caller_hung_up_briefing_stale_signals", FakeLiveKit())
async def _briefing(client: Client, tq: str, wid: str) -> TransferHandle:
    handle = await start(client, tq, make_request(HUMAN_A, HUMAN_B), workflow_id=wid)
    first = await brief_and(handle, decline, destination_index=0)
    await wait_for_stage(handle, "briefing", 1)
    await handle.accepted(first)
    await handle.answered("nobody")
    await handle.caller_hung_up()
    await handle.caller_hung_up()
    return handle


@path(
    "operator_add_skip_cancel",
    FakeLiveKit(scripts={HUMAN_A: "ring_forever", HUMAN_B: "ring_forever"}),
)
async def _operator(client: Client, tq: str, wid: str) -> TransferHandle:
    handle = await start(client, tq, make_request(HUMAN_A), workflow_id=wid)
    await wait_for_stage(handle, "dialing")
    await handle.add_destination(Destination(sip_call_to=HUMAN_B))
    await handle.skip_destination("no pickup")
    await wait_for_stage(handle, "dialing", 1)
    await handle.cancel_transfer("supervisor takes it")
    return handle


@path("deadline", FakeLiveKit(scripts={HUMAN_A: "ring_forever"}))
async def _deadline(client: Client, tq: str, wid: str) -> TransferHandle:
    return await start(client, tq, make_request(HUMAN_A, max_transfer_s=1), workflow_id=wid)


@path("cancelled", FakeLiveKit(scripts={HUMAN_A: "ring_forever"}))
async def _cancelled(client: Client, tq: str, wid: str) -> TransferHandle:
    handle = await start(client, tq, make_request(HUMAN_A), workflow_id=wid)
    await wait_for_stage(handle, "dialing")
    await asyncio.sleep(0.2)
    await handle.handle.cancel()
    return handle


@path("caller_gone_before_hold", FakeLiveKit(caller_present=False))
async def _gone(client: Client, tq: str, wid: str) -> TransferHandle:
    return await start(client, tq, make_request(HUMAN_A), workflow_id=wid)


# -- ring groups (docs/ring-groups.md): every member rung at once ---------------------

_RINGS: Final = "ring_forever"


@path("group_connected", FakeLiveKit(scripts={MEMBER_B: _RINGS, MEMBER_C: _RINGS}))
async def _group_connected(client: Client, tq: str, wid: str) -> TransferHandle:
    handle = await start(client, tq, hunt(group_of(*TEAM)), workflow_id=wid)
    await brief_and(handle, accept)
    return handle


@path("group_two_answer_at_once", FakeLiveKit(scripts={MEMBER_C: _RINGS}))
async def _group_two_at_once(client: Client, tq: str, wid: str) -> TransferHandle:
    handle = await start(client, tq, hunt(group_of(*TEAM)), workflow_id=wid)
    await brief_and(handle, accept)
    return handle


@path("group_late_answer_signals", FakeLiveKit(scripts={MEMBER_B: _RINGS, MEMBER_C: _RINGS}))
async def _group_late(client: Client, tq: str, wid: str) -> TransferHandle:
    handle = await start(client, tq, hunt(group_of(*TEAM)), workflow_id=wid)
    a, b, _ = members(handle)
    await wait_for_stage(handle, "briefing")
    await handle.answered(b)
    await handle.accepted(b)
    await handle.accepted(a)
    return handle


@path("group_declined_then_next", FakeLiveKit(scripts={MEMBER_B: _RINGS, MEMBER_C: _RINGS}))
async def _group_declined(client: Client, tq: str, wid: str) -> TransferHandle:
    handle = await start(client, tq, hunt(group_of(*TEAM), HUMAN_B), workflow_id=wid)
    await brief_and(handle, decline, destination_index=0)
    await brief_and(handle, accept, destination_index=1)
    return handle


@path("group_caller_hung_up_ringing", FakeLiveKit(scripts=dict.fromkeys(TEAM, _RINGS)))
async def _group_hung_up(client: Client, tq: str, wid: str) -> TransferHandle:
    handle = await start(client, tq, hunt(group_of(*TEAM), HUMAN_B), workflow_id=wid)
    await wait_until(handle, lambda s: s.group is not None and s.group.ringing == 3)
    await handle.caller_hung_up()
    return handle


@path("group_accept_before_answer", FakeLiveKit(scripts=dict.fromkeys(TEAM, _RINGS)))
async def _group_early_accept(client: Client, tq: str, wid: str) -> TransferHandle:
    handle = await start(client, tq, hunt(group_of(*TEAM)), workflow_id=wid)
    await wait_until(handle, lambda s: s.group is not None and s.group.ringing == 3)
    await handle.accepted(members(handle)[2])
    return handle


@path(
    "group_skip_then_cancel",
    FakeLiveKit(scripts=dict.fromkeys((*TEAM, HUMAN_A, HUMAN_B), _RINGS)),
)
async def _group_operator(client: Client, tq: str, wid: str) -> TransferHandle:
    handle = await start(
        client, tq, hunt(group_of(*TEAM), group_of(HUMAN_A, HUMAN_B)), workflow_id=wid
    )
    await wait_until(handle, lambda s: s.group is not None and s.group.ringing == 3)
    await handle.skip_destination("team asleep")
    await wait_until(handle, lambda s: s.group is not None and s.group.destination_index == 1)
    await handle.cancel_transfer("supervisor takes it")
    return handle


@path(
    "group_nobody_answered_voicemail",
    FakeLiveKit(scripts={MEMBER_A: "busy", MEMBER_B: "no_answer", MEMBER_C: "failed"}),
)
async def _group_nobody(client: Client, tq: str, wid: str) -> TransferHandle:
    fallback = Fallback(kind="voicemail", sip_call_to=VOICEMAIL)
    return await start(client, tq, hunt(group_of(*TEAM), fallback=fallback), workflow_id=wid)


@path("group_same_room", FakeLiveKit(bridge="same_room", scripts={MEMBER_A: _RINGS}))
async def _group_same_room(client: Client, tq: str, wid: str) -> TransferHandle:
    request = hunt(group_of(*TEAM), bridge="same_room")
    handle = await start(client, tq, request, workflow_id=wid)
    await brief_and(handle, accept)
    return handle


@path("group_deadline", FakeLiveKit(scripts=dict.fromkeys(TEAM, _RINGS)))
async def _group_deadline(client: Client, tq: str, wid: str) -> TransferHandle:
    return await start(client, tq, hunt(group_of(*TEAM), max_transfer_s=1), workflow_id=wid)
