"""The telephony actions of a warm transfer, one activity each, through `livekit-api`.

Every activity is idempotent: it looks before it acts (an existing participant with
the deterministic identity means the dial already happened) and treats "not found"
on hang-up or delete as done, so a retry or a restarted worker never rings a person
twice or leaves a leg behind.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Final

import aiohttp
import structlog
from google.protobuf.duration_pb2 import Duration
from livekit import api
from livekit.api import ServerError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.livekit_base import (
    ATTR_ROLE,
    ATTR_WORKFLOW_ID,
    CALL_STATUS,
    DATA_TOPIC,
    LiveKitDefaults,
)
from activities.livekit_bridge import BridgeActivities
from activities.livekit_errors import dial_failure, is_retryable, unless_not_found
from warm_transfer.models import (
    AgentLeaveRequest,
    AgentLeaveResult,
    ColdTransferRequest,
    ColdTransferResult,
    DialRequest,
    DialResult,
    HoldRequest,
    HoldResult,
    LegRequest,
    LegResult,
    RoomRequest,
    RoomResult,
)
from warm_transfer.timing import ring_grace_s

__all__ = ["DATA_TOPIC", "LiveKitActivities", "LiveKitDefaults"]

# Marks, in heartbeat details, that CreateSIPParticipant may have reached LiveKit.
DIAL_SENT: Final = "dial_sent"
# ... and that LiveKit said it placed no call, so a retry may dial.
NOT_DIALED: Final = "not_dialed"
# How late past the ring timeout LiveKit may still answer a dial before its leg's
# departure from the room is taken as the end of the call.
_LATE_ANSWER_S: Final = 2.0


class LegVanished(Exception):
    """The dialed leg left the room while LiveKit's answer to the dial was still due."""


log = structlog.get_logger(__name__)


