"""The warm-transfer worker: `python worker.py`.

Connects to Temporal and LiveKit from the environment (see ../CONTRACT.md and the
README), runs `WarmTransferWorkflow` and the LiveKit activities, and shuts down
gracefully on SIGTERM or SIGINT. Scale out by starting more of them.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import timedelta

import aiohttp
import structlog
from livekit.api import LiveKitAPI
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker

from activities.livekit import LiveKitActivities, LiveKitDefaults
from warm_transfer.config import (
    LiveKitSettings,
    ObservabilitySettings,
    SettingsError,
    TemporalSettings,
    WorkerTuning,
)
from warm_transfer.interceptors import BindLogContext
from warm_transfer.log_setup import PHONE_FIELDS, configure_logging, core_logging_config
from warm_transfer.process import run_main
from warm_transfer.temporal_connect import connect
from workflows.warm_transfer import WarmTransferWorkflow

log = structlog.get_logger("worker")

# The SDK's default buckets are for milliseconds; the engine records seconds and counts.
HISTOGRAM_BUCKETS: dict[str, list[float]] = {
    "warm_transfer_hold_seconds": [1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600],
    "warm_transfer_time_to_answer_seconds": [0.5, 1, 2, 3, 5, 8, 10, 15, 20, 30, 45, 60],
    "warm_transfer_handoff_gap_seconds": [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5],
    "warm_transfer_attempts": [1, 2, 3, 4, 5, 6, 8, 10, 20],
}


def build_worker(
    client: Client,
    activities: LiveKitActivities,
    task_queue: str,
    tuning: WorkerTuning | None = None,
) -> Worker:
    """The worker with the engine's workflow, activities and interceptors."""
    tuning = tuning or WorkerTuning()
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[WarmTransferWorkflow],
        activities=activities.registered(),
        interceptors=[BindLogContext()],
        graceful_shutdown_timeout=timedelta(seconds=10),
        max_cached_workflows=tuning.max_cached_workflows,
        max_concurrent_activities=tuning.max_concurrent_activities,
    )


async def run_worker(
    client: Client,
    livekit: LiveKitSettings,
    task_queue: str,
    stop: asyncio.Event,
    tuning: WorkerTuning | None = None,
) -> None:
    """Runs until ``stop`` is set, then finishes in-flight activities and exits."""
    tuning = tuning or WorkerTuning()
    # failover=False: retrying is Temporal's job, after a look before acting. The
    # client's own region failover replays a 5xx, and LiveKit answers an unanswered
    # dial (SIP 408) with a 504: replaying it would ring the human a second time.
    # A pool sized to the activity slots, not aiohttp's 100 (see WorkerTuning).
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=tuning.livekit_connections),
        timeout=aiohttp.ClientTimeout(total=10),  # livekit-api's default
    )
    lk = LiveKitAPI(
        livekit.url,
        livekit.api_key,
        livekit.api_secret.get_secret_value(),
        failover=False,
        session=session,
    )
    try:
        defaults = LiveKitDefaults(
            sip_trunk_id=livekit.sip_trunk_id,
            briefing_agent=livekit.briefing_agent,
            bridge=livekit.bridge,
            agent_goodbye_s=livekit.agent_goodbye_s,
        )
        activities = LiveKitActivities(lk, defaults)
        probe = asyncio.create_task(_probe_bridge(activities)) if livekit.bridge == "auto" else None
        async with build_worker(client, activities, task_queue, tuning):
            log.info("worker started", task_queue=task_queue, livekit_url=livekit.url)
            await stop.wait()
            log.info("worker stopping")
        if probe is not None:
            probe.cancel()
    finally:
        await lk.aclose()
        await session.close()  # a session passed in is the caller's to close


async def _probe_bridge(activities: LiveKitActivities) -> None:
    # Ahead of the first transfer: a self-hosted server takes 3 s to answer the probe.
    try:
        await activities.probe_bridge()
    except Exception as err:  # the first transfer probes again
        log.warning("bridge probe failed", error=str(err))


def worker_runtime(observability: ObservabilitySettings) -> Runtime:
    """The SDK runtime: core logs into the JSON stream, Prometheus when asked for.

    Made before any client: the core's log forwarding only takes from the first
    runtime of a process.
    """
    metrics = None
    if observability.metrics_bind:
        metrics = PrometheusConfig(
            bind_address=observability.metrics_bind,
            histogram_bucket_overrides=HISTOGRAM_BUCKETS,
        )
    return Runtime(telemetry=TelemetryConfig(logging=core_logging_config(), metrics=metrics))


async def main(client: Client | None = None) -> None:
    """Reads the environment, connects, and runs the worker until SIGTERM/SIGINT."""
    try:
        temporal = TemporalSettings.from_env(os.environ)
        livekit = LiveKitSettings.from_env(os.environ)
        observability = ObservabilitySettings.from_env(os.environ)
        tuning = WorkerTuning.from_env(os.environ)
        drop = PHONE_FIELDS if os.environ.get("LOG_DROP_PHONE_NUMBERS") == "1" else ()
        configure_logging(observability.log_format, observability.log_level, drop)
        if client is None:
            client = await connect(temporal, worker_runtime(observability))
    except SettingsError as err:
        print(f"worker: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await run_worker(client, livekit, temporal.task_queue, stop, tuning)


if __name__ == "__main__":
    run_main(main)
