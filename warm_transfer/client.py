"""A small client for voice agents: start a warm transfer, signal it, await its outcome.

    client = await Client.connect("localhost:7233", data_converter=data_converter())
    handle = await start_transfer(client, request)
    await handle.caller_hung_up()          # if the caller leaves
    outcome = await handle.outcome()

A voice agent that may see the caller leave while its start is still on the way uses
a `TransferStarter` instead: its signals reach the transfer whether or not the start
got to Temporal first (signal-with-start), so an early ``caller_hung_up`` is never lost.

Everything goes through the public JSON contract (workflow type, signal and query
names), so this module is a convenience, not a requirement: a Node voice agent does
the same with ``@temporalio/client``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Final, Literal

import structlog
from pydantic import BaseModel
from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from warm_transfer import search_attributes as sa
from warm_transfer.config import DEFAULT_TASK_QUEUE
from warm_transfer.models import (
    AddDestination,
    CallerHungUp,
    CancelTransfer,
    Destination,
    DestinationGroup,
    HumanAccepted,
    HumanAnswered,
    HumanDeclined,
    SkipDestination,
    TransferOutcome,
    TransferRequest,
    TransferStatus,
    entry_numbers,
)

WORKFLOW_TYPE: Final = "WarmTransferWorkflow"

SignalName = Literal["human_answered", "human_accepted", "human_declined", "caller_hung_up"]

log = structlog.get_logger(__name__)


def transfer_workflow_id(room_name: str) -> str:
    """The recommended workflow id: one transfer per caller room at a time."""
    return f"warm-transfer-{room_name}"


def is_closed_error(err: RPCError) -> bool:
    """True when a signal failed because no such transfer is running (any more)."""
    return err.status == RPCStatusCode.NOT_FOUND


@dataclass(frozen=True)
class TransferHandle:
    """A running (or finished) transfer, addressed by workflow id."""

    handle: WorkflowHandle[object, TransferOutcome]

    @property
    def workflow_id(self) -> str:
        """The transfer's workflow id."""
        return self.handle.id

    @property
    def run_id(self) -> str | None:
        """The run this handle was started or found with."""
        return self.handle.result_run_id

    async def signal(self, name: SignalName, payload: BaseModel) -> None:
        """Sends one of the contract's signals."""
        await self.handle.signal(name, payload)

    async def answered(self, participant_identity: str) -> None:
        """Signals ``human_answered``."""
        await self.signal(
            "human_answered", HumanAnswered(participant_identity=participant_identity)
        )

    async def accepted(self, participant_identity: str) -> None:
        """Signals ``human_accepted``."""
        await self.signal(
            "human_accepted", HumanAccepted(participant_identity=participant_identity)
        )

    async def declined(self, participant_identity: str, reason: str = "") -> None:
        """Signals ``human_declined``."""
        await self.signal(
            "human_declined",
            HumanDeclined(participant_identity=participant_identity, reason=reason),
        )

    async def caller_hung_up(self) -> None:
        """Signals ``caller_hung_up``."""
        await self.signal("caller_hung_up", CallerHungUp())

    async def status(self) -> TransferStatus:
        """Queries ``status``."""
        status: object = await self.handle.query("status", result_type=TransferStatus)
        return TransferStatus.model_validate(status)

    async def outcome(self) -> TransferOutcome:
        """Waits for the transfer to finish and returns its outcome."""
        return await self.handle.result()

    async def _update(self, name: str, payload: object) -> TransferStatus:
        status: object = await self.handle.execute_update(name, payload, result_type=TransferStatus)
        return TransferStatus.model_validate(status)

    async def cancel_transfer(self, reason: str) -> TransferStatus:
        """Operator update: stop hunting and run the fallback."""
        return await self._update("cancel_transfer", CancelTransfer(reason=reason))

    async def skip_destination(self, reason: str = "skipped by operator") -> TransferStatus:
        """Operator update: give up on the destination being tried now."""
        return await self._update("skip_destination", SkipDestination(reason=reason))

    async def add_destination(self, destination: Destination | DestinationGroup) -> TransferStatus:
        """Operator update: append a destination to the hunt list."""
        return await self._update("add_destination", AddDestination(destination=destination))


async def start_transfer(
    client: Client,
    request: TransferRequest,
    *,
    workflow_id: str | None = None,
    task_queue: str = DEFAULT_TASK_QUEUE,
    search_attributes: bool = True,
) -> TransferHandle:
    """Starts a warm transfer, or returns the one already running under that id.

    Idempotent per workflow id: a voice agent that retries its start (a timeout, a
    restart) gets the same run instead of a second transfer of the same caller.

    Args:
        client: connected with the engine's data converter.
        request: the transfer; already validated by its model.
        workflow_id: defaults to ``warm-transfer-<room_name>``.
        task_queue: the workers' task queue (``TEMPORAL_TASK_QUEUE``).
        search_attributes: set the engine's search attributes (the namespace must
            have them registered; pass False on one that does not).
    """
    options = _start_options(request, workflow_id, task_queue, search_attributes)
    handle: WorkflowHandle[object, TransferOutcome] = await client.start_workflow(
        WORKFLOW_TYPE, request, result_type=TransferOutcome, **options
    )
    return TransferHandle(handle)


