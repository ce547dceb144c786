"""Bridge strategies: how the human is briefed in private and then joined to the caller.

``move`` (LiveKit Cloud): the human is dialed into a consultation room, briefed there
and moved into the caller's room with MoveParticipant. The human moves, not the
caller, so the caller's SIP session, room and any recording stay as they were.

``same_room`` (self-hosted livekit-server, whose MoveParticipant is not implemented:
it answers ``unknown``/500 "not implemented"): the human is dialed straight into the
caller's room, with every ear and mouth closed before the phone can be answered
(permissions), then opened to the briefing only (subscriptions), and to the caller at
the bridge. The caller keeps hearing the AI agent's hold audio throughout.

``auto`` probes MoveParticipant once per worker (per LiveKit URL), when the worker
starts, and remembers.
"""

from __future__ import annotations

import asyncio
import json

import structlog
from livekit import api
from livekit.api import ServerError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.livekit_ears import SameRoomEars, track_sids
from activities.livekit_errors import (
    is_not_found,
    is_retryable,
    is_unrouted,
    is_unsupported,
    livekit_errors,
)
from warm_transfer.models import (
    Bridge,
    BridgeRequest,
    BridgeResult,
    BriefRequest,
    BriefResult,
    ConsultationRequest,
    ConsultationResult,
)
from warm_transfer.wire import BRIDGED

log = structlog.get_logger(__name__)

_PROBE_ROOM = "warm-transfer-bridge-probe"