class LiveKitActivities(BridgeActivities):
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
    async def dial_human(self, req: DialRequest) -> DialResult:
        """Dials one SIP leg and waits until it is answered or fails.

        Looks before it acts: a participant already holding the leg's identity means a
        previous attempt dialed it, so that leg is followed instead of dialed again.
        """
        if await self._find(req.room_name, req.participant_identity) is not None:
            log.info("following leg dialed by an earlier attempt", leg=req.participant_identity)
            return await self._follow_leg(req)
        if DIAL_SENT in activity.info().heartbeat_details:
            # The worker died after sending the dial and the leg is gone: it rang and
            # ended. Ringing the person again is the one thing we must not do.
            return DialResult(
                participant_identity=req.participant_identity,
                result="failed",
                reason="the leg ended before this retry could follow it; not redialing",
            )
        trunk = req.sip_trunk_id or self._defaults.sip_trunk_id
        if not trunk:
            raise ApplicationError(
                f"destinations[{req.destination_index}].sip_trunk_id: none given and the "
                "worker has no SIP_TRUNK_ID",
                type="MissingTrunk",
                non_retryable=True,
            )
        activity.heartbeat(DIAL_SENT)
        log.info("dialing", leg=req.participant_identity, sip_call_to=req.sip_call_to)
        try:
            async with self._heartbeating(DIAL_SENT):
                await self._place_call(req, trunk)
        except LegVanished:
            log.warning("leg left while its dial was unanswered", leg=req.participant_identity)
            return DialResult(
                participant_identity=req.participant_identity,
                result="failed",
                reason="the leg left the room past its ring timeout while LiveKit never "
                "answered the dial (livekit-sip lost the call); not redialing",
            )
        except ServerError as err:
            if is_retryable(err):
                # LiveKit answered (5xx or 429, no SIP status): it placed no call. Said
                # before the look below can fail too, so a retry dials.
                activity.heartbeat(NOT_DIALED)
                return await self._recover_dial(req, err)
            result, code, reason = dial_failure(err)
            log.info("leg not answered", leg=req.participant_identity, result=result, sip=code)
            return DialResult(
                participant_identity=req.participant_identity,
                result=result,
                sip_status_code=code,
                reason=reason,
            )
        except Exception as err:
            if is_retryable(err):
                # No answer at all (connection lost, timeout): the call may be placed.
                return await self._recover_dial(req, err, maybe_placed=True)
            raise
        log.info("leg answered", leg=req.participant_identity)
        return DialResult(participant_identity=req.participant_identity, result="answered")

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

    async def _place_call(self, req: DialRequest, trunk: str) -> None:
        """CreateSIPParticipant, waiting for the answer; for a ``same_room`` bridge the
        leg is isolated meanwhile, as soon as it exists."""
        # The client's own deadline (ring timeout + 2 s) is too short once livekit-sip
        # is slow to set the leg up; a lost answer would end the attempt as "failed".
        create = self._lk.sip.create_sip_participant(
            self._dial_request(req, trunk),
            timeout=req.ring_timeout_s + ring_grace_s(req.ring_timeout_s),
        )
        if not req.isolate:
            await create
            return
        joined = asyncio.Event()
        isolation = asyncio.create_task(
            self._isolate_when_dialed(req.room_name, req.participant_identity, seen=joined)
        )
        call = asyncio.ensure_future(create)
        try:
            await self._answer_unless_vanished(req, call, joined)
            await isolation
            # Once more now it is answered: livekit-server subscribes the room to a new
            # track a moment after it is published, and an unsubscribe that beat that
            # moment was undone by it. By the answer every auto-subscription has landed.
            await self._isolate_when_dialed(req.room_name, req.participant_identity, follow=True)
        finally:
            for task in (isolation, call):
                if not task.done():
                    task.cancel()
                # A failure here is the dial's failure's echo: retrieved, not raised.
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _answer_unless_vanished(
        self, req: DialRequest, call: asyncio.Future[Any], joined: asyncio.Event
    ) -> None:
        """Awaits LiveKit's answer to the dial (raising its error).

        By the ring timeout LiveKit has answered, one way or another, unless the
        livekit-sip placing the call died: livekit-server then drops the leg (its
        connection timeout) and never answers the request, and the caller would stay
        on hold until the request's own deadline. So past the ring timeout a leg that
        was in the room (``joined``: the isolation found it) and has left ends the wait
        with `LegVanished`.
        """
        await asyncio.wait({call}, timeout=req.ring_timeout_s + _LATE_ANSWER_S)
        while not call.done():
            if (
                joined.is_set()
                and await self._find(req.room_name, req.participant_identity) is None
            ):
                await asyncio.wait({call}, timeout=1.0)  # an answer already in flight
                if not call.done():
                    raise LegVanished(req.participant_identity)
            await asyncio.wait({call}, timeout=1.0)
        call.result()

    def _dial_request(self, req: DialRequest, trunk: str) -> api.CreateSIPParticipantRequest:
        return api.CreateSIPParticipantRequest(
            sip_trunk_id=trunk,
            sip_call_to=req.sip_call_to,
            sip_number=req.sip_number or "",
            room_name=req.room_name,
            participant_identity=req.participant_identity,
            participant_name="Voicemail" if req.role == "voicemail" else "Human agent",
            participant_attributes={ATTR_WORKFLOW_ID: req.workflow_id, ATTR_ROLE: req.role},
            headers=req.headers,
            dtmf=req.dtmf or "",
            ringing_timeout=Duration(seconds=max(1, round(req.ring_timeout_s))),
            wait_until_answered=True,
        )

    async def _recover_dial(
        self, req: DialRequest, err: BaseException, *, maybe_placed: bool = False
    ) -> DialResult:
        """After a failure that may or may not have placed the call, look and decide."""
        if await self._find(req.room_name, req.participant_identity) is not None:
            return await self._follow_leg(req)
        if maybe_placed and not isinstance(err, aiohttp.ClientConnectorError):
            # The dial went out and its answer was lost: LiveKit may have placed the
            # call, already over (busy, declined). Ringing someone twice is worse than
            # giving this destination up.
            log.warning("dial lost after it was sent", leg=req.participant_identity, error=str(err))
            return DialResult(
                participant_identity=req.participant_identity,
                result="failed",
                reason=f"the answer to the dial was lost ({type(err).__name__}) and no leg "
                "exists; not redialing",
            )
        # Nothing was placed: let Temporal retry the dial.
        activity.heartbeat(NOT_DIALED)
        log.warning(
            "dial failed before a leg existed", leg=req.participant_identity, error=str(err)
        )
        raise err

    async def _follow_leg(self, req: DialRequest) -> DialResult:
        """Waits for an already-dialed leg to be answered or to go away.

        livekit-sip hangs a leg up itself once it has rung for its ringing timeout, so a
        leg still there, with its track, well past that time was answered, whatever its
        ``sip.callStatus`` says: after livekit-server restarts, livekit-sip joins each
        leg to the room again as a new participant with the dial's first attributes
        (``dialing``), and an answer that came in between is never reported. That leg
        is taken as answered then, rather than hanging up a human who picked up. A
        rejoined leg is also a new participant the room has auto-subscribed to: for a
        ``same_room`` bridge it is isolated again whenever its participant changes.
        """
        loop = asyncio.get_running_loop()
        # livekit-sip's ring timeout runs from its INVITE, just after the first attempt
        # was scheduled; this attempt may be a retry that started long after.
        scheduled = activity.info().scheduled_time
        waited = max(0.0, (datetime.now(UTC) - scheduled).total_seconds())
        ring_over = loop.time() - waited + req.ring_timeout_s + ring_grace_s(req.ring_timeout_s)
        deadline = ring_over + 2 * self._defaults.follow_poll_s
        isolated: str | None = None
        while loop.time() < deadline:
            activity.heartbeat(DIAL_SENT)
            participant = await self._find(req.room_name, req.participant_identity)
            if participant is None:
                return DialResult(
                    participant_identity=req.participant_identity,
                    result="no_answer",
                    reason="the leg ended before it was answered",
                )
            if req.isolate and participant.tracks and participant.sid != isolated:
                # The earlier attempt may have died before it closed the leg, or the leg
                # rejoined (a new participant, auto-subscribed by the room).
                await asyncio.wait_for(
                    self._isolate_when_dialed(req.room_name, req.participant_identity, follow=True),
                    req.ring_timeout_s,
                )
                isolated = participant.sid
            status = participant.attributes.get(CALL_STATUS)
            inferred = status != "active" and bool(participant.tracks) and loop.time() >= ring_over
            if status == "active" or inferred:
                if req.isolate:
                    # Once more, as after a first-hand answer: every auto-subscription
                    # to the leg has landed by now.
                    await self._isolate_when_dialed(
                        req.room_name, req.participant_identity, follow=True
                    )
            if status == "active":
                return DialResult(participant_identity=req.participant_identity, result="answered")
            if inferred:
                log.warning(
                    "leg still up past its ring timeout: answered, its status lost",
                    leg=req.participant_identity,
                    status=status,
                )
                return DialResult(
                    participant_identity=req.participant_identity,
                    result="answered",
                    reason=f"still up past its ring timeout (LiveKit said {status!r})",
                )
            await asyncio.sleep(self._defaults.follow_poll_s)
        return DialResult(
            participant_identity=req.participant_identity,
            result="no_answer",
            reason="not answered within the ring timeout",
        )

    async def _tag_caller(self, req: HoldRequest, state: str) -> bool:
        attributes = {
            ATTR_WORKFLOW_ID: req.workflow_id,
            ATTR_ROLE: "caller",
            "warm_transfer.state": state,
        }
        update = api.UpdateParticipantRequest(
            room=req.room_name, identity=req.caller_identity, attributes=attributes
        )
        return await unless_not_found("tag_caller", self._lk.room.update_participant(update))
