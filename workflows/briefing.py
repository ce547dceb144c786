"""Briefing the human who answered, and waiting for their decision.

The same for a single destination and for the member of a ring group who answered
first: only that one human is ever briefed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.livekit import LiveKitActivities
    from warm_transfer.models import BriefRequest, TransferRequest, WatchRequest
    from workflows import policies
    from workflows.legs import Leg

if TYPE_CHECKING:
    from workflows.transfer_core import TransferCore


async def brief_and_decide(wf: TransferCore, req: TransferRequest, leg: Leg) -> bool:
    """Briefs the answered ``leg`` and waits for the decision. True = accepted.

    An accept that came before the briefing (out of order) skips it; a decline, a
    timeout, a skip or a stop ends the attempt with the leg hung up.
    """
    wf.track.answered(leg)
    if leg.decision is None and not wf._interrupted(leg):
        brief = BriefRequest(
            workflow_id=workflow.info().workflow_id,
            room_name=leg.room,
            human_identity=leg.identity,
            caller_room=req.room_name,
            summary=req.summary,
            briefing_agent=req.briefing_agent,
            bridge=wf.bridge,
            caller_identity=req.caller_identity,
            agent_identity=req.agent_identity,
        )
        try:
            briefed = await policies.run(LiveKitActivities.brief_human, brief, "brief the human")
        except ActivityError as err:
            return await wf.give_up(leg, "failed", f"briefing failed: {err.cause or err}")
        watch = None
        if leg.decision is None and wf.survives_faults:
            # Isolates and briefs the human again if LiveKit restarts meanwhile.
            watch = policies.start_watch(
                WatchRequest(brief=brief, participant_sids=briefed.participant_sids),
                req.accept_timeout_s,
            )
        await wf.wait_for(
            lambda: leg.decision is not None,
            "accept timeout",
            lambda: wf._interrupted(leg),
            timeout_s=req.accept_timeout_s,
        )
        if watch is not None:
            watch.cancel()  # TRY_CANCEL: the call flow does not wait for it
            watch.add_done_callback(lambda done: done.cancelled() or done.exception())
    if leg.decision == "accepted" and not wf._interrupted(leg):
        return True
    if leg.decision == "declined":
        return await wf.give_up(leg, "declined", leg.decline_reason or "declined")
    return await wf.give_up(
        leg, "declined", wf._why_stopped(leg) or "no decision within accept_timeout_s"
    )
