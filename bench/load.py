"""Figures 4 and 5: throughput with N concurrent callers, and transfers in flight at once.

Both use a human who answers at once and never presses a key; the bench accepts.
Throughput accepts as soon as the briefing is dispatched (an instant human) and
counts completed transfers per second over a closed loop of N callers, after a
warm-up. In-flight capacity starts every transfer first and lets each one park,
waiting for the human's decision (caller on hold, human briefed), samples the
worker's resident memory, then accepts them all and times the drain.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from bench.config import HOLDS, BenchConfig
from bench.harness import Rig, Transfer
from bench.stats import cpu_ms_per, cpu_seconds, rss_mb
from warm_transfer.sim_agents import SimulatedCall

T = TypeVar("T")
R = TypeVar("R")


async def bounded(
    items: Sequence[T], limit: int, fn: Callable[[T], Awaitable[R]]
) -> list[R | BaseException]:
    """``fn`` over ``items`` with at most ``limit`` in flight; exceptions are returned."""
    slots = asyncio.Semaphore(limit)

    async def one(item: T) -> R:
        async with slots:
            return await fn(item)

    return await asyncio.gather(*(one(i) for i in items), return_exceptions=True)


async def place_calls(rig: Rig, n: int, phase: str, limit: int) -> list[SimulatedCall]:
    """``n`` callers on the phone with a voice agent, before any clock starts."""
    placed = await bounded(range(n), limit, lambda _: rig.call(phase))
    return [c for c in placed if isinstance(c, SimulatedCall)]


@dataclass
class ThroughputResult:
    """Completed transfers per second with ``concurrency`` callers in a closed loop."""

    concurrency: int
    transfers: int
    elapsed_s: float
    not_connected: int
    latency_s: list[float] = field(default_factory=list)
    cpu_ms: dict[str, float] = field(default_factory=dict)

    @property
    def tps(self) -> float:
        """Connected transfers per second."""
        done = self.transfers - self.not_connected
        return round(done / self.elapsed_s, 1) if self.elapsed_s > 0 else 0.0


async def _closed_loop(rig: Rig, calls: list[SimulatedCall], concurrency: int) -> ThroughputResult:
    queue = iter(calls)
    result = ThroughputResult(concurrency, len(calls), 0.0, 0)

    async def caller() -> None:
        for call in queue:
            try:
                transfer = await rig.start(rig.request(call, [HOLDS]))
                outcome = await transfer.handle.outcome()
            except Exception:
                result.not_connected += 1
                continue
            result.latency_s.append(time.time() - transfer.started_at)
            if outcome.outcome != "connected":
                result.not_connected += 1

    began = time.monotonic()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    result.elapsed_s = time.monotonic() - began
    return result


async def throughput(rig: Rig, cfg: BenchConfig) -> ThroughputResult:
    """Warm-up, then ``cfg.throughput_transfers`` transfers by N concurrent callers."""
    n = cfg.throughput_concurrency
    warmup = await place_calls(rig, cfg.warmup_transfers, "warm", cfg.start_concurrency)
    calls = await place_calls(rig, cfg.throughput_transfers, "tp", cfg.start_concurrency)
    rig.follower.accept_on_dispatch = True
    try:
        await asyncio.wait_for(_closed_loop(rig, warmup, n), cfg.phase_timeout_s)
        before = cpu_seconds()
        result = await asyncio.wait_for(_closed_loop(rig, calls, n), cfg.phase_timeout_s)
        result.cpu_ms = cpu_ms_per(before, cpu_seconds(), len(calls))
        return result
    finally:
        rig.follower.accept_on_dispatch = False
        rig.follower.forget()


@dataclass
class InflightResult:
    """Transfers parked at once, the worker's memory, and the drain once accepted."""

    transfers: int
    parked: int = 0
    connected: int = 0
    start_s: float = 0.0
    drain_s: float = 0.0
    rss_parked_mb: float = 0.0
    rss_peak_mb: float = 0.0

    @property
    def lost(self) -> int:
        """Transfers that did not end with the caller and the human together."""
        return self.transfers - self.connected


def workers_rss_mb(pids: list[int]) -> float:
    """Resident memory of every worker, added up."""
    return round(sum(rss_mb(pid)[0] for pid in pids), 1)


async def _sample_rss(pids: list[int], into: InflightResult) -> None:
    while True:
        into.rss_peak_mb = max(into.rss_peak_mb, workers_rss_mb(pids))
        await asyncio.sleep(0.25)


async def inflight(rig: Rig, cfg: BenchConfig) -> InflightResult:
    """Parks ``cfg.inflight_transfers`` transfers at once, then accepts them all."""
    limit = cfg.start_concurrency
    calls = await place_calls(rig, cfg.inflight_transfers, "hold", limit)
    result = InflightResult(transfers=cfg.inflight_transfers)
    sampler = asyncio.create_task(_sample_rss(rig.worker_pids, result))
    try:
        began = time.monotonic()

        async def start(call: SimulatedCall) -> Transfer:
            request = rig.request(call, [HOLDS], accept_timeout_s=900, max_transfer_s=7200)
            return await rig.start(request)

        started = [t for t in await bounded(calls, limit, start) if isinstance(t, Transfer)]
        briefed = [rig.follower.briefed(t.leg) for t in started]
        if briefed:
            await asyncio.wait(briefed, timeout=cfg.phase_timeout_s)
        result.start_s = round(time.monotonic() - began, 2)
        result.parked = sum(1 for f in briefed if f.done())
        result.rss_parked_mb = workers_rss_mb(rig.worker_pids)
        began = time.monotonic()
        await bounded(started, limit, rig.accept)
        outcomes = await bounded(started, 5 * limit, lambda t: t.handle.outcome())
        result.drain_s = round(time.monotonic() - began, 2)
        result.connected = sum(
            1 for o in outcomes if not isinstance(o, BaseException) and o.outcome == "connected"
        )
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        rig.follower.forget()
    return result
