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
    StopResponse,
    ToolError,
)

from warm_transfer.agents import BackgroundHoldMusic, TransferConfig, WarmTransfer
from warm_transfer.agents.espeak import EspeakTTS
from warm_transfer.agents.serving import light_agent_server, serve
from warm_transfer.config import TemporalSettings
from warm_transfer.models import Fallback
from warm_transfer.realstack.dialin import TRANSFER_PLAN_ATTRIBUTE, TransferPlan
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
    """One call: greet the caller, then follow the engine's messages until ``leave``.

    A caller who brought a transfer plan (`TransferPlan`, the dial-in harness's) asks
    for a person by pressing 0, and the agent calls its transfer tool, as its LLM
    would; without one, the transfer is started from outside (the contract's start).
    """
    client = await connect(settings)
    await ctx.connect()
    room = ctx.room
    session: AgentSession[None] = AgentSession(tts=EspeakTTS())
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
    plan = _plan(caller)
    config = TransferConfig(
        destinations=plan.destinations if plan else [],
        fallback=plan.fallback if plan else Fallback(),
        accept_timeout_s=plan.accept_timeout_s if plan else 60.0,
        bridge=plan.bridge if plan else None,
        task_queue=settings.task_queue,
        goodbye=GOODBYE,
    )
    hold_music = LoggedHoldMusic(room)
    transfer = WarmTransfer(
        client, config, room, session, caller_identity=caller.identity, hold_music=hold_music
    )
    transfer.attach()
    ctx.add_shutdown_callback(transfer.events.aclose)
    if plan is not None:
        asking = CallerKeypad(transfer, plan, caller.identity, room.name)
        room.on("sip_dtmf_received", asking.on_dtmf)
    log.info("voice agent greeting", room=room.name, caller=caller.identity, at=time.time())
    if not transfer.events.on_hold:
        await session.say(GREETING)
    log.info("voice agent greeted", room=room.name, at=time.time())
    how = await ended
    log.info("voice agent session over", room=room.name, how=how, at=time.time())
    ctx.shutdown("call handed over")


class LoggedHoldMusic(BackgroundHoldMusic):
    """LiveKit's hold music, and when it started and stopped in the log (the tests
    measure the music from there: the hold line comes first)."""

    def __init__(self, room: rtc.Room) -> None:
        super().__init__(room)
        self._room_name = room.name

    async def start(self) -> None:
        """Starts the music."""
        await super().start()
        log.info("voice agent hold music on", room=self._room_name, at=time.time())

    async def stop(self) -> None:
        """Stops the music."""
        await super().stop()
        log.info("voice agent hold music off", room=self._room_name, at=time.time())


def _plan(caller: rtc.RemoteParticipant) -> TransferPlan | None:
    raw = caller.attributes.get(TRANSFER_PLAN_ATTRIBUTE)
    if not raw:
        return None
    try:
        return TransferPlan.from_header(raw)
    except ValueError as err:
        log.error("transfer plan not valid", error=str(err), caller=caller.identity)
        return None


class CallerKeypad:
    """The caller's 0 key: "a person, please". The agent's transfer tool is called with
    the plan's summary, as the LLM would call it; a second press changes nothing."""

    def __init__(
        self, transfer: WarmTransfer, plan: TransferPlan, caller_identity: str, room: str
    ) -> None:
        self._room = room
        self._transfer = transfer
        self._plan = plan
        self._caller = caller_identity
        self._asked: asyncio.Task[None] | None = None

    def on_dtmf(self, dtmf: rtc.SipDTMF) -> None:
        """``sip_dtmf_received``: 0 from the caller asks for a person."""
        sender = dtmf.participant
        if dtmf.digit != "0" or self._asked is not None:
            return
        if sender is not None and sender.identity != self._caller:
            return
        self._asked = asyncio.create_task(self._ask(), name="transfer_to_human")

    async def _ask(self) -> None:
        log.info("voice agent transfer asked", room=self._room, at=time.time())
        try:
            reply = await self._transfer.tool(
                summary=self._plan.summary, reason="the caller pressed 0 for a person"
            )
        except StopResponse:
            reply = "the hold line"  # the tool's answer is the hold line it has said
        except ToolError as err:
            reply = f"refused: {err}"
        log.info("voice agent transfer tool returned", room=self._room, reply=str(reply))


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
