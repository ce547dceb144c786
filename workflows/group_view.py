"""How a ring group shows: its attempt, its part of the ``status`` query, its UI words.

Pure functions of a `RingGroup`; the `Tracker` calls them.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from warm_transfer.models import (
        Attempt,
        AttemptResult,
        GroupMemberStatus,
        GroupStatus,
        MemberAttempt,
    )
    from workflows.legs import RingGroup


def group_attempt(
    group: RingGroup, result: AttemptResult, reason: str | None, sip: int | None
) -> Attempt:
    """The attempt of a ring group: the member who answered (or the first member and
    the group's identity stem, when nobody did) and how every member's leg ended."""
    winner = group.winner
    members = [
        MemberAttempt(
            member_index=leg.member_index if leg.member_index is not None else m,
            sip_call_to=leg.sip_call_to,
            participant_identity=leg.identity,
            # A member still without an outcome was ringing when the group ended.
            outcome=leg.outcome or "cancelled",
            reason=leg.outcome_reason if leg.outcome is not None else reason,
            sip_status_code=leg.sip_status_code,
        )
        for m, leg in enumerate(group.members)
    ]
    return Attempt(
        destination_index=group.destination_index,
        sip_call_to=(winner or group.members[0]).sip_call_to,
        participant_identity=winner.identity if winner is not None else group.identity,
        result=result,
        reason=reason,
        sip_status_code=sip,
        members=members,
        answered_by=winner.member_index if winner is not None else None,
    )


def group_status(group: RingGroup) -> GroupStatus:
    """The ``group`` part of the ``status`` query."""
    winner = group.winner
    return GroupStatus(
        destination_index=group.destination_index,
        ringing=len(group.ringing()),
        answered_by=winner.member_index if winner is not None else None,
        members=[
            GroupMemberStatus(
                member_index=leg.member_index if leg.member_index is not None else m,
                sip_call_to=leg.sip_call_to,
                participant_identity=leg.identity,
                state=leg.outcome or "ringing",
            )
            for m, leg in enumerate(group.members)
        ],
    )


def group_details(group: RingGroup, words: str, position: str) -> str:
    """The Temporal UI's current details while a ring group is tried, e.g.
    ``Ringing 3 phones at once: +1..., +1..., +1... (ring group, 2 of 3)`` or
    ``Briefing +1..., who answered first of 3 phones (ring group, 2 of 3)``."""
    total = len(group.members)
    winner = group.winner
    if winner is None:
        ringing = group.ringing()
        count = f"{len(ringing)} of {total}" if len(ringing) < total else f"{total}"
        numbers = ", ".join(leg.sip_call_to for leg in ringing)
        return f"Ringing {count} phones at once: {numbers} (ring group, {position})"
    return (
        f"{words} {winner.sip_call_to}, who answered first of {total} phones "
        f"(ring group, {position})"
    )
