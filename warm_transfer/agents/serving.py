"""Running a light LiveKit Agents worker: the keypad briefer and the real stack's voice
agent serve their jobs the same way, so they build and run their servers here."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable, Mapping

import structlog
from livekit.agents import AgentServer, JobExecutorType

from warm_transfer.config import SettingsError, TemporalSettings
from warm_transfer.log_setup import configure_logging

log = structlog.get_logger(__name__)


def _no_load() -> float:
    return 0.0


def light_agent_server(env: Mapping[str, str]) -> AgentServer:
    """An agent server whose jobs are threads of this process, never reported full.

    The default load is the host's CPU: on a small, busy host the worker would report
    itself full and livekit-server would stop assigning jobs, while these jobs cost
    next to nothing.

    Raises:
        SettingsError: a ``LIVEKIT_*`` variable is missing.
    """
    for var in ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"):
        if not env.get(var, "").strip():
            raise SettingsError(f"{var} is not set")
    return AgentServer(
        job_executor_type=JobExecutorType.THREAD,
        num_idle_processes=1,
        load_fnc=_no_load,
        ws_url=env["LIVEKIT_URL"],
        api_key=env["LIVEKIT_API_KEY"],
        api_secret=env["LIVEKIT_API_SECRET"],
        port=0,
    )


async def serve(
    build: Callable[[Mapping[str, str], TemporalSettings], AgentServer], name: str
) -> None:
    """Builds the server from the environment and serves until SIGTERM or SIGINT; a bad
    setting exits with status 2 and one line naming it."""
    try:
        settings = TemporalSettings.from_env(os.environ)
        server = build(os.environ, settings)
    except SettingsError as err:
        print(f"{name}: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging(os.environ.get("LOG_FORMAT", "json"), os.environ.get("LOG_LEVEL", "INFO"))
    loop = asyncio.get_running_loop()
    # Said once livekit-server has the worker: dispatches from then on reach it.
    server.on("worker_registered", lambda *_: log.info("agent worker registered", worker=name))
    runner = asyncio.create_task(server.run(devmode=True))
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, runner.cancel)
    try:
        await runner
    except asyncio.CancelledError:
        await server.aclose()
