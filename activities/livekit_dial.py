"""Dialing a human: one SIP leg per call of `dial_human`, never two for one identity.

The dial looks before it acts (a participant holding the leg's identity means an
earlier attempt dialed it: that leg is followed), remembers in its heartbeat that the
call may have gone out (a retry after a dead worker then never dials again) and, for
``same_room``, closes the leg's ears and mouth as soon as it exists.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Final

import aiohttp
import structlog
from google.protobuf.duration_pb2 import Duration
from livekit import api
from livekit.api import ServerError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.livekit_base import ATTR_ROLE, ATTR_WORKFLOW_ID
from activities.livekit_errors import dial_failure, is_retryable
from activities.livekit_follow import DIAL_SENT, NOT_DIALED, LegFollowing, LegVanished
from warm_transfer.models import DialRequest, DialResult
from warm_transfer.timing import ring_grace_s

# A dial the workflow cancelled looks again this long after its first hang-up, for a
# leg LiveKit was still creating (its CreateSIPParticipant in flight) when it looked.
CANCELLED_DIAL_RECHECK_S: Final = 1.0

log = structlog.get_logger(__name__)


class DialActivities(LegFollowing):
    """The dial activity and its recovery, on top of consultation and bridging."""

    @activity.defn
    async def dial_human(self, req: DialRequest) -> DialResult:
        """Dials one SIP leg and waits until it is answered or fails.

        Looks before it acts: a participant already holding the leg's identity means a
        previous attempt dialed it, so that leg is followed instead of dialed again.
        A dial the workflow cancels (another member of a ring group answered, the
        caller left) hangs up the leg it placed: the workflow hangs legs up itself, but
        not one whose CreateSIPParticipant was still on its way. A dial cancelled for
        any other reason (the worker shutting down, a heartbeat timeout) leaves the leg
        ringing for the retry to follow.
        """
        try:
            return await self._dial(req)
        except asyncio.CancelledError:
            details = activity.cancellation_details()
            if details is not None and details.cancel_requested:
                await asyncio.shield(self._hang_up_cancelled(req))
            raise

    async def _dial(self, req: DialRequest) -> DialResult:
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

    async def _hang_up_cancelled(self, req: DialRequest) -> None:
        """Hangs up the leg of a cancelled dial, looking twice (see `dial_human`)."""
        for pause in (0.0, CANCELLED_DIAL_RECHECK_S):
            await asyncio.sleep(pause)
            try:
                if await self._remove(req.room_name, req.participant_identity, "cancelled_dial"):
                    log.info("cancelled dial hung up its leg", leg=req.participant_identity)
                    return
            except Exception as err:  # the workflow's own hang-up and clean-up remain
                log.warning(
                    "cancelled dial could not hang up",
                    leg=req.participant_identity,
                    error=str(err),
                )
                return

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
            # Not deaf again: the human_answered signal may already have started the
            # brief, which gave the human ears (seen on the real stack: made deaf 22 ms
            # after the brief opened, the human heard none of it).
            await self._isolate_when_dialed(
                req.room_name, req.participant_identity, follow=True, deafened=True
            )
        finally:
            for task in (isolation, call):
                if not task.done():
                    task.cancel()
                # A failure here is the dial's failure's echo: retrieved, not raised.
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

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
