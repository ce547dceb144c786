"""The fallback: what happens to the caller when no human takes the call.

``voicemail`` dials the box into the caller's room, ``cold_transfer`` SIP REFERs the
caller away, ``return_to_agent`` takes the caller off hold. A fallback that fails
ends in ``return_to_agent`` with the failure in ``fallback_error``: the caller is
never left on hold with nobody coming.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.livekit import LiveKitActivities
    from warm_transfer.models import (
        ColdTransferRequest,
        DialRequest,
        HoldRequest,
        TransferOutcome,
        TransferRequest,
    )
    from workflows import policies
    from workflows.bridge import agent_leaves
    from workflows.transfer_state import voicemail_identity

if TYPE_CHECKING:
    from workflows.warm_transfer import WarmTransferWorkflow


async def run_fallback(
    wf: WarmTransferWorkflow, req: TransferRequest, reason: str
) -> TransferOutcome:
    """Runs ``req.fallback`` and seals the outcome."""
    wf.track.set_stage("fallback")
    target = req.fallback.sip_call_to
    error: str | None = None
    if req.fallback.kind == "voicemail":
        error = await _leave_voicemail(wf, req)
        if error is None:
            return wf.track.finish("voicemail", destination=target, reason=reason)
    elif req.fallback.kind == "cold_transfer":
        error = await _cold_transfer(wf, req)
        if error is None:
            return wf.track.finish("cold_transferred", destination=target, reason=reason)
    if wf.caller_hung_up:
        await wf.release_all(local=False)
        return wf.track.finish("caller_hung_up", reason=reason, fallback_error=error)
    released = await policies.run(
        LiveKitActivities.stop_hold,
        HoldRequest(
            workflow_id=workflow.info().workflow_id,
            room_name=req.room_name,
            caller_identity=req.caller_identity,
            agent_identity=req.agent_identity,
        ),
        "take the caller off hold",
        local=False,
    )
    wf.ledger.on_hold = False
    if wf.survives_faults and not released.caller_present:
        # The call died without a hang-up reaching us (livekit-sip crashed with it):
        # nobody is back with the AI agent, so say what happened.
        await wf.release_all(local=False)
        return wf.track.finish("caller_hung_up", reason=reason, fallback_error=error)
    return wf.track.finish("returned_to_agent", reason=reason, fallback_error=error)


async def _leave_voicemail(wf: WarmTransferWorkflow, req: TransferRequest) -> str | None:
    """Connects the caller to the voicemail box; returns why not, or None."""
    assert req.fallback.sip_call_to is not None  # the model requires it for voicemail
    identity = voicemail_identity(workflow.info().workflow_id)
    wf.ledger.legs[identity] = req.room_name
    dial = policies.start_dial(
        DialRequest(
            workflow_id=workflow.info().workflow_id,
            room_name=req.room_name,
            participant_identity=identity,
            role="voicemail",
            sip_call_to=req.fallback.sip_call_to,
            sip_trunk_id=req.fallback.sip_trunk_id,
            ring_timeout_s=req.fallback.ring_timeout_s,
        ),
        "dial voicemail",
    )
    # Not bounded by the transfer deadline, which may be what brought us here: the
    # server ends the dial within its window.
    await workflow.wait_condition(lambda: dial.done() or wf.caller_hung_up)
    error: str | None
    if not dial.done():
        dial.cancel()
        error = "caller hung up" if wf.caller_hung_up else "voicemail did not answer"
    else:
        try:
            result = dial.result()
            error = None if result.result == "answered" else f"voicemail {result.reason}"
        except ActivityError as err:
            error = f"voicemail {policies.dial_error(err)[1]}"
    if error is None and not wf.caller_hung_up:
        wf.ledger.legs.pop(identity, None)  # the caller is leaving a message on it
        await agent_leaves(wf, req)
        return None
    await wf.hang_up(identity)
    return error or "caller hung up"


async def _cold_transfer(wf: WarmTransferWorkflow, req: TransferRequest) -> str | None:
    """SIP REFERs the caller to the fallback target; returns why not, or None."""
    assert req.fallback.sip_call_to is not None  # the model requires it for cold_transfer
    if wf.caller_hung_up:
        return "caller hung up"
    try:
        result = await policies.run(
            LiveKitActivities.cold_transfer,
            ColdTransferRequest(
                workflow_id=workflow.info().workflow_id,
                room_name=req.room_name,
                caller_identity=req.caller_identity,
                transfer_to=req.fallback.sip_call_to,
                ring_timeout_s=req.fallback.ring_timeout_s,
            ),
            "cold transfer (SIP REFER)",
            timeout=timedelta(seconds=req.fallback.ring_timeout_s + 30),
        )
    except ActivityError as err:
        return f"cold transfer failed: {err.cause or err}"
    if not result.transferred:
        return f"cold transfer refused: {result.reason}"
    await agent_leaves(wf, req)
    return None
