"""What the workflow does with LiveKit's failures: retry with backoff within limits, or
give the destination up at once with the reason in the outcome.

In-process (real activities and `livekit-api` client, the stand-in, the dev server),
so a key without the SIP grant can be played: the stand-in checks grants the way
livekit-server does.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from livekit.api import AccessToken, LiveKitAPI, VideoGrants
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from activities.livekit import LiveKitActivities, LiveKitDefaults
from tests.e2e_helpers import dials_per_identity
from warm_transfer.client import TransferHandle, start_transfer
from warm_transfer.livekit_sim import SimConfig
from warm_transfer.livekit_sim.testing import SimHarness, sim_harness
from warm_transfer.models import Destination, Fallback, TransferRequest
from warm_transfer.sim_agents import SimulatedBriefingAgent, place_call, run_briefer
from worker import build_worker

ANSWERS = "+15105550100"
BAD_NUMBER = "+15105550104"
VOICEMAIL = "+15105550199"


@asynccontextmanager
async def worker_on(
    client: Client, task_queue: str, *, dial_token: str | None = None
) -> AsyncIterator[SimHarness]:
    """A worker with the real activities on a fresh stand-in, plus the briefing agent.

    Args:
        dial_token: a pre-signed token the client's SIP service sends instead of
            signing its own, i.e. an API key whose grants are those of the token.
    """
    async with sim_harness(SimConfig(time_scale=0.05)) as h:
        cfg = h.sim.config
        lk = LiveKitAPI(h.url, cfg.api_key, cfg.api_secret, failover=False)
        if dial_token is not None:
            lk.sip._token = dial_token  # livekit-api's own hook for pre-signed tokens
        defaults = LiveKitDefaults(
            sip_trunk_id="ST_sim", follow_poll_s=0.05, heartbeat_every_s=0.5, agent_goodbye_s=0
        )
        acts = LiveKitActivities(lk, defaults)
        try:
            async with build_worker(client, acts, task_queue):
                task = await run_briefer(SimulatedBriefingAgent(h.control, client))
                try:
                    yield h
                finally:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
        finally:
            await lk.aclose()


async def transfer(
    client: Client, task_queue: str, h: SimHarness, *numbers: str, fallback: Fallback | None = None
) -> TransferHandle:
    call = await place_call(h.control, f"call-{uuid.uuid4().hex[:8]}")
    request = TransferRequest(
        room_name=call.room_name,
        caller_identity=call.caller_identity,
        agent_identity=call.agent_identity,
        destinations=[Destination(sip_call_to=n, ring_timeout_s=20) for n in numbers],
        fallback=fallback or Fallback(),
    )
    return await start_transfer(
        client, request, workflow_id=f"test-{uuid.uuid4()}", task_queue=task_queue
    )


async def dial_attempts(handle: TransferHandle) -> list[int]:
    """The attempt number each dial activity completed on, from the history."""
    history = await handle.handle.fetch_history()
    dials = {
        e.event_id
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == "dial_human"
    }
    return [
        e.activity_task_started_event_attributes.attempt
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
        and e.activity_task_started_event_attributes.scheduled_event_id in dials
    ]


async def test_a_key_without_the_sip_grant_fails_fast_to_the_fallback(
    client: Client, task_queue: str
) -> None:
    cfg = SimConfig()
    no_sip = AccessToken(cfg.api_key, cfg.api_secret).with_grants(VideoGrants(room_list=True))
    async with worker_on(client, task_queue, dial_token=no_sip.to_jwt()) as h:
        voicemail = Fallback(kind="voicemail", sip_call_to=VOICEMAIL)
        handle = await transfer(client, task_queue, h, ANSWERS, BAD_NUMBER, fallback=voicemail)
        outcome = await asyncio.wait_for(handle.outcome(), 20)
        calls = await h.control.calls(method="CreateSIPParticipant")
    # Every dial refused once (permission_denied, 403), never retried; the voicemail
    # dial is refused too, so the caller goes back to the AI agent, saying why.
    assert outcome.outcome == "returned_to_agent"
    assert [a.result for a in outcome.attempts] == ["failed", "failed"]
    assert all("permission_denied" in (a.reason or "") for a in outcome.attempts)
    assert outcome.fallback_error is not None and "permission_denied" in outcome.fallback_error
    assert [c["status"] for c in calls] == [403, 403, 403]
    assert await dial_attempts(handle) == [1, 1, 1]


async def test_5xx_is_retried_with_growing_backoff_and_every_retry_is_bounded(
    client: Client, task_queue: str
) -> None:
    async with worker_on(client, task_queue) as h:
        await h.control.set_faults(fail_first_n=3, methods=["CreateSIPParticipant"])
        handle = await transfer(client, task_queue, h, ANSWERS)
        outcome = await asyncio.wait_for(handle.outcome(), 30)
        calls = await h.control.calls(method="CreateSIPParticipant")
    assert outcome.outcome == "connected"
    assert await dial_attempts(handle) == [4]
    assert dials_per_identity(calls) == {f"{handle.workflow_id}-human-1": 1}
    starts = [c["start"] for c in calls]
    gaps = [later - earlier for earlier, later in zip(starts, starts[1:], strict=False)]
    assert len(gaps) == 3 and gaps[0] < gaps[1] < gaps[2]  # 0.5 s, 1 s, 2 s
    history = await handle.handle.fetch_history()
    for event in history.events:
        if event.event_type != EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            continue
        scheduled = event.activity_task_scheduled_event_attributes
        retry = scheduled.retry_policy
        name = scheduled.activity_type.name
        assert retry.backoff_coefficient >= 2, name
        assert timedelta(0) < retry.maximum_interval.ToTimedelta() <= timedelta(seconds=10), name
        bounded = scheduled.schedule_to_close_timeout.ToTimedelta() > timedelta(0)
        assert retry.maximum_attempts > 0 or bounded, f"{name} retries forever"


async def test_a_503_on_the_dial_and_on_the_look_after_it_still_dials(
    client: Client, task_queue: str
) -> None:
    # Seed 153 at 50 %: the look before dialing passes, the dial answers 503, so does
    # the look after it; then LiveKit is fine. The worker recorded that LiveKit placed
    # no call before the look failed, so the retry dials instead of giving up.
    async with worker_on(client, task_queue) as h:
        methods = ["GetParticipant", "CreateSIPParticipant"]
        await h.control.set_faults(fail_rate=0.5, seed=153, methods=methods)
        handle = await transfer(client, task_queue, h, ANSWERS)
        outcome = await asyncio.wait_for(handle.outcome(), 30)
        calls = await h.control.calls()
    faults = [(c["method"], c["fault"]) for c in calls if c["method"] in methods][:3]
    assert faults == [
        ("GetParticipant", None),
        ("CreateSIPParticipant", "fail_rate"),
        ("GetParticipant", "fail_rate"),
    ]
    assert outcome.outcome == "connected", outcome.attempts
    assert await dial_attempts(handle) == [2]
