"""Helpers for workflow tests: requests, a worker with fakes, waiting on stages."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from tests.fakes import FakeLiveKit
from warm_transfer.client import TransferHandle, start_transfer
from warm_transfer.models import Destination, Fallback, Stage, TransferRequest, TransferStatus
from workflows.warm_transfer import WarmTransferWorkflow

HUMAN_A = "+15105550100"
HUMAN_B = "+15105550111"
HUMAN_C = "+15105550122"
VOICEMAIL = "+15105550199"


def make_request(
    *numbers: str,
    fallback: Fallback | None = None,
    ring_timeout_s: float = 20,
    **extra: Any,
) -> TransferRequest:
    """A transfer of room ``call-<uuid>`` to ``numbers``, in order."""
    return TransferRequest(
        room_name=f"call-{uuid.uuid4().hex[:8]}",
        caller_identity="sip_+15105550123",
        agent_identity="voice-agent",
        destinations=[
            Destination(sip_call_to=n, sip_trunk_id="ST_test", ring_timeout_s=ring_timeout_s)
            for n in numbers or (HUMAN_A,)
        ],
        summary="Caller disputes a $42 charge on the May invoice; verified identity.",
        fallback=fallback or Fallback(),
        **extra,
    )


@asynccontextmanager
async def fake_worker(
    client: Client, task_queue: str, fake: FakeLiveKit, **options: Any
) -> AsyncIterator[Worker]:
    """A worker running the real workflow with scripted activities."""
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[WarmTransferWorkflow],
        activities=fake.activities(),
        **options,
    ) as worker:
        yield worker


async def start(
    client: Client,
    task_queue: str,
    request: TransferRequest,
    *,
    search_attributes: bool = True,
    workflow_id: str | None = None,
) -> TransferHandle:
    """Starts a transfer with a fresh workflow id on the test's task queue.

    The time-skipping server has no custom search attributes: pass
    ``search_attributes=False`` there (the workflow then does not upsert them).
    """
    return await start_transfer(
        client,
        request,
        workflow_id=workflow_id or f"test-{uuid.uuid4()}",
        task_queue=task_queue,
        search_attributes=search_attributes,
    )


async def wait_until(
    handle: TransferHandle,
    accept: Callable[[TransferStatus], bool],
    timeout: float = 15.0,
) -> TransferStatus:
    """Polls the ``status`` query until ``accept`` says yes.

    Raises:
        TimeoutError: with the last status seen, when it never does.
    """
    deadline = asyncio.get_running_loop().time() + timeout
    status = await handle.status()
    while not accept(status):
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"status never matched; last: {status}")
        await asyncio.sleep(0.05)
        status = await handle.status()
    return status


async def wait_for_stage(
    handle: TransferHandle, stage: Stage, destination_index: int | None = None
) -> TransferStatus:
    """Waits for ``stage`` (and, if given, the destination being tried)."""
    return await wait_until(
        handle,
        lambda s: (
            s.stage == stage
            and (destination_index is None or s.destination_index == destination_index)
        ),
    )


async def brief_and(
    handle: TransferHandle,
    decide: Callable[[TransferHandle, str], Awaitable[None]],
    destination_index: int | None = None,
) -> str:
    """Plays the briefing agent: at the briefing stage, signals the human's decision.

    Returns:
        The identity of the leg that was briefed.
    """
    status = await wait_for_stage(handle, "briefing", destination_index)
    assert status.participant_identity is not None
    await decide(handle, status.participant_identity)
    return status.participant_identity


async def accept(handle: TransferHandle, identity: str) -> None:
    """The human accepts."""
    await handle.accepted(identity)


async def decline(handle: TransferHandle, identity: str) -> None:
    """The human declines."""
    await handle.declined(identity, "in a meeting")
