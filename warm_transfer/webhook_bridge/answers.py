"""Answer detection: LiveKit sends no webhook when a dialed leg is answered.

Real livekit-server reports a SIP leg with one ``participant_joined`` while it is still
``dialing`` (livekit-sip joins the room before it sends the INVITE) and then nothing
until ``participant_left``: ``sip.callStatus`` turning ``active`` is an attribute
change, and LiveKit has no webhook for attribute changes. So the bridge follows each
dialed human leg it hears of from that ``participant_joined``, asking RoomService for
the leg until it is active (``human_answered``) or gone. A bridge without
``LIVEKIT_URL`` cannot look and says so once; the engine itself needs no answer
signal (its dial returns when the leg is answered), the signal only shortens the
wait when the dial's own answer is late.
"""

from __future__ import annotations

import asyncio
from typing import Final

import structlog
from livekit import api

from warm_transfer.models import HumanAnswered
from warm_transfer.webhook_bridge.delivery import SignalDelivery
from warm_transfer.webhook_bridge.routes import Route
from warm_transfer.wire import CALL_STATUS

log = structlog.get_logger(__name__)

# Longer than any ring timeout the contract allows (300 s) plus the dial's own setup.
_FOLLOW_FOR_S: Final = 330.0


class AnswerWatcher:
    """Follows dialed legs until answered, one task per leg, and signals the answer.

    Args:
        lk: a RoomService client, or None when the bridge has no LIVEKIT_URL.
        delivery: where ``human_answered`` goes.
        poll_s: how often a ringing leg is looked at.
    """

    def __init__(
        self, lk: api.LiveKitAPI | None, delivery: SignalDelivery, poll_s: float = 0.25
    ) -> None:
        self._lk = lk
        self._delivery = delivery
        self._poll_s = poll_s
        self._legs: dict[str, asyncio.Task[None]] = {}
        self._warned = False

    @property
    def following(self) -> int:
        """Legs followed right now."""
        return len(self._legs)

    def follow(self, room: str, identity: str, workflow_id: str) -> None:
        """Starts following a leg (a second call for the same leg changes nothing)."""
        if self._lk is None:
            if not self._warned:
                self._warned = True
                log.warning("no LIVEKIT_URL: answers of dialed legs are not followed")
            return
        if identity in self._legs:
            return
        task = asyncio.create_task(self._follow(self._lk, room, identity, workflow_id))
        self._legs[identity] = task
        task.add_done_callback(lambda _: self._legs.pop(identity, None))

    async def _follow(self, lk: api.LiveKitAPI, room: str, identity: str, workflow_id: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _FOLLOW_FOR_S
        ask = api.RoomParticipantIdentity(room=room, identity=identity)
        while loop.time() < deadline:
            try:
                leg = await lk.room.get_participant(ask)
            except api.TwirpError as err:
                if err.code == api.TwirpErrorCode.NOT_FOUND:
                    return  # the dial ended (busy, declined, no answer): nothing to say
                log.info("leg look-up failed, trying again", leg=identity, error=err.code)
            else:
                if leg.attributes.get(CALL_STATUS) == "active":
                    route = Route(
                        workflow_id,
                        "human_answered",
                        HumanAnswered(participant_identity=identity),
                        identity,
                    )
                    await self._delivery.deliver(f"answered:{identity}", route, 0)
                    log.info("leg answered, engine told", leg=identity)
                    return
            await asyncio.sleep(self._poll_s)

    async def aclose(self) -> None:
        """Stops following every leg."""
        for task in list(self._legs.values()):
            task.cancel()
        await asyncio.gather(*self._legs.values(), return_exceptions=True)
