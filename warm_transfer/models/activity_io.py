"""Inputs and outputs of the LiveKit activities: one model in, one model out each.

They are recorded in workflow history, so they carry identities, room names and
dialed numbers, never credentials: the LiveKit secret stays in the worker.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from warm_transfer.models.contract import BridgeStrategy
from warm_transfer.models.results import AttemptResult

LegRole = Literal["human", "voicemail"]
# How the caller and the human come together: MoveParticipant (LiveKit Cloud), or
# one room with closed subscriptions until the human accepts (self-hosted LiveKit).
Bridge = Literal["move", "same_room"]


class _ActivityModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HoldRequest(_ActivityModel):
    """Put the caller on hold, or take them off it, through the AI agent."""

    workflow_id: str
    room_name: str
    caller_identity: str
    agent_identity: str


class HoldResult(_ActivityModel):
    """What the engine found in the caller's room while putting them on hold.

    A missing agent is not an error (the hold still stands); a missing caller means
    the caller hung up before the transfer began.
    """

    agent_notified: bool
    caller_present: bool


class ConsultationRequest(_ActivityModel):
    """Choose how to bridge and, for ``move``, open the consultation room."""

    workflow_id: str
    room_name: str
    caller_room: str
    bridge: BridgeStrategy | None = None


class ConsultationResult(_ActivityModel):
    """The bridge chosen and the room humans are dialed into."""

    bridge: Bridge
    human_room: str


class RoomRequest(_ActivityModel):
    """A room the engine created and now deletes."""

    room_name: str
    workflow_id: str


class RoomResult(_ActivityModel):
    """``existed`` is false when a delete found the room already gone."""

    room_name: str
    existed: bool = True


class DialRequest(_ActivityModel):
    """Dial one SIP leg and wait, up to the ring timeout, for it to be answered."""

    workflow_id: str
    room_name: str
    participant_identity: str
    role: LegRole = "human"
    sip_call_to: str
    sip_trunk_id: str | None = None
    ring_timeout_s: float
    sip_number: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    dtmf: str | None = None
    destination_index: int = 0
    # same_room bridge: close the leg's ears and mouth before it can be answered.
    isolate: bool = False


class DialResult(_ActivityModel):
    """How the leg ended up: answered, or why not."""

    participant_identity: str
    result: AttemptResult
    sip_status_code: int | None = None
    reason: str | None = None


class LegRequest(_ActivityModel):
    """A SIP leg the engine dialed, to hang up."""

    room_name: str
    participant_identity: str


class LegResult(_ActivityModel):
    """``hung_up`` is false when the leg was already gone."""

    hung_up: bool


class BriefRequest(_ActivityModel):
    """Dispatch the briefing agent to the room where the human waits."""

    workflow_id: str
    room_name: str
    human_identity: str
    caller_room: str
    summary: str
    briefing_agent: str | None = None
    bridge: Bridge = "move"
    caller_identity: str = ""
    agent_identity: str = ""


class BriefResult(_ActivityModel):
    """The agent dispatch that briefs the human, and who was in the room then.

    ``participant_sids`` (identity -> participant SID of the human, and in
    ``same_room`` the caller and the AI agent) lets `WatchRequest` tell a participant
    that rejoined (a LiveKit restart) from one that stayed.
    """

    dispatch_id: str
    agent_name: str
    participant_sids: dict[str, str] = Field(default_factory=dict)


class WatchRequest(_ActivityModel):
    """Watch a briefing while the human decides (`watch_briefing`)."""

    brief: BriefRequest
    participant_sids: dict[str, str] = Field(default_factory=dict)


class BridgeRequest(_ActivityModel):
    """Put the caller and the accepting human in one room."""

    workflow_id: str
    caller_room: str
    caller_identity: str
    human_room: str
    human_identity: str
    bridge: Bridge = "move"


class BridgeResult(_ActivityModel):
    """``already_bridged`` is true when a previous attempt had done it."""

    already_bridged: bool


class AgentLeaveRequest(_ActivityModel):
    """Tell the AI agent to leave the caller's room, then remove it."""

    workflow_id: str
    room_name: str
    agent_identity: str


class AgentLeaveResult(_ActivityModel):
    """``removed`` is false when the agent had already left."""

    removed: bool


class ColdTransferRequest(_ActivityModel):
    """SIP REFER the caller to another number or URI."""

    workflow_id: str
    room_name: str
    caller_identity: str
    transfer_to: str
    ring_timeout_s: float = 30.0


class ColdTransferResult(_ActivityModel):
    """Whether the REFER was accepted, and the SIP status when it was not."""

    transferred: bool
    sip_status_code: int | None = None
    reason: str | None = None
