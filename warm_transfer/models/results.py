"""What a transfer reports: its attempts, the ``status`` query and its outcome.

A ring group (one entry of the hunt list rung at once) is one attempt like any other
destination, with two more fields: ``members``, how each member's leg ended, and
``answered_by``, the member who answered first. Attempts of plain destinations carry
neither and serialize exactly as they always have.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, model_serializer

Stage = Literal["holding", "dialing", "briefing", "bridging", "fallback", "done"]
OutcomeKind = Literal[
    "connected", "voicemail", "cold_transferred", "returned_to_agent", "caller_hung_up"
]
AttemptResult = Literal["answered", "no_answer", "busy", "declined", "failed"]
# How one member's leg of a ring group ended: as an attempt would, or ``cancelled``
# (still ringing when the group ended: another member answered first, the caller hung
# up, the operator skipped or cancelled, the deadline came), or ``answered_late``
# (picked up after another member had been chosen: hung up at once).
MemberOutcome = Literal[
    "answered", "no_answer", "busy", "declined", "failed", "cancelled", "answered_late"
]
MemberState = Literal[
    "ringing", "answered", "no_answer", "busy", "declined", "failed", "cancelled", "answered_late"
]


def _without_unset(data: Any, keys: tuple[str, ...]) -> Any:
    """Drops ``keys`` whose value is None: the fields a plain destination never has."""
    if isinstance(data, dict):
        for key in keys:
            if data.get(key, 0) is None:
                del data[key]
    return data


class MemberAttempt(BaseModel):
    """One member of a ring group, and how its leg ended."""

    member_index: int
    sip_call_to: str
    participant_identity: str
    outcome: MemberOutcome
    reason: str | None = None
    sip_status_code: int | None = None


class Attempt(BaseModel):
    """One destination (or ring group) tried, and how it ended.

    For a group, ``sip_call_to`` and ``participant_identity`` are the member who
    answered (or, when nobody did, the first member's number and the group's identity
    stem ``<workflow id>-human-<n>``), ``result`` is the group's, ``members`` has one
    entry per member and ``answered_by`` is the ``member_index`` that answered first.
    """

    destination_index: int
    sip_call_to: str
    participant_identity: str
    result: AttemptResult
    reason: str | None = None
    sip_status_code: int | None = None
    members: list[MemberAttempt] | None = None
    answered_by: int | None = None

    @model_serializer(mode="wrap")
    def _plain_stays_plain(self, handler: SerializerFunctionWrapHandler) -> Any:
        return _without_unset(handler(self), ("members", "answered_by"))


class GroupMemberStatus(BaseModel):
    """A member of the ring group being tried, as the ``status`` query shows it."""

    member_index: int
    sip_call_to: str
    participant_identity: str
    state: MemberState


class GroupStatus(BaseModel):
    """The ring group being tried: how many phones ring and who answered."""

    destination_index: int
    ringing: int
    answered_by: int | None = None
    members: list[GroupMemberStatus] = Field(default_factory=list)


class TransferStatus(BaseModel):
    """What the ``status`` query returns.

    While a ring group rings, ``participant_identity`` is null (several legs ring) and
    ``group`` says which; once a member answered, it is that member's leg.
    """

    stage: Stage
    destination_index: int | None = None
    participant_identity: str | None = None
    outcome: OutcomeKind | None = None
    destinations_total: int = 0
    attempts: list[Attempt] = Field(default_factory=list)
    bridge: Literal["move", "same_room"] | None = None
    details: str = ""
    group: GroupStatus | None = None

    @model_serializer(mode="wrap")
    def _plain_stays_plain(self, handler: SerializerFunctionWrapHandler) -> Any:
        return _without_unset(handler(self), ("group",))


class TransferOutcome(BaseModel):
    """The result of ``WarmTransferWorkflow``."""

    outcome: OutcomeKind
    destination: str | None = None
    attempts: list[Attempt] = Field(default_factory=list)
    participant_identity: str | None = None
    reason: str | None = None
    fallback_error: str | None = None
