"""Ring groups: every member of one hunt entry rung at once, the first to answer briefed.

Every member gets its own leg, identity (``<workflow id>-human-<n>-<m>``) and dial
activity, all started in one workflow task and in the ledger before they start. The
first answer, from a dial or a ``human_answered`` / ``human_accepted`` signal, in
history order, makes that member the group's one ``winner`` (`RingGroup.answered`);
in the same workflow task every other member's dial is cancelled and its leg hung up
(RemoveParticipant: a CANCEL while it rings, a BYE if it picked up meanwhile), and
the winner is briefed like any single destination. A member who picks up after the
winner was chosen is hung up at once, with no apology (``answered_late``). If the
winner declines or times out, the hunt goes on with the next entry: the group is not
rung again. A ring timeout, skip, cancel, hang-up or the deadline while the phones
ring ends every leg and the group's attempt.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import TYPE_CHECKING

from temporalio import workflow
from temporalio.exceptions import ActivityError, CancelledError

with workflow.unsafe.imports_passed_through():
    from warm_transfer.models import (
        AttemptResult,
        DestinationGroup,
        DialRequest,
        DialResult,
        TransferRequest,
    )
    from workflows import policies
    from workflows.briefing import brief_and_decide
    from workflows.legs import Leg, RingGroup

if TYPE_CHECKING:
    from workflows.transfer_core import TransferCore

Dial = workflow.ActivityHandle[DialResult]


async def try_group(wf: TransferCore, req: TransferRequest, group: RingGroup) -> bool:
    """Rings every member of ``group`` at once and briefs the first to answer.

    Returns:
        True when that member accepted (``group.winner``, still in the ledger, is the
        leg to bridge); False when the group's attempt ended (recorded, legs hung up).
    """
    entry = wf.destinations[group.destination_index]
    assert isinstance(entry, DestinationGroup)
    for leg in group.members:
        # Into the ledger before the dial: a crash mid-dial still hangs the leg up.
        wf.ledger.legs[leg.identity] = leg.room
    wf.track.group_dialing(group)
    dials = {leg.identity: _dial(wf, group, entry, leg) for leg in group.members}
    await wf.wait_for(
        group.settled,
        "transfer deadline",
        lambda: wf._interrupted(group),
        bounded_s=policies.dial_window_s(group.ring_timeout_s),
    )
    winner = group.winner
    if winner is None:
        return await _nobody(wf, group, dials)
    if group.skip_reason is not None and winner.skip_reason is None:
        winner.skip_reason = group.skip_reason  # skipped as it was answered
    _release_the_others(wf, group, dials)
    return await brief_and_decide(wf, req, winner)


def _dial(wf: TransferCore, group: RingGroup, entry: DestinationGroup, leg: Leg) -> Dial:
    """Starts dialing one member; its end is seen by `_dial_ended`."""
    assert leg.member_index is not None
    dest = entry.member(leg.member_index)
    dial = policies.start_dial(
        DialRequest(
            workflow_id=workflow.info().workflow_id,
            room_name=leg.room,
            participant_identity=leg.identity,
            sip_call_to=dest.sip_call_to,
            sip_trunk_id=dest.sip_trunk_id,
            ring_timeout_s=dest.ring_timeout_s,
            sip_number=dest.sip_number,
            headers=dest.headers,
            dtmf=dest.dtmf,
            destination_index=group.destination_index,
            isolate=wf.bridge == "same_room",
        ),
        f"dial {dest.sip_call_to} (ring group, phone {leg.member_index + 1} "
        f"of {len(group.members)})",
    )
    dial.add_done_callback(lambda done: _dial_ended(wf, group, leg, done))
    return dial


def _dial_ended(wf: TransferCore, group: RingGroup, leg: Leg, dial: Dial) -> None:
    """A member's dial returned: an answer (the first wins), or why not."""
    if dial.cancelled():
        return
    try:
        result = dial.result()
    except ActivityError as err:
        if not isinstance(err.cause, CancelledError):  # not ours to report
            leg.end(*policies.dial_error(err))
        wf.track.member_ended()
        return
    except asyncio.CancelledError:
        return
    if result.result == "answered":
        group.answered(leg)
    elif leg is not group.winner:
        leg.end(result.result, result.reason, result.sip_status_code)
    wf.track.member_ended()


def _release_the_others(wf: TransferCore, group: RingGroup, dials: dict[str, Dial]) -> None:
    """Stops every phone but the winner's, now, without waiting for LiveKit."""
    for leg in group.members:
        if leg is group.winner:
            continue
        if leg.outcome is None:
            dials[leg.identity].cancel()
            leg.end("cancelled", "another member answered first")
        wf.hang_up_soon(leg.identity)
    wf.track.member_ended()


async def _nobody(wf: TransferCore, group: RingGroup, dials: dict[str, Dial]) -> bool:
    """Ends a group nobody answered: stopped while ringing, or every leg ended."""
    stopped = wf._interrupted(group)
    why = (wf._why_stopped(group) if stopped else None) or "ring timeout"
    result: AttemptResult
    for leg in group.ringing():
        dials[leg.identity].cancel()
        leg.end("cancelled", why)
    if stopped:
        result, sip, reason = "no_answer", None, why
    else:
        result, sip = group.unanswered_result()
        ended = Counter(leg.outcome for leg in group.members)
        reason = "no member answered: " + ", ".join(f"{n} {o}" for o, n in sorted(ended.items()))
    wf.track.group_done(group, result, reason, sip)
    await asyncio.gather(*(wf.hang_up(leg.identity) for leg in group.members))
    return False


def member_answered(wf: TransferCore, identity: str) -> bool:
    """``human_answered`` for a member of the ring group: it may be the first. False
    when ``identity`` is no member of the group being tried."""
    group = wf.track.group
    leg = group.member_named(identity) if group is not None else None
    if group is None or leg is None:
        return False
    group.answered(leg)
    wf.track.member_ended()
    return True


def member_decided(wf: TransferCore, identity: str, accepted: bool, reason: str = "") -> bool:
    """A decision signal naming a member of the ring group: only the winner's counts
    (an accept before any answer makes its sender the winner, as for a single leg).
    False when ``identity`` is no member of the group being tried."""
    group = wf.track.group
    leg = group.member_named(identity) if group is not None else None
    if group is None or leg is None:
        return False
    is_winner = group.answered(leg) if accepted else leg is group.winner
    if is_winner and leg.decision is None:
        leg.decision = "accepted" if accepted else "declined"
        if accepted:
            leg.accepted_at = workflow.now()
        else:
            leg.decline_reason = reason
    else:
        workflow.logger.info(
            "signal ignored: not the member who answered first",
            extra={"leg": identity, "accepted": accepted},
        )
    wf.track.member_ended()
    return True
