"""Following a SIP leg that is already dialed, and noticing one that LiveKit lost.

Two things the real stack does that a dial must survive:

- livekit-sip SIGKILLed mid-ring: livekit-server drops the leg after its connection
  timeout and never answers the CreateSIPParticipant request, so the wait for the
  answer would run to the request's own deadline with the caller on hold.
- livekit-server restarted: livekit-sip joins every live leg to its room again as a
  new participant, with the dial's first attributes (``sip.callStatus`` = ``dialing``),
  and an answer that came in between is never reported.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, Final

import structlog
from temporalio import activity

from activities.livekit_base import CALL_STATUS
from activities.livekit_bridge import BridgeActivities
from warm_transfer.models import DialRequest, DialResult
from warm_transfer.timing import ring_grace_s

__all__ = ["DIAL_SENT", "NOT_DIALED", "LegFollowing", "LegVanished"]

# Marks, in heartbeat details, that CreateSIPParticipant may have reached LiveKit.
DIAL_SENT: Final = "dial_sent"
# ... and that LiveKit said it placed no call, so a retry may dial.
NOT_DIALED: Final = "not_dialed"
# How late past the ring timeout LiveKit may still answer a dial before its leg's
# departure from the room is taken as the end of the call.
_LATE_ANSWER_S: Final = 2.0

log = structlog.get_logger(__name__)


class LegVanished(Exception):
    """The dialed leg left the room while LiveKit's answer to the dial was still due."""


class LegFollowing(BridgeActivities):
    """Waiting on a leg: LiveKit's answer to its dial, or the leg itself."""

    async def _answer_unless_vanished(
        self, req: DialRequest, call: asyncio.Future[Any], joined: asyncio.Event
    ) -> None:
        """Awaits LiveKit's answer to the dial (raising its error).

        By the ring timeout LiveKit has answered, one way or another, unless the
        livekit-sip placing the call died (see the module). So past the ring timeout a
        leg that was in the room (``joined``: the isolation found it) and has left ends
        the wait with `LegVanished`.
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

    async def _follow_leg(self, req: DialRequest) -> DialResult:
        """Waits for an already-dialed leg to be answered or to go away.

        livekit-sip hangs a leg up itself once it has rung for its ringing timeout, so a
        leg still there, with its track, well past that time was answered, whatever its
        ``sip.callStatus`` says (a livekit-server restart resets it to ``dialing``).
        That leg is taken as answered, rather than hanging up a human who picked up. A
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
            if (status == "active" or inferred) and req.isolate:
                # Once more, as after a first-hand answer: every auto-subscription to the
                # leg has landed by now. Not deaf again if this look made it deaf: the
                # brief may have given the human ears already.
                await self._isolate_when_dialed(
                    req.room_name,
                    req.participant_identity,
                    follow=True,
                    deafened=isolated == participant.sid,
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
