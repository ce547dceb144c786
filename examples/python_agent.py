"""A LiveKit Agents voice agent that hands callers to humans with the durable engine.

    pip install '.[agents]'
    export LIVEKIT_URL=wss://<project>.livekit.cloud LIVEKIT_API_KEY=... LIVEKIT_API_SECRET=...
    export TEMPORAL_ADDRESS=localhost:7233 TRANSFER_TO=+15105550100,2001 SIP_TRUNK_ID=ST_abc
    python -m livekit.agents start examples/python_agent.py
    python examples/python_agent.py dev   # the same, with the (deprecated) rich CLI

The engine's worker (``python worker.py``) and its briefing agent
(``examples/python_briefer.py``) run next to it. When the LLM calls the
``transfer_to_human`` tool the caller hears "one moment please", then hold music; a
human is dialed, briefed and bridged in, or the caller comes back to this agent.
"""

from __future__ import annotations

import os

from livekit.agents import Agent, AgentServer, AgentSession, JobContext, cli

from warm_transfer.agents import BackgroundHoldMusic, TransferConfig, WarmTransfer
from warm_transfer.config import TemporalSettings
from warm_transfer.models import Destination, Fallback
from warm_transfer.temporal_connect import connect

server = AgentServer()


def transfer_config() -> TransferConfig:
    """Where transfers go, from the environment (read when a call starts)."""
    trunk = os.environ.get("SIP_TRUNK_ID") or None
    numbers = [n.strip() for n in os.environ.get("TRANSFER_TO", "").split(",") if n.strip()]
    voicemail = os.environ.get("TRANSFER_VOICEMAIL", "").strip()
    settings = TemporalSettings.from_env(os.environ)
    return TransferConfig(
        destinations=[Destination(sip_call_to=n, sip_trunk_id=trunk) for n in numbers],
        fallback=(
            Fallback(kind="voicemail", sip_call_to=voicemail, sip_trunk_id=trunk)
            if voicemail
            else Fallback(kind="return_to_agent")
        ),
        task_queue=settings.task_queue,
    )


@server.rtc_session()
async def voice_agent(ctx: JobContext) -> None:
    """One inbound call: the assistant, able to transfer to a human."""
    client = await connect(TemporalSettings.from_env(os.environ))
    await ctx.connect()
    session: AgentSession[None] = AgentSession(
        stt="deepgram/nova-3", llm="openai/gpt-4.1-mini", tts="cartesia/sonic-2"
    )
    transfer = WarmTransfer(
        client,
        transfer_config(),
        ctx.room,
        session,
        hold_music=BackgroundHoldMusic(ctx.room),
    )
    transfer.attach()
    ctx.add_shutdown_callback(transfer.events.aclose)
    agent = Agent(
        instructions=(
            "You are the support line's assistant. Help the caller. When they ask for a "
            "person, or need something you cannot do (refunds over $100, account closure), "
            "call transfer_to_human with a summary a colleague can act on."
        ),
        tools=[transfer.tool],
    )
    await session.start(agent=agent, room=ctx.room)
    await session.generate_reply(instructions="Greet the caller and offer your help.")


if __name__ == "__main__":
    cli.run_app(server)
