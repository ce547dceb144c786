"""Transfers on a process-level `Stack`, as an operator's environment runs them.

Used by the observability tests (logs, metrics, the Temporal UI): a real worker
process, the stand-in, the simulated briefing agent, and a client to start transfers.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from temporalio.client import Client

from warm_transfer.client import TransferHandle, start_transfer
from warm_transfer.config import TemporalSettings
from warm_transfer.livekit_sim import SimControl
from warm_transfer.models import Destination, Fallback, HuntEntry, TransferRequest
from warm_transfer.sim_agents import SimulatedBriefingAgent, place_call, run_briefer
from warm_transfer.stack import Stack
from warm_transfer.temporal_connect import connect

ANSWERS = "+15105550100"
BUSY = "+15105550101"
NEVER_ANSWERS = "+15105550102"
SUMMARY = "Caller disputes a $42 charge on the May invoice; identity verified."


@dataclass
class Operations:
    """A running stack, a client of it and the stand-in's control client."""

    stack: Stack
    settings: TemporalSettings
    client: Client
    control: SimControl

    async def transfer(
        self,
        *numbers: str,
        ring_timeout_s: float = 20,
        fallback: Fallback | None = None,
    ) -> TransferHandle:
        """Places a call and starts its transfer to ``numbers``, in order."""
        call = await place_call(self.control, f"call-{uuid.uuid4().hex[:6]}")
        hunt: list[HuntEntry] = [
            Destination(sip_call_to=n, ring_timeout_s=ring_timeout_s) for n in numbers
        ]
        request = TransferRequest(
            room_name=call.room_name,
            caller_identity=call.caller_identity,
            agent_identity=call.agent_identity,
            destinations=hunt,
            summary=SUMMARY,
            fallback=fallback or Fallback(),
        )
        return await start_transfer(self.client, request, task_queue=self.settings.task_queue)


@asynccontextmanager
async def operating(stack: Stack) -> AsyncIterator[Operations]:
    """Starts ``stack`` and the simulated briefing agent; stops both afterwards."""
    async with stack:
        settings = TemporalSettings(
            address=stack.temporal_address, ui_url=stack.server.ui_url or "http://localhost:8233"
        )
        client = await connect(settings)
        async with SimControl(stack.sim_url) as control:
            briefer = await run_briefer(SimulatedBriefingAgent(control, client))
            try:
                yield Operations(stack, settings, client, control)
            finally:
                briefer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await briefer


async def finish_all(handles: Sequence[TransferHandle], timeout: float = 60) -> list[str]:
    """Waits for every transfer; returns their outcome kinds, in order."""
    outcomes = await asyncio.wait_for(asyncio.gather(*(h.outcome() for h in handles)), timeout)
    return [o.outcome for o in outcomes]