async def signal_with_start(
    client: Client,
    request: TransferRequest,
    signal: SignalName,
    payload: BaseModel,
    *,
    workflow_id: str | None = None,
    task_queue: str = DEFAULT_TASK_QUEUE,
    search_attributes: bool = True,
) -> TransferHandle:
    """Signals the transfer running under the workflow id, starting it first if none is.

    One atomic Temporal call (SignalWithStartWorkflowExecution): a transfer that is
    started this way sees the signal before its first step, so a ``caller_hung_up``
    sent before the start ends it at once, with nothing done in LiveKit.

    Args: as for `start_transfer`, plus the signal's name and payload.
    """
    options = _start_options(request, workflow_id, task_queue, search_attributes)
    handle: WorkflowHandle[object, TransferOutcome] = await client.start_workflow(
        WORKFLOW_TYPE,
        request,
        result_type=TransferOutcome,
        start_signal=signal,
        start_signal_args=[payload],
        **options,
    )
    return TransferHandle(handle)


def get_transfer(client: Client, workflow_id: str, run_id: str | None = None) -> TransferHandle:
    """A handle on an existing transfer (its latest run, or ``run_id``)."""
    return TransferHandle(
        client.get_workflow_handle(workflow_id, run_id=run_id, result_type=TransferOutcome)
    )


class TransferStarter:
    """The voice agent's entry point: one transfer it is about to start, or has started.

    Signals sent through it are never lost to a race with the start: until a start has
    come back from Temporal they go out as signal-with-start (which starts the transfer
    if it does not exist yet), afterwards as plain signals to the run that was started.
    Calls are serialized, so a ``caller_hung_up`` that won the race is not followed by
    a second, pointless start.

    Args: as for `start_transfer`.
    """

    def __init__(
        self,
        client: Client,
        request: TransferRequest,
        *,
        workflow_id: str | None = None,
        task_queue: str = DEFAULT_TASK_QUEUE,
        search_attributes: bool = True,
    ) -> None:
        self._client = client
        self.request = request
        self.workflow_id = workflow_id or transfer_workflow_id(request.room_name)
        self._where: dict[str, Any] = {
            "workflow_id": self.workflow_id,
            "task_queue": task_queue,
            "search_attributes": search_attributes,
        }
        self._handle: TransferHandle | None = None
        self._lock = asyncio.Lock()

    @property
    def handle(self) -> TransferHandle | None:
        """The run, once a start or signal-with-start has come back."""
        return self._handle

    async def start(self) -> TransferHandle:
        """Starts the transfer (idempotent, like `start_transfer`)."""
        async with self._lock:
            if self._handle is None:
                handle = await start_transfer(self._client, self.request, **self._where)
                self._handle = self._pinned(handle)
            return self._handle

    async def signal(self, name: SignalName, payload: BaseModel) -> TransferHandle:
        """Sends a signal, starting the transfer with it if it was not started yet.

        A transfer that has already finished is left alone: the signal is dropped
        (logged), since a new run would be a transfer nobody asked for.
        """
        async with self._lock:
            if self._handle is None:
                handle = await signal_with_start(
                    self._client, self.request, name, payload, **self._where
                )
                self._handle = self._pinned(handle)
                return self._handle
            try:
                await self._handle.signal(name, payload)
            except RPCError as err:
                if not is_closed_error(err):
                    raise
                log.info("signal dropped: the transfer is over", signal=name, wid=self.workflow_id)
            return self._handle

    async def caller_hung_up(self) -> TransferHandle:
        """Signals ``caller_hung_up``, before or after the start."""
        return await self.signal("caller_hung_up", CallerHungUp())

    def _pinned(self, handle: TransferHandle) -> TransferHandle:
        # Later signals go to this run only: never to a newer transfer of the same room.
        return get_transfer(self._client, self.workflow_id, handle.run_id)


def _start_options(
    request: TransferRequest, workflow_id: str | None, task_queue: str, search_attributes: bool
) -> dict[str, Any]:
    attributes = (
        TypedSearchAttributes(
            [
                SearchAttributePair(sa.CALLER_ROOM, request.room_name),
                SearchAttributePair(sa.TRANSFER_STAGE, "holding"),
                SearchAttributePair(sa.DESTINATION_INDEX, 0),
            ]
        )
        if search_attributes
        else None
    )
    return {
        "id": workflow_id or transfer_workflow_id(request.room_name),
        "task_queue": task_queue,
        "id_conflict_policy": WorkflowIDConflictPolicy.USE_EXISTING,
        "search_attributes": attributes,
        "static_summary": f"Warm transfer of room {request.room_name}",
        "static_details": _static_details(request),
    }


def _static_details(request: TransferRequest) -> str:
    hunt = ", ".join(  # a ring group in brackets: its phones ring at once
        f"[{' + '.join(entry_numbers(d))}]" if isinstance(d, DestinationGroup) else d.sip_call_to
        for d in request.destinations
    )
    fallback = request.fallback.kind.replace("_", " ")
    return (
        f"**Caller room:** {request.room_name}  \n**Caller:** {request.caller_identity}  \n"
        f"**Hunt list:** {hunt}  \n**Fallback:** {fallback}"
    )
