"""``python -m warm_transfer.livekit_sim``: run the LiveKit stand-in until SIGINT/SIGTERM.

Prints exactly one line on stdout when ready: ``livekit-sim listening on http://HOST:PORT``
(with the real port when ``--port 0``). Logs go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence

import structlog
from pydantic import ValidationError

from warm_transfer.livekit_sim.config import DEV_API_SECRET, Faults, SimConfig
from warm_transfer.livekit_sim.scenarios import load_scenarios_file
from warm_transfer.livekit_sim.server import LiveKitSim


def parse_args(argv: Sequence[str] | None, env: dict[str, str]) -> argparse.Namespace:
    """Command line options (credentials default to LIVEKIT_API_KEY/SECRET from ``env``)."""
    p = argparse.ArgumentParser(
        prog="python -m warm_transfer.livekit_sim", description="LiveKit server stand-in"
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7880, help="0 picks a free port")
    p.add_argument("--api-key", default=env.get("LIVEKIT_API_KEY") or "devkey")
    p.add_argument("--api-secret", default=env.get("LIVEKIT_API_SECRET") or DEV_API_SECRET)
    p.add_argument("--scenarios", metavar="PATH", help="JSON {number: scenario} file")
    p.add_argument("--webhook-url", action="append", default=[], metavar="URL")
    p.add_argument("--self-hosted", action="store_true", help="no MoveParticipant")
    p.add_argument("--time-scale", type=float, default=1.0)
    p.add_argument("--trunk", action="append", metavar="ID", help="known trunk ids (repeat)")
    p.add_argument("--auth-errors", choices=("strict", "livekit"), default="strict")
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--fail-first-n", type=int, default=0)
    p.add_argument("--fail-rate", type=float, default=0.0)
    p.add_argument("--drop-rate", type=float, default=0.0)
    p.add_argument("--drop-after-rate", type=float, default=0.0)
    p.add_argument("--fault-method", action="append", metavar="METHOD")
    p.add_argument("--seed", type=int)
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    return p.parse_args(argv)


def build_config(args: argparse.Namespace) -> SimConfig:
    """The ``SimConfig`` the options describe."""
    return SimConfig(
        api_key=args.api_key,
        api_secret=args.api_secret,
        scenarios=load_scenarios_file(args.scenarios) if args.scenarios else {},
        webhook_urls=args.webhook_url,
        self_hosted=args.self_hosted,
        time_scale=args.time_scale,
        trunks=args.trunk,
        auth_errors=args.auth_errors,
        faults=Faults(
            latency_ms=args.latency_ms,
            fail_first_n=args.fail_first_n,
            fail_rate=args.fail_rate,
            drop_rate=args.drop_rate,
            drop_after_rate=args.drop_after_rate,
            methods=args.fault_method,
            seed=args.seed,
        ),
    )


def configure_logging(level: str) -> None:
    """structlog to stderr, so stdout carries only the ready line."""
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )


async def serve(config: SimConfig, host: str, port: int) -> None:
    """Runs the sim until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    sim = LiveKitSim(config)
    url = await sim.start(host, port)
    print(f"livekit-sim listening on {url}", flush=True)
    try:
        await stop.wait()
    finally:
        await sim.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m warm_transfer.livekit_sim``; returns the exit code."""
    args = parse_args(argv, dict(os.environ))
    configure_logging(args.log_level)
    try:
        config = build_config(args)
    except (ValidationError, OSError, ValueError) as err:
        print(f"livekit-sim: invalid configuration: {err}", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(config, args.host, args.port))
    except OSError as err:
        print(f"livekit-sim: cannot listen on {args.host}:{args.port}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
