"""The briefing agent that needs no speech services: the human's keypad decides.

A real LiveKit Agents worker (``AgentServer``) registered under the briefing agent's
name, so the engine's ``CreateDispatch`` reaches it through livekit-server like any
agent dispatch. Each job joins the human's room over WebRTC and follows the human's
RFC 2833 keys and call status (`Briefing.attach`): 1 accepts, 2 declines. It speaks
the brief (`briefing_greeting`, rendered offline by espeak-ng) on a track only the human
may subscribe to (`PrivateVoice`): in ``same_room`` it is in the caller's room, and the
caller and the AI agent must not hear it. It is what the real-stack tests, demo and
bench run; deployments that brief by voice use
`run_briefing` with an ``AgentSession`` instead (``examples/python_briefer.py``).

    LIVEKIT_URL=ws://... LIVEKIT_API_KEY=... LIVEKIT_API_SECRET=... \\
    TEMPORAL_ADDRESS=... python -m warm_transfer.agents.keypad
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import structlog
from livekit import rtc
from livekit.agents import AgentServer, JobContext

from warm_transfer.agents.briefing import Briefing, BriefingMetadata, briefing_greeting
from warm_transfer.agents.espeak import SAMPLE_RATE, EspeakUnavailable, synthesize_pcm
from warm_transfer.agents.private_voice import PrivateVoice
from warm_transfer.agents.serving import light_agent_server, serve
from warm_transfer.client import get_transfer
from warm_transfer.config import DEFAULT_BRIEFING_AGENT, TemporalSettings
from warm_transfer.temporal_connect import connect

log = structlog.get_logger(__name__)


async def brief_by_keypad(ctx: JobContext, settings: TemporalSettings) -> None:
    """One job: join the human's room, relay their key presses until the room ends."""
    meta = BriefingMetadata.parse(ctx.job.metadata)
    client = await connect(settings)
    briefing = Briefing(meta, get_transfer(client, meta.workflow_id))
    await ctx.connect()
    briefing.attach(ctx.room)
    log.info("keypad briefing joined", wid=meta.workflow_id, leg=meta.human_identity)
    gone = asyncio.Event()

    def on_left(participant: rtc.RemoteParticipant) -> None:
        if participant.identity == meta.human_identity:
            gone.set()

    ctx.room.on("participant_disconnected", on_left)
    ctx.room.on("disconnected", lambda *_: gone.set())
    speaking = asyncio.create_task(speak_brief(ctx.room, meta))
    # Done once the decision is with the engine, or the human is gone: a briefing
    # agent has no business staying in a room the caller is about to join.
    waits = [asyncio.ensure_future(gone.wait()), asyncio.ensure_future(briefing.decided.wait())]
    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for wait in (*waits, speaking):
        wait.cancel()
    await asyncio.gather(speaking, return_exceptions=True)
    await briefing.idle()
    ctx.shutdown("briefing over")


async def speak_brief(room: rtc.Room, meta: BriefingMetadata) -> None:
    """Publishes the human-only voice at once, then repeats the brief until cancelled."""
    voice = PrivateVoice(room, meta.human_identity, SAMPLE_RATE)
    await voice.publish()
    try:
        pcm = await synthesize_pcm(briefing_greeting(meta))
    except EspeakUnavailable:
        log.warning("brief not spoken: espeak-ng missing", wid=meta.workflow_id)
        return
    log.info("brief speaking", wid=meta.workflow_id, seconds=len(pcm) / 2 / SAMPLE_RATE)
    await voice.repeat(pcm)


def build_server(env: Mapping[str, str], settings: TemporalSettings) -> AgentServer:
    """The agent server: jobs as threads of this process (a briefing is light work)."""
    server = light_agent_server(env)
    agent_name = env.get("BRIEFING_AGENT_NAME", "").strip() or DEFAULT_BRIEFING_AGENT

    async def entry(ctx: JobContext) -> None:
        await brief_by_keypad(ctx, settings)

    server.rtc_session(entry, agent_name=agent_name)
    return server


async def main() -> None:
    """Serves briefing jobs until SIGTERM or SIGINT."""
    await serve(build_server, "keypad briefer")


if __name__ == "__main__":
    asyncio.run(main())
