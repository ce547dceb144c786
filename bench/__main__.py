"""``python -m bench [--quick]``: run the figures, print the table, write the JSON."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report
from bench.config import TARGETS, BenchConfig, for_mode
from bench.harness import WORKER_ENV, open_rig
from bench.phases import PHASES, run_phases, say
from bench.stats import machine
from warm_transfer.realstack.binaries import RealStackUnavailable
from warm_transfer.realstack.build import ensure_real_stack

DEFAULT_OUT = Path(__file__).resolve().parent / "results.json"
REAL_OUT = Path(__file__).resolve().parent / "results-real.json"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="small sizes, for CI (< 60 s)")
    p.add_argument(
        "--livekit",
        choices=("sim", "real"),
        default="sim",
        help="the stand-in (default), or real livekit-server, livekit-sip and SIP phones "
        "(latency and cost only; results in bench/results-real.json)",
    )
    p.add_argument("--out", type=Path, help="results JSON path (default bench/results*.json)")
    p.add_argument("--workdir", type=Path, help="process logs (default: a temp dir)")
    p.add_argument("--phases", default=",".join(PHASES), help="comma-separated subset")
    p.add_argument(
        "--samples", type=int, help="latency samples, engine and direct (real: default 20)"
    )
    p.add_argument("--concurrency", type=int, help="concurrent callers for throughput")
    p.add_argument("--transfers", type=int, help="transfers counted for throughput")
    p.add_argument("--ringing", type=int, help="phones ringing at once (0: skip)")
    p.add_argument("--ring-s", type=float, help="how long those phones ring")
    p.add_argument("--inflight", type=int, help="transfers parked at once")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    for flag, help_ in (
        ("--dynamic-config", "dev server dynamic config KEY=VALUE (repeat)"),
        ("--worker-env", "extra worker environment KEY=VALUE (repeat)"),
    ):
        p.add_argument(flag, action="append", default=[], metavar="KEY=VALUE", help=help_)
    return p.parse_args(argv)


def configure(args: argparse.Namespace) -> BenchConfig:
    """The mode's sizes with the command line's overrides."""
    cfg = for_mode("quick" if args.quick else "full")
    overrides: dict[str, Any] = {}
    for option, fields in (
        ("samples", ("latency_samples", "direct_samples")),
        ("concurrency", ("throughput_concurrency",)),
        ("transfers", ("throughput_transfers",)),
        ("ringing", ("ringing_transfers",)),
        ("ring_s", ("ringing_ring_s",)),
        ("inflight", ("inflight_transfers",)),
    ):
        value = getattr(args, option)
        if value is not None:
            overrides |= dict.fromkeys(fields, value)
    return dataclasses.replace(cfg, **overrides)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    """Starts the stack, runs the phases, returns the results document."""
    cfg = configure(args)
    phases = {p.strip() for p in args.phases.split(",") if p.strip()}
    if unknown := phases - set(PHASES):
        raise SystemExit(f"unknown phases: {sorted(unknown)}; choose from {PHASES}")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="wt-bench-"))
    worker_env = dict(kv.split("=", 1) for kv in args.worker_env)
    results: dict[str, Any] = {
        "mode": cfg.mode,
        "machine": machine(),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "targets": dict(TARGETS),
        "config": dataclasses.asdict(cfg),
        "dynamic_config": list(args.dynamic_config),
        "worker_env": WORKER_ENV | worker_env,
        "workers": args.workers,
        "logs": str(workdir),
    }
    began = time.monotonic()
    say(f"starting dev server, LiveKit stand-in and worker (logs in {workdir})")
    options: dict[str, Any] = {"worker_env": worker_env, "workers": args.workers}
    async with open_rig(workdir, dynamic_config=args.dynamic_config, **options) as rig:
        results |= await run_phases(rig, cfg, phases)
    results["elapsed_s"] = round(time.monotonic() - began, 1)
    return results


async def main_real(args: argparse.Namespace) -> dict[str, Any]:
    """The latency and cost figures on the real stack (`bench.real`)."""
    from bench.real import run_real

    ensure_real_stack()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="wt-bench-real-"))
    samples = args.samples or (3 if args.quick else 20)
    results: dict[str, Any] = {
        "mode": f"real, {samples} transfers each",
        "machine": machine(),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "targets": dict(TARGETS),
        "logs": str(workdir),
    }
    began = time.monotonic()
    say(f"starting the real LiveKit stack, phones and worker (logs in {workdir})")
    results |= await run_real(workdir, samples)
    results["elapsed_s"] = round(time.monotonic() - began, 1)
    return results


async def _stoppable(args: argparse.Namespace) -> dict[str, Any]:
    # SIGTERM (a CI timeout) cancels the run, so every process it started is stopped.
    task = asyncio.current_task()
    if task is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await (main_real(args) if args.livekit == "real" else main_async(args))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (0 even when a target is missed)."""
    args = parse_args(argv)
    out = args.out or (REAL_OUT if args.livekit == "real" else DEFAULT_OUT)
    try:
        results = asyncio.run(_stoppable(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("bench: interrupted; the processes it started are stopped", file=sys.stderr)
        return 130
    except RealStackUnavailable as err:
        print(f"bench: {err}", file=sys.stderr)
        return 2
    report.write(results, out)
    print(report.table(results))
    print(f"\nwrote {out} in {results['elapsed_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
