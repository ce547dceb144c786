"""A small client for voice agents: start a warm transfer, signal it, await its outcome.

    client = await Client.connect("localhost:7233", data_converter=data_converter())
    handle = await start_transfer(client, request)
    await handle.caller_hung_up()          # if the caller leaves
    outcome = await handle.outcome()

Everything goes through the public JSON contract (workflow type, signal and query
names), so this module is a convenience, not a requirement: a Node voice agent does
the same with ``@temporalio/client``.
"""

from __future__ import annotations

from dataclasses import dataclass

from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy

from warm_transfer import search_attributes as sa
from warm_transfer.config import DEFAULT_TASK_QUEUE
from warm_transfer.models import (
    AddDestination,
    CallerHungUp,
    CancelTransfer,
    Destination,
    HumanAccepted,
    HumanAnswered,
    HumanDeclined,
    SkipDestination,
    TransferOutcome,
    TransferRequest,
    TransferStatus,
)

WORKFLOW_TYPE = "WarmTransferWorkflow"


def transfer_workflow_id(room_name: str) -> str:
    """The recommended workflow id: one transfer per caller room at a time."""
    return f"warm-transfer-{room_name}"


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

    async def answered(self, participant_identity: str) -> None:
        """Signals ``human_answered``."""
        await self.handle.signal(
            "human_answered", HumanAnswered(participant_identity=participant_identity)
        )

    async def accepted(self, participant_identity: str) -> None:
        """Signals ``human_accepted``."""
        await self.handle.signal(
            "human_accepted", HumanAccepted(participant_identity=participant_identity)
        )

    async def declined(self, participant_identity: str, reason: str = "") -> None:
        """Signals ``human_declined``."""
        await self.handle.signal(
            "human_declined",
            HumanDeclined(participant_identity=participant_identity, reason=reason),
        )

    async def caller_hung_up(self) -> None:
        """Signals ``caller_hung_up``."""
        await self.handle.signal("caller_hung_up", CallerHungUp())

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

    async def add_destination(self, destination: Destination) -> TransferStatus:
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
    wid = workflow_id or transfer_workflow_id(request.room_name)
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
    handle: WorkflowHandle[object, TransferOutcome] = await client.start_workflow(
        WORKFLOW_TYPE,
        request,
        id=wid,
        task_queue=task_queue,
        result_type=TransferOutcome,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=attributes,
        static_summary=f"Warm transfer of room {request.room_name}",
        static_details=_static_details(request),
    )
    return TransferHandle(handle)


def get_transfer(client: Client, workflow_id: str) -> TransferHandle:
    """A handle on an existing transfer (its latest run)."""
    return TransferHandle(client.get_workflow_handle(workflow_id, result_type=TransferOutcome))


def _static_details(request: TransferRequest) -> str:
    hunt = ", ".join(d.sip_call_to for d in request.destinations)
    fallback = request.fallback.kind.replace("_", " ")
    return (
        f"**Caller room:** {request.room_name}  \n**Caller:** {request.caller_identity}  \n"
        f"**Hunt list:** {hunt}  \n**Fallback:** {fallback}"
    )
