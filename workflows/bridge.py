"""Connecting the caller to the human who accepted, and the AI agent's exit.

The human is moved into the caller's room rather than the caller into the
consultation room: the caller's SIP session, room and any recording of the call stay
exactly as they were, and only the leg the engine dialed changes rooms.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.livekit import LiveKitActivities
    from warm_transfer.models import AgentLeaveRequest, BridgeRequest, TransferRequest
    from workflows import policies
    from workflows.transfer_state import Leg

if TYPE_CHECKING:
    from workflows.warm_transfer import WarmTransferWorkflow


async def connect_caller(wf: WarmTransferWorkflow, req: TransferRequest, leg: Leg) -> bool:
    """Bridges the caller and the accepting human; the AI agent leaves.

    Returns:
        True when the caller and the human are together, False when the attempt
        failed (the leg is then hung up and the hunt goes on).
    """
    wf.track.set_stage("bridging", leg)
    try:
        await policies.run(
            LiveKitActivities.bridge_caller,
            BridgeRequest(
                workflow_id=workflow.info().workflow_id,
                caller_room=req.room_name,
                caller_identity=req.caller_identity,
                human_room=leg.room,
                human_identity=leg.identity,
                bridge=wf.bridge,
            ),
            "bridge the caller",
        )
    except ActivityError as err:
        return await wf.give_up(leg, "failed", f"bridge failed: {err.cause or err}")
    # The human now talks to the caller: no longer the engine's to hang up...
    del wf.ledger.legs[leg.identity]
    leg.room = req.room_name
    if wf.caller_hung_up:
        # ...unless the caller left during the bridge: nobody is on the other end.
        wf.ledger.legs[leg.identity] = req.room_name
        return await wf.give_up(leg, "answered", "caller hung up during the bridge")
    wf.track.bridged(leg)
    wf.track.leg_done(leg, "answered", None, None)
    if workflow.patched(policies.LOCAL_ACTIVITIES):
        # Clean-up first (local activities), then the agent's exit, a regular activity
        # as the run's last call (see policies.run): it also waits out the goodbye.
        await wf.release_all()
        await agent_leaves(wf, req)
    else:
        await agent_leaves(wf, req)
        await wf.release_all(local=False)
    return True


async def agent_leaves(wf: WarmTransferWorkflow, req: TransferRequest) -> None:
    """Tells the AI agent to leave and removes it: the caller is someone else's now."""
    await policies.run(
        LiveKitActivities.remove_agent,
        AgentLeaveRequest(
            workflow_id=workflow.info().workflow_id,
            room_name=req.room_name,
            agent_identity=req.agent_identity,
        ),
        "the AI agent leaves",
        local=False,  # the run's last call, and it waits out the agent's goodbye
    )
    wf.ledger.on_hold = False
