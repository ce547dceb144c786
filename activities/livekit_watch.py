"""Keeping a briefing whole while the human decides, through a LiveKit restart.

When livekit-server restarts, every participant joins its room again as a new
participant (a new SID): livekit-sip's legs, the caller, the AI agent. A new
participant is auto-subscribed to everyone and has its token's permissions, so in a
``same_room`` briefing the caller suddenly hears the human being briefed (and the
human the caller), and the briefing agent's job ends with its room connection; a
dispatch created just before the restart may never be assigned at all. Seen on the
real stack: the caller heard the human for the whole minute the engine then waited
for a decision nobody was there to take.

`watch_briefing` runs beside the wait for the human's decision (the workflow cancels
it when the wait ends). When a participant of the briefing comes back as a new one,
it isolates the human again (``same_room``) and briefs them again: the human's old
dispatches are deleted and a new one is created. Without a restart it only looks,
once a second, and never acts. It stops by itself once the bridge has marked the human
``bridged``: a cancellation reaches an activity only with its next heartbeat, seconds
later, and a re-isolation then would cut the caller off the human just bridged (seen
on the real stack, `livekit-server-restart-briefing`).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Final

import structlog
from livekit import api
from temporalio import activity

from activities.livekit_bridge import BridgeActivities
from activities.livekit_errors import is_retryable
from warm_transfer.models import BriefRequest, BriefResult, WatchRequest
from warm_transfer.wire import ATTR_STATE, BRIDGED

log = structlog.get_logger(__name__)

# At most this many briefings again per human: a LiveKit that keeps restarting is not
# fixed by briefing more.
MAX_REBRIEFS: Final = 3
# How long after the last rejoin the human is briefed again.
SETTLE_S: Final = 3.0
# After LiveKit failed to answer or a participant rejoined, the watch looks this often
# for this long: a rejoined participant is auto-subscribed to everyone until it is
# isolated again, so a one-second look would let the caller hear the human for a second.
FAST_POLL_S: Final = 0.1
FAST_FOR_S: Final = 15.0


class BriefingWatch(BridgeActivities):
    """The briefing's watcher, for `LiveKitActivities`."""

    watch_poll_s: float = 1.0

    @activity.defn
    async def watch_briefing(self, watch: WatchRequest) -> BriefResult:
        """Watches the briefing of ``watch.brief``'s human until cancelled (see the
        module); the participants' SIDs at the brief are ``watch.participant_sids``.

        Returns (instead of running on) once it has briefed the human again
        `MAX_REBRIEFS` times: the last dispatch.
        """
        req = watch.brief
        watched = [req.human_identity]
        if req.bridge == "same_room":
            watched += [p for p in (req.caller_identity, req.agent_identity) if p]
        known = dict(watch.participant_sids)
        rebriefs, dispatch_id = 0, ""
        agent_name = req.briefing_agent or self._defaults.briefing_agent
        loop = asyncio.get_running_loop()
        due: float | None = None  # when to brief again, once the room has settled
        fast_until = 0.0  # looks quickly until then (a restart under way)
        while rebriefs < MAX_REBRIEFS:
            activity.heartbeat(rebriefs)
            sids, bridged = await self._sids(req.room_name, req.human_identity)
            if bridged:
                break  # the decision is made and acted on: nothing left to keep whole
            if sids is None or req.human_identity not in sids:
                fast_until = loop.time() + FAST_FOR_S  # restarting, or the human rejoining
            if sids is not None and req.human_identity in sids:
                back = [p for p in watched if p in known and p in sids and sids[p] != known[p]]
                known.update({p: sids[p] for p in watched if p in sids})
                if back:
                    # Everyone rejoins within seconds of a restart: isolate each at once,
                    # brief once they are all back.
                    log.warning("briefing participants rejoined", who=back)
                    await self._isolate_again(req)
                    due = loop.time() + SETTLE_S
                    fast_until = loop.time() + FAST_FOR_S
                if due is not None and loop.time() >= due:
                    with contextlib.suppress(Exception):  # tried again on the next rejoin
                        await self._isolate_again(req)
                        dispatch_id = await self._brief_again(req, agent_name)
                        rebriefs += 1
                    due = None
            fast = loop.time() < fast_until
            await asyncio.sleep(min(FAST_POLL_S, self.watch_poll_s) if fast else self.watch_poll_s)
        return BriefResult(dispatch_id=dispatch_id, agent_name=agent_name)

    async def _isolate_again(self, req: BriefRequest) -> None:
        if req.bridge == "same_room":
            with contextlib.suppress(Exception):  # looked at again on the next pass
                await self._open_for_briefing(req, after_dial=False)

    async def _sids(self, room: str, human: str) -> tuple[dict[str, str] | None, bool]:
        """Identity -> participant SID in ``room`` (None when LiveKit cannot say now),
        and whether the bridge has marked ``human`` bridged."""
        try:
            listed = await self._lk.room.list_participants(api.ListParticipantsRequest(room=room))
        except Exception as err:
            if is_retryable(err) or isinstance(err, api.TwirpError):
                return None, False  # restarting, or the room is going: look again
            raise
        bridged = any(
            p.identity == human and p.attributes.get(ATTR_STATE) == BRIDGED
            for p in listed.participants
        )
        return {p.identity: p.sid for p in listed.participants}, bridged

    async def _brief_again(self, req: BriefRequest, agent_name: str) -> str:
        """Replaces the human's dispatches with a new one."""
        for dispatch in await self._lk.agent_dispatch.list_dispatch(req.room_name):
            if dispatch.agent_name == agent_name and req.human_identity in dispatch.metadata:
                await self._lk.agent_dispatch.delete_dispatch(dispatch.id, req.room_name)
        dispatch_id = await self._dispatch_briefing(req, agent_name)
        log.info("briefing dispatched again", leg=req.human_identity, dispatch=dispatch_id)
        return dispatch_id
