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
import os
import signal
import sys
from collections.abc import Mapping

import structlog
from livekit import rtc
from livekit.agents import AgentServer, JobContext, JobExecutorType

from warm_transfer.agents.briefing import Briefing, BriefingMetadata, briefing_greeting
from warm_transfer.agents.espeak import SAMPLE_RATE, EspeakUnavailable, synthesize_pcm
from warm_transfer.agents.private_voice import PrivateVoice
from warm_transfer.client import get_transfer
from warm_transfer.config import DEFAULT_BRIEFING_AGENT, SettingsError, TemporalSettings
from warm_transfer.log_setup import configure_logging
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


def _no_load() -> float:
    return 0.0


def build_server(env: Mapping[str, str], settings: TemporalSettings) -> AgentServer:
    """The agent server: jobs as threads of this process (a briefing is light work)."""
    for var in ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"):
        if not env.get(var, "").strip():
            raise SettingsError(f"{var} is not set")
    server = AgentServer(
        job_executor_type=JobExecutorType.THREAD,
        num_idle_processes=1,
        # The default load is the host's CPU: on a small, busy host the worker would
        # report itself full and livekit-server would stop assigning briefings. A
        # keypad briefing costs next to nothing, so this worker is never full.
        load_fnc=_no_load,
        ws_url=env["LIVEKIT_URL"],
        api_key=env["LIVEKIT_API_KEY"],
        api_secret=env["LIVEKIT_API_SECRET"],
        port=0,
    )
    agent_name = env.get("BRIEFING_AGENT_NAME", "").strip() or DEFAULT_BRIEFING_AGENT

    async def entry(ctx: JobContext) -> None:
        await brief_by_keypad(ctx, settings)

    server.rtc_session(entry, agent_name=agent_name)
    return server


async def main() -> None:
    """Serves briefing jobs until SIGTERM or SIGINT."""
    try:
        settings = TemporalSettings.from_env(os.environ)
        server = build_server(os.environ, settings)
    except SettingsError as err:
        print(f"keypad briefer: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging(os.environ.get("LOG_FORMAT", "json"), os.environ.get("LOG_LEVEL", "INFO"))
    loop = asyncio.get_running_loop()
    # Said once livekit-server has the worker: dispatches from then on reach it.
    server.on("worker_registered", lambda *_: log.info("keypad briefer registered"))
    runner = asyncio.create_task(server.run(devmode=True))
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, runner.cancel)
    try:
        await runner
    except asyncio.CancelledError:
        await server.aclose()


if __name__ == "__main__":
    asyncio.run(main())
