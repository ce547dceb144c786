"""What the real voice-agent tests share: when things happened, read where they happen.

The stages from the engine's status, the voice agent's own log lines, livekit-server's
webhooks, and the phones' captured RTP (`warm_transfer.realstack.audio`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final

from livekit import api
from livekit.api import ServerError

from activities.livekit_errors import is_unrouted, is_unsupported
from tests.real_stack import RealEngine
from warm_transfer.client import TransferHandle
from warm_transfer.realstack.audio import Capture, Frame, frames, heard
from warm_transfer.realstack.people import DispatchedAgent
from warm_transfer.telephony import Call

LOUD: Final = 300.0  # rms: speech or a tone, well above livekit-sip's silence (rms 3-4)
NOT_SILENT: Final = 30.0  # rms: hold music, its quiet passages included
NOISE: Final = 400.0  # rms of anything but a phone's tone: music or speech over it


async def moves_participants(lk: api.LiveKitAPI) -> bool:
    """Whether this livekit-server implements MoveParticipant (the engine's own probe)."""
    try:
        await lk.room.move_participant(
            api.MoveParticipantRequest(room="probe", identity="probe", destination_room="probe-2")
        )
    except ServerError as err:
        return not (is_unsupported(err) or is_unrouted(err))
    return True


async def stage_times(handle: TransferHandle) -> dict[str, float]:
    """When each stage was first seen (polled every 0.1 s) until the transfer ends."""
    seen: dict[str, float] = {}
    while True:
        status = await handle.status()
        seen.setdefault(status.stage, time.time())
        if status.stage in ("done", "failed") or status.outcome:
            return seen
        await asyncio.sleep(0.1)


async def wait_logged(agent: DispatchedAgent, message: str, timeout: float = 30.0) -> float:
    """The wall clock the voice agent logged ``message`` for its room."""
    deadline = time.monotonic() + timeout
    while (at := agent.logged_at(message)) is None:
        assert time.monotonic() < deadline, f"the voice agent never logged {message!r}"
        await asyncio.sleep(0.1)
    return at


def left_at(engine: RealEngine, room: str, identity: str) -> float:
    """When livekit-server said the agent left the caller's room (its webhook)."""
    for at, event in engine.telephony.webhooks:
        who = event.get("participant", {}).get("identity")
        if event.get("event") == "participant_left" and who == identity:
            if event.get("room", {}).get("name") == room:
                return at
    raise AssertionError(f"{identity} never left {room}")


@dataclass
class RecordedCall:
    """A call into the support line, the transfer its voice agent started, and the RTP
    livekit-sip sent every phone meanwhile."""

    engine: RealEngine
    call: Call
    handle: TransferHandle
    agent: DispatchedAgent
    capture: Capture

    def to_caller(self) -> list[Frame]:
        """What the caller's phone was sent, per 20 ms frame."""
        port = self.engine.telephony.caller_media_port(self.call.room_name)
        return frames(heard(self.capture.path, port))

    def to_phone(self, number: str) -> list[Frame]:
        """What the answering phone of ``number`` was sent, per 20 ms frame."""
        return frames(heard(self.capture.path, self.engine.livekit.phones[number].media_port))


@asynccontextmanager
async def recorded_call(
    engine: RealEngine, name: str, numbers: list[str], **phone_in: Any
) -> AsyncIterator[RecordedCall]:
    """Captures the phones' RTP while a caller phones in and is transferred down
    ``numbers`` (`RealEngine.phone_in`'s options); on the way out the capture stops and
    the caller's room is deleted, so what was heard can be read after the block."""
    real = engine.livekit
    capture = Capture(real.network, engine.stack.workdir / f"phones-rtp-{name}.pcap")
    await capture.start()
    call = None
    try:
        call, handle = await engine.phone_in(numbers, **phone_in)
        agent = engine.telephony.agents[call.room_name]
        assert isinstance(agent, DispatchedAgent)
        yield RecordedCall(engine, call, handle, agent, capture)
    finally:
        await capture.stop()
        if call is not None:
            await real.lk.room.delete_room(api.DeleteRoomRequest(room=call.room_name))
