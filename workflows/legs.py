"""The legs of a transfer: who is dialed, under which identity, and what to undo.

Identities derive from the workflow id and the attempt number, never from chance, so
a retried dial looks up the same leg instead of dialing a new one: the n-th entry of
the hunt is ``<workflow id>-human-<n>``, and member m (from 1) of a ring group tried as
the n-th entry is ``<workflow id>-human-<n>-<m>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from warm_transfer.models import AttemptResult, DestinationGroup, MemberOutcome


def leg_identity(workflow_id: str, attempt: int) -> str:
    """The participant identity of a dialed human: derived, never random, so a retry
    looks up the same leg instead of dialing a new one."""
    return f"{workflow_id}-human-{attempt}"


def member_identity(workflow_id: str, attempt: int, member: int) -> str:
    """The identity of member ``member`` (from 1) of the ring group tried as attempt
    ``attempt``: as deterministic as a single leg's, and distinct from every other."""
    return f"{leg_identity(workflow_id, attempt)}-{member}"


def voicemail_identity(workflow_id: str) -> str:
    """The participant identity of the voicemail leg of a transfer."""
    return f"{workflow_id}-voicemail"


def consultation_room(workflow_id: str) -> str:
    """The room where humans are dialed and briefed, away from the caller."""
    return f"{workflow_id}-consult"


@dataclass
class Leg:
    """A dialed human and what the signals said about them."""

    identity: str
    room: str
    destination_index: int
    sip_call_to: str
    answered: bool = False
    decision: str | None = None  # "accepted" or "declined", first one wins
    decline_reason: str = ""
    skip_reason: str | None = None
    dialed_at: datetime | None = None
    accepted_at: datetime | None = None
    # A member of a ring group: its group, its index in it, and how its leg ended.
    group: RingGroup | None = field(default=None, compare=False, repr=False)
    member_index: int | None = None
    outcome: MemberOutcome | None = None
    outcome_reason: str | None = None
    sip_status_code: int | None = None

    def end(self, outcome: MemberOutcome, reason: str | None, sip: int | None = None) -> None:
        """Records how a group member's leg ended (the first word stands)."""
        if self.outcome is None:
            self.outcome, self.outcome_reason, self.sip_status_code = outcome, reason, sip


@dataclass(eq=False)
class RingGroup:
    """A ring group being tried: every member rings at once, the first to answer wins.

    ``winner`` is set once and never changes: it is the only member ever briefed or
    bridged. Everything here runs on the workflow's one thread, in history order, so
    two answers in one workflow task still have a first.
    """

    identity: str  # the stem of the members' identities, ``<workflow id>-human-<n>``
    destination_index: int
    ring_timeout_s: float
    members: list[Leg]
    winner: Leg | None = None
    skip_reason: str | None = None
    ended: bool = False  # its attempt is recorded

    @classmethod
    def of(
        cls, workflow_id: str, attempt: int, room: str, index: int, entry: DestinationGroup
    ) -> RingGroup:
        """The group for ``entry``, the ``index``-th entry of the hunt, tried as ``attempt``."""
        members = [
            Leg(
                identity=member_identity(workflow_id, attempt, m + 1),
                room=room,
                destination_index=index,
                sip_call_to=dest.sip_call_to,
                member_index=m,
            )
            for m, dest in enumerate(entry.group)
        ]
        group = cls(leg_identity(workflow_id, attempt), index, entry.ring_timeout_s, members)
        for leg in members:
            leg.group = group
        return group

    def member_named(self, identity: str) -> Leg | None:
        """The member with that identity, if any."""
        return next((leg for leg in self.members if leg.identity == identity), None)

    def ringing(self) -> list[Leg]:
        """Members whose leg has not ended (and who did not answer)."""
        return [leg for leg in self.members if leg.outcome is None]

    def settled(self) -> bool:
        """Someone answered, or every member's leg ended."""
        return self.winner is not None or not self.ringing()

    def answered(self, leg: Leg) -> bool:
        """``leg`` picked up. The first member to pick up wins; a later one is marked
        ``answered_late`` (its leg is hung up with the others). True for the winner."""
        if self.winner is None and not self.ended and leg.outcome is None:
            self.winner = leg
            leg.answered = True
            leg.outcome = "answered"
            return True
        if leg is not self.winner and leg.outcome in (None, "cancelled"):
            leg.outcome, leg.outcome_reason = "answered_late", "another member answered first"
        return leg is self.winner

    def unanswered_result(self) -> tuple[AttemptResult, int | None]:
        """The group's result when nobody answered: the most hopeful of its members'
        (a phone that rang out says more than a busy one, a busy one more than a
        refusal, a refusal more than a failure), with that member's SIP status."""
        for result in ("no_answer", "busy", "declined", "failed"):
            for leg in self.members:
                if leg.outcome == result:
                    return result, leg.sip_status_code
        return "no_answer", None


@dataclass
class Ledger:
    """What the engine created in LiveKit and must undo on every exit path."""

    legs: dict[str, str] = field(default_factory=dict)  # identity -> room it is in
    rooms: list[str] = field(default_factory=list)
    on_hold: bool = False
