"""What every LiveKit activity shares: the client, the worker's defaults, lookups."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from livekit import api
from livekit.api import LiveKitAPI
from temporalio import activity

from activities.livekit_errors import unless_not_found
from warm_transfer.models import BridgeStrategy
from warm_transfer.wire import ATTR_ROLE, ATTR_WORKFLOW_ID, CALL_STATUS, DATA_TOPIC

__all__ = [
    "ATTR_ROLE",
    "ATTR_WORKFLOW_ID",
    "CALL_STATUS",
    "DATA_TOPIC",
    "LiveKitBase",
    "LiveKitDefaults",
]


@dataclass(frozen=True)
class LiveKitDefaults:
    """What the worker fills in when a request is silent, and its timings."""

    sip_trunk_id: str | None = None
    briefing_agent: str = "warm-transfer-briefer"
    bridge: BridgeStrategy = "auto"
    heartbeat_every_s: float = 2.0
    follow_poll_s: float = 0.5
    room_empty_timeout_s: int = 300
    agent_goodbye_s: float = 1.5


class LiveKitBase:
    """Holds the one `LiveKitAPI` client of a worker and the lookups activities share."""

    def __init__(self, lk: LiveKitAPI, defaults: LiveKitDefaults | None = None) -> None:
        self._lk = lk
        self._defaults = defaults or LiveKitDefaults()

    async def _find(self, room: str, identity: str) -> api.ParticipantInfo | None:
        """The participant, or None when LiveKit does not know it (any more)."""
        found: list[api.ParticipantInfo] = []

        async def lookup() -> None:
            found.append(
                await self._lk.room.get_participant(
                    api.RoomParticipantIdentity(room=room, identity=identity)
                )
            )

        await unless_not_found(f"look up {identity!r} in {room!r}", lookup())
        return found[0] if found else None

    async def _remove(self, room: str, identity: str, action: str) -> bool:
        """RemoveParticipant; False when the participant was already gone."""
        return await unless_not_found(
            action,
            self._lk.room.remove_participant(
                api.RoomParticipantIdentity(room=room, identity=identity)
            ),
        )

    async def _notify_agent(self, room: str, agent_identity: str, event: str) -> bool:
        """Sends the agent a reliable ``warm-transfer`` data message; False if no room."""
        payload = json.dumps({"event": event, "workflow_id": activity.info().workflow_id})
        send = api.SendDataRequest(
            room=room,
            data=payload.encode(),
            kind=api.DataPacket.Kind.RELIABLE,
            destination_identities=[agent_identity],
            topic=DATA_TOPIC,
        )
        return await unless_not_found(f"notify_agent:{event}", self._lk.room.send_data(send))

    @asynccontextmanager
    async def _heartbeating(self, *details: object) -> AsyncIterator[None]:
        """Heartbeats while a long LiveKit call is in flight, so a dead worker is noticed
        within the heartbeat timeout and a cancellation reaches the call."""

        async def beat() -> None:
            while True:
                activity.heartbeat(*details)
                await asyncio.sleep(self._defaults.heartbeat_every_s)

        task = asyncio.create_task(beat())
        try:
            yield
        finally:
            task.cancel()
