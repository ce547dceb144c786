"""Who hears whom in ``same_room``: a dialed human's leg is deaf and unheard while it
rings, hears only the briefing once answered, and the caller at the bridge.

Everything here works through permissions and subscriptions, the only tools a
self-hosted livekit-server gives (`livekit_bridge`'s module docstring). The leg's
``warm_transfer.state`` attribute orders the steps of two activities that run at once:
its dial marks it ``isolated`` in the same update that makes it deaf, the brief waits
for that mark before it gives the leg ears (and marks it ``briefing``), and a dial that
comes late never makes a briefed or bridged leg deaf again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import structlog
from livekit import api

from activities.livekit_base import LiveKitBase
from activities.livekit_errors import unless_not_found
from warm_transfer.models import BriefRequest
from warm_transfer.wire import ATTR_STATE, BRIDGED, BRIEFING, ISOLATED

log = structlog.get_logger(__name__)

# How long a brief waits for an answered leg's track (the brief's timeout is 10 s).
TRACK_WAIT_S = 5.0


def _permission(hearing: bool) -> api.ParticipantPermission:
    # UpdateParticipant replaces the whole permission, so every flag livekit-sip needs
    # is spelled out: publishing the leg's audio, its DTMF (data) and its own
    # sip.callStatus attribute (metadata); only hearing is ever taken away.
    return api.ParticipantPermission(
        can_publish=True, can_subscribe=hearing, can_publish_data=True, can_update_metadata=True
    )


def track_sids(participant: api.ParticipantInfo | None) -> list[str]:
    """The SIDs of a participant's published tracks (none for a participant that is gone)."""
    return [track.sid for track in participant.tracks] if participant is not None else []


