"""An engine on the real dev server driving an in-process LiveKit stand-in."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from livekit.api import LiveKitAPI
from temporalio.client import Client

from activities.livekit import LiveKitActivities, LiveKitDefaults
from warm_transfer.livekit_sim import CallRecord, SimConfig, SimStateSnapshot
from warm_transfer.livekit_sim.testing import SimHarness, sim_harness
from warm_transfer.sim_agents import SimulatedBriefingAgent, SimulatedCall, place_call, run_briefer
from worker import build_worker


@dataclass
class Engine:
    """The stand-in, the briefing agent playing against it, and the worker's client."""

    lk: SimHarness
    briefer: SimulatedBriefingAgent
    client: Client
    task_queue: str

    async def call(self) -> SimulatedCall:
        """A new caller on the phone with a voice agent."""
        return await place_call(self.lk.control, f"call-{uuid.uuid4().hex[:8]}")


@asynccontextmanager
async def engine(
    client: Client, task_queue: str, config: SimConfig | None = None
) -> AsyncIterator[Engine]:
    """Stand-in + real activities + worker + simulated briefing agent, all in-process."""
    async with sim_harness(config or SimConfig(time_scale=0.05)) as harness:
        cfg = harness.sim.config
        lk = LiveKitAPI(harness.url, cfg.api_key, cfg.api_secret, failover=False)
        activities = LiveKitActivities(
            lk,
            LiveKitDefaults(
                sip_trunk_id="ST_sim",
                follow_poll_s=0.05,
                heartbeat_every_s=0.5,
                agent_goodbye_s=0,
            ),
        )
        try:
            async with build_worker(client, activities, task_queue):
                briefer = SimulatedBriefingAgent(harness.control, client)
                task = await run_briefer(briefer)
                try:
                    yield Engine(harness, briefer, client, task_queue)
                finally:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
        finally:
            await lk.aclose()


def rooms_of(state: SimStateSnapshot) -> dict[str, set[str]]:
    """Room name -> identities in it."""
    return {name: set(room["participants"]) for name, room in state["rooms"].items()}


def dials_per_identity(calls: Sequence[CallRecord]) -> dict[str, int]:
    """How many CreateSIPParticipant requests named each participant identity."""
    counts: dict[str, int] = {}
    for call in calls:
        request = call.get("request")
        if call.get("method") == "CreateSIPParticipant" and isinstance(request, dict):
            identity = str(request.get("participant_identity"))
            counts[identity] = counts.get(identity, 0) + 1
    return counts
