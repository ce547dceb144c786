"""Helpers for ring-group workflow tests: requests, split workers, history reading."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client
from temporalio.worker import Worker

from tests.fakes import FakeLiveKit
from warm_transfer.client import TransferHandle
from warm_transfer.models import (
    Destination,
    DestinationGroup,
    Fallback,
    HuntEntry,
    TransferRequest,
)
from workflows.warm_transfer import WarmTransferWorkflow

MEMBER_A = "+15105550141"
MEMBER_B = "+15105550142"
MEMBER_C = "+15105550143"
TEAM = (MEMBER_A, MEMBER_B, MEMBER_C)


def group_of(*numbers: str, ring_timeout_s: float = 20) -> DestinationGroup:
    """A ring group of ``numbers``, each on the test trunk with a header of its own."""
    return DestinationGroup(
        group=[
            Destination(sip_call_to=n, sip_trunk_id="ST_test", headers={"X-Member": str(i)})
            for i, n in enumerate(numbers)
        ],
        ring_timeout_s=ring_timeout_s,
    )


def hunt(
    *entries: HuntEntry | str, fallback: Fallback | None = None, **extra: object
) -> TransferRequest:
    """A transfer of room ``call-<uuid>`` to ``entries`` (a string is a destination)."""
    return TransferRequest.model_validate(
        {
            "room_name": f"call-{uuid.uuid4().hex[:8]}",
            "caller_identity": "sip_+15105550123",
            "agent_identity": "voice-agent",
            "destinations": [
                Destination(sip_call_to=e, sip_trunk_id="ST_test", ring_timeout_s=20)
                if isinstance(e, str)
                else e
                for e in entries
            ],
            "summary": "Caller disputes a $42 charge on the May invoice; verified identity.",
            "fallback": fallback or Fallback(),
            **extra,
        }
    )


def members(handle: TransferHandle, attempt: int = 1) -> list[str]:
    """The identities of the members of the ring group tried as ``attempt``."""
    return [f"{handle.workflow_id}-human-{attempt}-{m}" for m in (1, 2, 3)]


async def dials(fake: FakeLiveKit, count: int, timeout: float = 15.0) -> list[str]:
    """Waits until ``count`` legs have been dialed; returns their identities."""
    async with asyncio.timeout(timeout):
        while len(fake.dialed()) < count:
            await asyncio.sleep(0.02)
    return fake.dialed()


@asynccontextmanager
async def activity_worker(
    client: Client, task_queue: str, fake: FakeLiveKit
) -> AsyncIterator[None]:
    """A worker that runs the (fake) dials and nothing else: it outlives workflow workers."""
    async with Worker(client, task_queue=task_queue, activities=fake.activities()):
        yield


@asynccontextmanager
async def workflow_worker(
    client: Client, task_queue: str, fake: FakeLiveKit
) -> AsyncIterator[None]:
    """A worker that runs workflow tasks (and their local activities) only, with no cache:
    while none runs, whatever happens piles up for the next workflow task."""
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[WarmTransferWorkflow],
        activities=fake.activities(),
        no_remote_activities=True,
        max_cached_workflows=0,
    ):
        yield


async def history(handle: TransferHandle) -> list[HistoryEvent]:
    """Every event of the run so far."""
    return list((await handle.handle.fetch_history()).events)


def in_one_workflow_task(events: list[HistoryEvent], first: int, second: int) -> bool:
    """Whether events ``first`` and ``second`` (event ids) reach the workflow in one
    activation: no workflow task started between them."""
    between = [e for e in events if first < e.event_id < second]
    return not any(e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED for e in between)


def of_type(events: list[HistoryEvent], kind: int) -> list[HistoryEvent]:
    """The events of one type, in order."""
    return [e for e in events if e.event_type == kind]


async def current_details(handle: TransferHandle) -> str:
    """What the Temporal UI shows as the run's current details."""
    metadata = await handle.handle.query(
        "__temporal_workflow_metadata", result_type=WorkflowMetadata
    )
    return str(metadata.current_details)