class SameRoomEars(LiveKitBase):
    """Deafens, isolates and opens a human's leg in the caller's room."""

    async def _isolate_when_dialed(
        self,
        room: str,
        identity: str,
        *,
        follow: bool = False,
        seen: asyncio.Event | None = None,
        deafened: bool = False,
    ) -> None:
        """Makes a new leg deaf, and unheard by everyone in the room, while it rings.

        LiveKit cannot create a SIP participant muted and deaf, but livekit-sip joins
        the room before it sends the INVITE: the leg is made deaf then, and everyone is
        taken off its track as soon as it is published (usually before the INVITE, on a
        loaded host only after the answer). The leg keeps its right to publish
        (livekit-sip's dial fails with "timed out publishing track" without it); nobody
        else is subscribed to its track.

        Args:
            follow: the leg was dialed by an earlier attempt: if it is gone, stop.
            seen: set once the leg is in the room.
            deafened: the leg was made deaf already: only take everyone off its track.
        """
        delay, deaf = 0.005, deafened
        while True:
            leg = await self._find(room, identity)
            if leg is not None and seen is not None:
                seen.set()
            if leg is not None and leg.attributes.get(ATTR_STATE) in (BRIEFING, BRIDGED):
                # Given ears by the brief or the bridge (this is a late or retried dial):
                # deaf again, the human would hear nothing more of either.
                deaf = True
            sids = track_sids(leg)
            if sids:
                break
            if leg is not None and not deaf:
                # Deaf as soon as it joins: livekit-sip subscribes the leg to the room at
                # once but may publish the leg's own track only after the answer (seen
                # on the real stack), and waiting for that track let the human hear the
                # caller's first half second.
                deaf = await self._set_permission(room, identity, hearing=False, state=ISOLATED)
            if leg is None and follow:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)
        # At once, not one after another: the phone may pick up while these are under
        # way, and on a slow link to LiveKit (+200 ms each way) four round trips in a
        # row let the caller hear the human's first second.
        if deaf:
            await self._unheard(room, identity, sids)
            return
        await asyncio.gather(
            self._unheard(room, identity, sids),
            self._set_permission(room, identity, hearing=False, state=ISOLATED),
        )

    async def _unheard(self, room: str, identity: str, track_sids: list[str]) -> None:
        """Unsubscribes everyone but ``identity`` from its tracks (auto-subscribed)."""
        listed = await self._lk.room.list_participants(api.ListParticipantsRequest(room=room))
        await asyncio.gather(
            *(
                self._subscribe(room, other.identity, track_sids, subscribe=False)
                for other in listed.participants
                if other.identity != identity
            )
        )

    async def _published(
        self, room: str, identity: str, within_s: float, *, isolated: bool
    ) -> api.ParticipantInfo | None:
        """The leg once its track is published and, with ``isolated``, its dial has made it
        deaf (None if it is gone; as it is, at the end)."""
        loop = asyncio.get_running_loop()
        deadline, delay = loop.time() + within_s, 0.005
        while True:
            leg = await self._find(room, identity)
            if leg is None or loop.time() >= deadline:
                return leg
            if leg.tracks and (not isolated or leg.attributes.get(ATTR_STATE)):
                return leg
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)

    async def _open_for_briefing(
        self, req: BriefRequest, *, after_dial: bool = True
    ) -> dict[str, str]:
        """Opens the human's ears to the briefing only; who was there (identity -> SID).

        Args:
            after_dial: the leg is the one its dial isolates: wait until the dial has
                made it deaf (its ``warm_transfer.state`` is set), not just published.
        """
        room = req.room_name
        # The answer can come before livekit-sip has published the leg's track (seen on
        # a loaded host): the caller must be taken off that track before the brief, not
        # just off the tracks that exist yet. And the human_answered signal can start
        # the brief before the dial has made the leg deaf: that deafness, landing after
        # these ears, left the human hearing no brief (seen on the real stack, 1 in 8).
        human = await self._published(room, req.human_identity, TRACK_WAIT_S, isolated=after_dial)
        if human is None:
            return {}  # hung up: the workflow learns it from the decision it never gets
        # The human hears nobody in the room yet: not the caller or the AI agent, nor
        # another member of a ring group still being hung up. Unsubscribed while deaf
        # stays unsubscribed once hearing: livekit-server does not auto-subscribe a
        # participant again to tracks it was taken off.
        listeners = (req.caller_identity, req.agent_identity)
        listed, _ = await asyncio.gather(
            self._lk.room.list_participants(api.ListParticipantsRequest(room=room)),
            asyncio.gather(
                *(self._subscribe(room, p, track_sids(human), subscribe=False) for p in listeners)
            ),
        )
        others = [p for p in listed.participants if p.identity != req.human_identity]
        await self._subscribe(
            room,
            req.human_identity,
            [sid for other in others for sid in track_sids(other)],
            subscribe=False,
        )
        await self._set_permission(room, req.human_identity, hearing=True, state=BRIEFING)
        log.info("human isolated for the briefing", room=room, leg=req.human_identity)
        wanted = (req.human_identity, req.caller_identity, req.agent_identity)
        return {p.identity: p.sid for p in (human, *others) if p.identity in wanted}

    async def _subscribe(
        self, room: str, identity: str, track_sids: Iterable[str], subscribe: bool
    ) -> None:
        sids = list(track_sids)
        if not sids:
            return
        # A listener that has left (the AI agent, a caller who hung up) needs nothing.
        await unless_not_found(
            "update_subscriptions",
            self._lk.room.update_subscriptions(
                api.UpdateSubscriptionsRequest(
                    room=room, identity=identity, track_sids=sids, subscribe=subscribe
                )
            ),
        )

    async def _set_permission(
        self, room: str, identity: str, *, hearing: bool, state: str | None = None
    ) -> bool:
        """Lets a leg hear the room, or not, and marks its ``state`` in the same update;
        False when the leg is gone."""
        update = api.UpdateParticipantRequest(
            room=room,
            identity=identity,
            permission=_permission(hearing),
            attributes={ATTR_STATE: state} if state else {},
        )
        return await unless_not_found("update_permission", self._lk.room.update_participant(update))
