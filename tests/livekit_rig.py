"""A LiveKit stand-in, the worker's kind of client and the activities, for running one
activity attempt at a time in Temporal's ``ActivityEnvironment``."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import aiohttp
from livekit.api import LiveKitAPI, ServerError
from temporalio.testing import ActivityEnvironment

from activities.livekit import LiveKitActivities, LiveKitDefaults
from activities.livekit_errors import is_retryable
from warm_transfer.livekit_sim import CallRecord, Faults, Scenario, SimConfig
from warm_transfer.livekit_sim.testing import SimHarness, sim_harness
from warm_transfer.models import Bridge, BridgeRequest, BriefRequest, DialRequest, DialResult

R = TypeVar("R")
TRUNK = "ST_known"
CALLER_ROOM = "call-1"
CALLER = "sip_+15105550123"
AGENT = "voice-agent"
CONSULT = "wt-1-consult"
LEG = "wt-1-human-1"
ANSWERS = "+15105550100"
SLOW = "+15550001001"  # rings one (scaled) second, then answers
SLOW_BUSY = "+15550001002"  # rings one (scaled) second, then 486


@dataclasses.dataclass
class Rig:
    """The stand-in, the worker's kind of client (no failover) and the activities."""

    h: SimHarness
    acts: LiveKitActivities
    heartbeats: list[tuple[Any, ...]] = dataclasses.field(default_factory=list)

    async def run(
        self,
        fn: Callable[[Any], Coroutine[Any, Any, R]],
        arg: object,
        *,
        attempt: int = 1,
        details: tuple[Any, ...] = (),
    ) -> R:
        """Runs one attempt of an activity, as Temporal would hand it to a worker."""
        env = ActivityEnvironment()
        # Scheduled now: a dial's follower reckons livekit-sip's ring timeout from it.
        env.info = dataclasses.replace(
            env.info,
            attempt=attempt,
            heartbeat_details=details,
            scheduled_time=datetime.now(UTC),
            current_attempt_scheduled_time=datetime.now(UTC),
        )
        env.on_heartbeat = lambda *d: self.heartbeats.append(d)
        return await env.run(fn, arg)

    async def dials(self) -> list[CallRecord]:
        """CreateSIPParticipant calls LiveKit acted on (decoded: not cut before reading)."""
        calls = await self.h.control.calls(method="CreateSIPParticipant")
        return [c for c in calls if c["request"] is not None]

    async def count(self, method: str) -> int:
        """Calls of ``method`` that reached a handler."""
        return sum(1 for c in await self.h.control.calls(method=method) if c["request"])


@asynccontextmanager
async def livekit_rig() -> AsyncIterator[Rig]:
    """A stand-in (scenarios scaled by 0.05, one known trunk) with a caller and an AI
    agent in ``CALLER_ROOM`` and an empty consultation room ``CONSULT``."""
    config = SimConfig(
        time_scale=0.05,
        trunks=[TRUNK],
        scenarios={
            SLOW: Scenario(outcome="answer", ring_s=20),
            SLOW_BUSY: Scenario(outcome="busy", ring_s=20),
        },
    )
    async with sim_harness(config) as h:
        cfg = h.sim.config
        lk = LiveKitAPI(h.url, cfg.api_key, cfg.api_secret, failover=False)
        defaults = LiveKitDefaults(
            sip_trunk_id=TRUNK, follow_poll_s=0.02, heartbeat_every_s=0.1, agent_goodbye_s=0
        )
        try:
            await h.control.add_participant(CALLER_ROOM, CALLER, kind="sip")
            await h.control.add_participant(CALLER_ROOM, AGENT, kind="agent")
            await h.control.add_participant(CONSULT, "placeholder")  # creates the room
            yield Rig(h, LiveKitActivities(lk, defaults))
        finally:
            await lk.aclose()


def dial(number: str = ANSWERS, identity: str = LEG, **extra: Any) -> DialRequest:
    """A dial of ``number`` into the consultation room as leg ``identity``."""
    return DialRequest(
        workflow_id="wt-1",
        room_name=CONSULT,
        participant_identity=identity,
        sip_call_to=number,
        ring_timeout_s=extra.pop("ring_timeout_s", 20),
        **extra,
    )


def brief_request(room: str = CONSULT, identity: str = LEG, **extra: Any) -> BriefRequest:
    """A brief of leg ``identity`` dialed into ``room``; in ``CALLER_ROOM`` a
    ``same_room`` one, naming the caller and the AI agent it is kept from."""
    if room == CALLER_ROOM:
        extra = {"bridge": "same_room", "caller_identity": CALLER, "agent_identity": AGENT} | extra
    return BriefRequest(
        workflow_id="wt-1",
        room_name=room,
        human_identity=identity,
        caller_room=CALLER_ROOM,
        summary="Disputes a charge.",
        **extra,
    )


def bridge_request(room: str = CONSULT) -> BridgeRequest:
    """The bridge of leg ``LEG``, dialed into ``room``, to the caller; in ``CALLER_ROOM``
    a ``same_room`` one."""
    bridge: Bridge = "same_room" if room == CALLER_ROOM else "move"
    return BridgeRequest(
        workflow_id="wt-1",
        caller_room=CALLER_ROOM,
        caller_identity=CALLER,
        human_room=room,
        human_identity=LEG,
        bridge=bridge,
    )


async def retry_like_temporal(rig: Rig, req: DialRequest) -> DialResult:
    """Runs attempts until one returns, each seeing the last heartbeat of the one before."""
    for attempt in range(1, 6):
        try:
            details = rig.heartbeats[-1] if rig.heartbeats else ()
            return await rig.run(rig.acts.dial_human, req, attempt=attempt, details=details)
        except (ServerError, aiohttp.ClientError) as err:
            assert is_retryable(err)
            await rig.h.control.set_faults(Faults())
    raise AssertionError("the dial never completed")