class BridgeActivities(SameRoomEars):
    """Consultation, briefing and bridging, for both bridge strategies."""

    _probe: asyncio.Task[bool] | None = None

    @activity.defn
    async def open_consultation(self, req: ConsultationRequest) -> ConsultationResult:
        """Chooses the bridge and, for ``move``, creates the consultation room."""
        bridge = await self._choose_bridge(req)
        if bridge == "same_room":
            return ConsultationResult(bridge=bridge, human_room=req.caller_room)
        metadata = json.dumps({"workflow_id": req.workflow_id, "purpose": "consultation"})
        with livekit_errors("open_consultation"):
            await self._lk.room.create_room(
                api.CreateRoomRequest(
                    name=req.room_name,
                    # A safety net: LiveKit closes the room by itself if we never can.
                    empty_timeout=self._defaults.room_empty_timeout_s,
                    metadata=metadata,
                )
            )
        return ConsultationResult(bridge=bridge, human_room=req.room_name)

    @activity.defn
    async def brief_human(self, req: BriefRequest) -> BriefResult:
        """Dispatches the briefing agent to the human's room, once per human.

        In ``same_room`` the human is first given ears and a voice for the briefing
        only: everyone else's subscriptions to the human, and the human's to the caller
        and the AI agent, are closed before the human's permissions open.
        """
        if req.bridge == "same_room":
            sids = await self._open_for_briefing(req)
        else:
            human = await self._find(req.room_name, req.human_identity)
            sids = {req.human_identity: human.sid} if human is not None else {}
        agent_name = req.briefing_agent or self._defaults.briefing_agent
        with livekit_errors("brief_human"):
            for dispatch in await self._lk.agent_dispatch.list_dispatch(req.room_name):
                if dispatch.agent_name == agent_name and req.human_identity in dispatch.metadata:
                    return BriefResult(
                        dispatch_id=dispatch.id, agent_name=agent_name, participant_sids=sids
                    )
            dispatch_id = await self._dispatch_briefing(req, agent_name)
        log.info("briefing dispatched", leg=req.human_identity, agent=agent_name)
        return BriefResult(dispatch_id=dispatch_id, agent_name=agent_name, participant_sids=sids)

    async def _dispatch_briefing(self, req: BriefRequest, agent_name: str) -> str:
        """CreateDispatch of the briefing agent for ``req``'s human; the dispatch id."""
        metadata = {
            "workflow_id": req.workflow_id,
            "human_identity": req.human_identity,
            "caller_room": req.caller_room,
            "caller_identity": req.caller_identity,
            "bridge": req.bridge,
            "summary": req.summary,
        }
        dispatch = await self._lk.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(
                agent_name=agent_name, room=req.room_name, metadata=json.dumps(metadata)
            )
        )
        return dispatch.id

    @activity.defn
    async def bridge_caller(self, req: BridgeRequest) -> BridgeResult:
        """Puts the accepting human and the caller together."""
        if req.bridge == "same_room":
            return await self._open_to_caller(req)
        # Act first and look only when it fails: the look would be one more LiveKit
        # round trip of dead air for the caller. A retry after a move that went through
        # finds the human gone from the consultation room and already with the caller.
        with livekit_errors("bridge_caller"):
            try:
                await self._lk.room.move_participant(
                    api.MoveParticipantRequest(
                        room=req.human_room,
                        identity=req.human_identity,
                        destination_room=req.caller_room,
                    )
                )
            except ServerError as err:
                if not is_not_found(err):
                    raise
                if await self._find(req.caller_room, req.human_identity) is None:
                    raise
                return BridgeResult(already_bridged=True)
        log.info("caller bridged", room=req.caller_room, leg=req.human_identity, bridge="move")
        return BridgeResult(already_bridged=False)

    # -- same_room --------------------------------------------------------------------

    async def _open_to_caller(self, req: BridgeRequest) -> BridgeResult:
        # Three round trips to LiveKit, each one the caller waits through: both legs
        # looked up at once; the human marked and given ears in one update; both ways
        # subscribed at once.
        room, human_identity = req.caller_room, req.human_identity
        human, caller = await asyncio.gather(
            self._find(room, human_identity), self._find(room, req.caller_identity)
        )
        if human is None:
            raise self._gone(human_identity)
        # Marked first: a briefing watch (`watch_briefing`) that has not yet seen its
        # cancellation must not isolate the human again once the bridge has begun. The
        # ears in the same update, before the subscriptions: once briefed, the human is
        # subscribed to nobody until just below; an accept before the briefing (out of
        # order) left the leg deaf, and this opens it.
        await self._set_permission(room, human_identity, hearing=True, state=BRIDGED)
        await asyncio.gather(
            self._subscribe(room, req.caller_identity, track_sids(human), subscribe=True),
            self._subscribe(room, human_identity, track_sids(caller), subscribe=True),
        )
        log.info("caller bridged", room=room, leg=human_identity, bridge="same_room")
        return BridgeResult(already_bridged=False)

    @staticmethod
    def _gone(identity: str) -> ApplicationError:
        return ApplicationError(
            f"bridge_caller: {identity!r} left before the bridge",
            type="LegGone",
            non_retryable=True,
        )

    # -- choosing ---------------------------------------------------------------------

    async def _choose_bridge(self, req: ConsultationRequest) -> Bridge:
        wanted = req.bridge or self._defaults.bridge
        if wanted != "auto":
            return wanted
        return "move" if await self.probe_bridge() else "same_room"

    async def probe_bridge(self) -> bool:
        """Whether this LiveKit moves participants; probed once, shared by every caller.

        The worker starts it when it starts, so no caller's hold pays for it; a probe
        that failed (LiveKit unreachable) is tried again by the next caller.
        """
        probe = self._probe
        if probe is None or (probe.done() and probe.exception() is not None):
            probe = self._probe = asyncio.create_task(self._probe_move())
        return await asyncio.shield(probe)

    async def _probe_move(self) -> bool:
        """Asks LiveKit to move a participant that does not exist. Nothing is touched.

        LiveKit Cloud says ``not_found``; self-hosted livekit-server finds no node for it
        (``unavailable`` "no response from servers", after 3 s) or, for a participant it
        does host, "not implemented". Anything else transient is raised to be retried.
        """
        try:
            await self._lk.room.move_participant(
                api.MoveParticipantRequest(
                    room=_PROBE_ROOM, identity=_PROBE_ROOM, destination_room=f"{_PROBE_ROOM}-2"
                )
            )
        except ServerError as err:
            if is_unsupported(err) or is_unrouted(err):
                log.info("bridge strategy probed", move_supported=False, answer=err.code)
                return False
            if is_retryable(err):
                raise
        log.info("bridge strategy probed", move_supported=True)
        return True
