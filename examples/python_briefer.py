"""The briefing agent the engine dispatches to each human it dials.

    python -m livekit.agents start examples/python_briefer.py   # same LIVEKIT_*, TEMPORAL_*

The engine's ``brief_human`` activity creates an explicit dispatch for the agent name
``warm-transfer-briefer`` (``BRIEFING_AGENT_NAME`` on the worker) into the consultation
room. This agent reads the caller's summary to the human and reports their answer
(voice, or keypad 1 / 2) to the transfer's workflow. For a TTS with no cloud service,
``tts=EspeakTTS()`` (``from warm_transfer.agents.espeak import EspeakTTS``; needs the
``espeak-ng`` package) speaks offline.
"""

from __future__ import annotations

import os

from livekit.agents import AgentServer, AgentSession, JobContext, cli

from warm_transfer.agents import run_briefing
from warm_transfer.config import DEFAULT_BRIEFING_AGENT, TemporalSettings
from warm_transfer.temporal_connect import connect

server = AgentServer()


@server.rtc_session(agent_name=DEFAULT_BRIEFING_AGENT)
async def briefer(ctx: JobContext) -> None:
    """One dialed human: brief them, relay accept or decline."""
    client = await connect(TemporalSettings.from_env(os.environ))
    session: AgentSession[None] = AgentSession(
        stt="deepgram/nova-3", llm="openai/gpt-4.1-mini", tts="cartesia/sonic-2"
    )
    await run_briefing(ctx, client, session)


if __name__ == "__main__":
    cli.run_app(server)
