"""The AI voice agent of the real stack: a LiveKit Agents worker built on the adapter.

A real ``AgentServer`` registered with livekit-server under `VOICE_AGENT_NAME`; the
harness puts it in a caller's room with an agent dispatch (``CreateDispatch``), like a
deployment's dispatch rule would. Each job is an ``AgentSession`` whose only model is
espeak-ng (`EspeakTTS`, offline: nothing is downloaded), wired to the engine with the
adapter (`warm_transfer.agents.WarmTransfer`): it greets the caller in its own voice,
plays LiveKit's hold music with ``BackgroundAudioPlayer`` (`BackgroundHoldMusic`) on
``hold_started``, stops it on ``hold_stopped`` and on ``leave`` says goodbye and ends
its session. Every engine message it gets is logged with its wall clock
(``voice agent message``), which is how the harness reads what the agent was told.

    LIVEKIT_URL=ws://... LIVEKIT_API_KEY=... LIVEKIT_API_SECRET=... \\
    TEMPORAL_ADDRESS=... python -m warm_transfer.realstack.voice_agent
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from typing import Final

import structlog
from livekit import rtc
from livekit.agents import (
    Agent,
    AgentServer,
    AgentSession,
    JobContext,
    JobRequest,
)

from warm_transfer.agents import BackgroundHoldMusic, TransferConfig, WarmTransfer
from warm_transfer.agents.espeak import EspeakTTS
from warm_transfer.agents.serving import light_agent_server, serve
from warm_transfer.config import TemporalSettings
from warm_transfer.realstack.people import VOICE_AGENT_NAME, engine_event
from warm_transfer.temporal_connect import connect

GREETING: Final = "Hello, you are speaking with the support assistant. How can I help you today?"
# Short enough to end within the engine's goodbye time (AGENT_GOODBYE_S, 1.5 s), so
# the agent leaves on its own before the engine removes it.
GOODBYE: Final = "Goodbye!"

log = structlog.get_logger(__name__)


async def on_request(request: JobRequest) -> None:
    """Accepts every call, under the identity its dispatch names (the transfer's
    ``agent_identity``)."""
    try:
        identity = str(json.loads(request.job.metadata or "{}").get("identity", ""))
    except ValueError:
        identity = ""
    await request.accept(identity=identity, name="Voice agent")


async def serve_call(ctx: JobContext, settings: TemporalSettings) -> None:
    """One call: greet the caller, then follow the engine's messages until ``leave``."""
    client = await connect(settings)
    await ctx.connect()
    room = ctx.room
    session: AgentSession[None] = AgentSession(tts=EspeakTTS())
    config = TransferConfig(destinations=[], task_queue=settings.task_queue, goodbye=GOODBYE)
    transfer = WarmTransfer(client, config, room, session, hold_music=BackgroundHoldMusic(room))
    transfer.attach()
    ctx.add_shutdown_callback(transfer.events.aclose)
    room.on("data_received", lambda packet: _record(room.name, packet))
    ended: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def end(how: str) -> None:
        if not ended.done():
            ended.set_result(how)

    session.on("close", lambda *_: end("session closed"))  # on `leave`, by the adapter
    room.on("disconnected", lambda *_: end("disconnected"))  # removed by the engine
    log.info("voice agent in the room", room=room.name)
    # Returns once the caller is there and subscribed to the agent's voice.
    await session.start(
        Agent(instructions="You are the support line's assistant."), room=room, record=False
    )
    caller = await ctx.wait_for_participant(kind=rtc.ParticipantKind.PARTICIPANT_KIND_SIP)
    log.info("voice agent greeting", room=room.name, caller=caller.identity, at=time.time())
    if not transfer.events.on_hold:
        await session.say(GREETING)
    log.info("voice agent greeted", room=room.name, at=time.time())
    how = await ended
    log.info("voice agent session over", room=room.name, how=how, at=time.time())
    ctx.shutdown("call handed over")


def _record(room: str, packet: rtc.DataPacket) -> None:
    event = engine_event(packet)
    if event is None:
        return
    log.info("voice agent message", room=room, transfer_event=event, at=time.time())


def build_server(env: Mapping[str, str], settings: TemporalSettings) -> AgentServer:
    """The agent server: calls as threads of this process, never reported full.

    Raises:
        SettingsError: a ``LIVEKIT_*`` variable is missing.
    """
    server = light_agent_server(env)

    async def entry(ctx: JobContext) -> None:
        await serve_call(ctx, settings)

    server.rtc_session(entry, agent_name=VOICE_AGENT_NAME, on_request=on_request)
    return server


async def main() -> None:
    """Serves calls until SIGTERM or SIGINT."""
    await serve(build_server, "voice agent")


if __name__ == "__main__":
    asyncio.run(main())
