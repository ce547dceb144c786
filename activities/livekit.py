"""The telephony actions of a warm transfer, one activity each, through `livekit-api`.

Every activity is idempotent: it looks before it acts (an existing participant with
the deterministic identity means the dial already happened) and treats "not found"
on hang-up or delete as done, so a retry or a restarted worker never rings a person
twice or leaves a leg behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from google.protobuf.duration_pb2 import Duration
from livekit import api
from livekit.api import ServerError
from temporalio import activity

from activities.livekit_base import (
    ATTR_ROLE,
    ATTR_WORKFLOW_ID,
    DATA_TOPIC,
    LiveKitDefaults,
)
from activities.livekit_dial import DialActivities
from activities.livekit_errors import dial_failure, is_retryable, unless_not_found
from activities.livekit_follow import DIAL_SENT, NOT_DIALED
from activities.livekit_watch import BriefingWatch
from warm_transfer.models import (
    AgentLeaveRequest,
    AgentLeaveResult,
    ColdTransferRequest,
    ColdTransferResult,
    HoldRequest,
    HoldResult,
    LegRequest,
    LegResult,
    RoomRequest,
    RoomResult,
)
from warm_transfer.wire import ATTR_STATE

__all__ = ["DATA_TOPIC", "DIAL_SENT", "NOT_DIALED", "LiveKitActivities", "LiveKitDefaults"]

log = structlog.get_logger(__name__)


class LiveKitActivities(DialActivities, BriefingWatch):
    """The LiveKit side of a warm transfer, built once per worker around one client."""

    def registered(self) -> list[Callable[..., Awaitable[Any]]]:
        """Every activity of this class, for ``Worker(activities=...)``."""
        return [
            self.start_hold,
            self.stop_hold,
            self.open_consultation,
            self.delete_room,
            self.dial_human,
            self.hang_up_leg,
            self.brief_human,
            self.watch_briefing,
            self.bridge_caller,
            self.remove_agent,
            self.cold_transfer,
        ]

    # -- hold -------------------------------------------------------------------------

    @activity.defn
    async def start_hold(self, req: HoldRequest) -> HoldResult:
        """Tags the caller for webhook routing and tells the AI agent to play hold audio."""
        return await self._hold(req, "on_hold", "hold_started", "caller on hold")

    @activity.defn
    async def stop_hold(self, req: HoldRequest) -> HoldResult:
        """Tells the AI agent to take the caller off hold and carry on the call."""
        return await self._hold(req, "with_agent", "hold_stopped", "caller off hold")

    async def _hold(self, req: HoldRequest, state: str, event: str, message: str) -> HoldResult:
        # Independent calls, made together: one LiveKit round trip before the dial.
        caller_present, notified = await asyncio.gather(
            self._tag_caller(req, state),
            self._notify_agent(req.room_name, req.agent_identity, event),
        )
        log.info(message, room=req.room_name, caller_present=caller_present)
        return HoldResult(agent_notified=notified, caller_present=caller_present)

    # -- rooms and legs ---------------------------------------------------------------

    @activity.defn
    async def delete_room(self, req: RoomRequest) -> RoomResult:
        """Deletes a room the engine created; a room already gone counts as deleted."""
        existed = await unless_not_found(
            "delete_room", self._lk.room.delete_room(api.DeleteRoomRequest(room=req.room_name))
        )
        return RoomResult(room_name=req.room_name, existed=existed)

    # -- legs -------------------------------------------------------------------------

    @activity.defn
    async def hang_up_leg(self, req: LegRequest) -> LegResult:
        """Hangs up a SIP leg (RemoveParticipant); a leg already gone counts as hung up."""
        hung_up = await self._remove(req.room_name, req.participant_identity, "hang_up_leg")
        log.info("leg hung up", leg=req.participant_identity, was_present=hung_up)
        return LegResult(hung_up=hung_up)

    # -- leave, cold transfer ---------------------------------------------------------

    @activity.defn
    async def remove_agent(self, req: AgentLeaveRequest) -> AgentLeaveResult:
        """Tells the AI agent to leave (data message), then removes it from the room."""
        told = await self._notify_agent(req.room_name, req.agent_identity, "leave")
        if told and self._defaults.agent_goodbye_s > 0:
            # The caller is already with the human: this only lets the agent finish its
            # goodbye instead of being cut off mid-word.
            await asyncio.sleep(self._defaults.agent_goodbye_s)
        removed = await self._remove(req.room_name, req.agent_identity, "remove_agent")
        log.info("agent removed", room=req.room_name, was_present=removed)
        return AgentLeaveResult(removed=removed)

    @activity.defn
    async def cold_transfer(self, req: ColdTransferRequest) -> ColdTransferResult:
        """SIP REFERs the caller away (TransferSIPParticipant)."""
        if await self._find(req.room_name, req.caller_identity) is None:
            # After a retry, a caller gone means the REFER went through.
            transferred = activity.info().attempt > 1
            reason = None if transferred else "the caller is no longer in the room"
            return ColdTransferResult(transferred=transferred, reason=reason)
        transfer = api.TransferSIPParticipantRequest(
            room_name=req.room_name,
            participant_identity=req.caller_identity,
            transfer_to=req.transfer_to,
            ringing_timeout=Duration(seconds=round(req.ring_timeout_s)),
        )
        try:
            async with self._heartbeating("refer_sent"):
                await self._lk.sip.transfer_sip_participant(transfer)
        except ServerError as err:
            if is_retryable(err):
                raise
            _, code, reason = dial_failure(err)
            log.info("cold transfer refused", room=req.room_name, sip=code)
            return ColdTransferResult(transferred=False, sip_status_code=code, reason=reason)
        log.info("caller cold-transferred", room=req.room_name, transfer_to=req.transfer_to)
        return ColdTransferResult(transferred=True)

    # -- helpers ----------------------------------------------------------------------

    async def _tag_caller(self, req: HoldRequest, state: str) -> bool:
        attributes = {
            ATTR_WORKFLOW_ID: req.workflow_id,
            ATTR_ROLE: "caller",
            ATTR_STATE: state,
        }
        update = api.UpdateParticipantRequest(
            room=req.room_name, identity=req.caller_identity, attributes=attributes
        )
        return await unless_not_found("tag_caller", self._lk.room.update_participant(update))
