"""Each figure as a phase on one running stack, turned into flat result keys."""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Final

from bench.config import BenchConfig
from bench.cost import Cost, cost_of, group_of_three, heartbeat_count, three_failures
from bench.direct import direct_latency
from bench.harness import Rig
from bench.latency import LatencySamples, engine_latency
from bench.load import inflight, throughput
from bench.ringing import ringing
from bench.stats import percentile, ratio, summary_ms

# In the order they run: the in-flight phase leaves the most state behind, so it is last.
PHASES: Final = ("latency", "cost", "direct", "throughput", "ringing", "inflight")


def say(text: str) -> None:
    """Progress, on stderr (stdout carries the table)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def _latency_keys(prefix: str, samples: LatencySamples) -> dict[str, Any]:
    if not samples.handoff_gap_s:
        return {}
    gap, dial = summary_ms(samples.handoff_gap_s), summary_ms(samples.time_to_dial_s)
    out = {f"{prefix}handoff_gap_ms_{k}": v for k, v in gap.items()}
    return out | {f"{prefix}time_to_dial_ms_{k}": v for k, v in dial.items()}


def _cost_keys(suffix: str, cost: Cost) -> dict[str, Any]:
    return {
        f"actions_per_{suffix}": cost.actions,
        f"history_events_per_{suffix}": cost.history_events,
        f"actions_breakdown_{suffix}": cost.by_kind,
    }


async def run_latency(rig: Rig, cfg: BenchConfig, costed: bool) -> dict[str, Any]:
    """Figures 1 and 2 (and, when ``costed``, figure 6 for a first-try success)."""
    say(f"latency: {cfg.latency_samples} transfers, one at a time")
    beats = await heartbeat_count(rig)
    lat = await engine_latency(rig, cfg)
    out = _latency_keys("", lat)
    out["latency_samples"] = len(lat.handoff_gap_s)
    out["latency_not_connected"] = lat.not_connected
    if costed:
        beats_each = (await heartbeat_count(rig) - beats) / max(1, cfg.latency_samples)
        ok = await cost_of(rig, lat.workflow_ids[: cfg.cost_samples], beats_each)
        out |= _cost_keys("success", ok)
    return out


async def run_cost(rig: Rig, cfg: BenchConfig) -> dict[str, Any]:
    """Figure 6 for three failed destinations, then voicemail; and for a ring group of
    three phones, one answering while the two others are cancelled."""
    say(f"cost: {cfg.failure_samples} transfers with three failed destinations")
    beats = await heartbeat_count(rig)
    ids = await three_failures(rig, cfg)
    beats_each = (await heartbeat_count(rig) - beats) / max(1, cfg.failure_samples)
    out = _cost_keys("three_failures", await cost_of(rig, ids, beats_each))
    say(f"cost: {cfg.failure_samples} transfers to a ring group of three")
    beats = await heartbeat_count(rig)
    ids = await group_of_three(rig, cfg)
    beats_each = (await heartbeat_count(rig) - beats) / max(1, cfg.failure_samples)
    return out | _cost_keys("group_of_three", await cost_of(rig, ids, beats_each))


async def run_direct(rig: Rig, cfg: BenchConfig, engine: dict[str, Any]) -> dict[str, Any]:
    """Figure 3, with the engine/direct ratios when figures 1 and 2 ran."""
    say(f"direct: {cfg.direct_samples} transfers by a plain asyncio script")
    out = _latency_keys("direct_", await direct_latency(rig, cfg))
    for what in ("handoff_gap", "time_to_dial"):
        for p in ("p50", "p99"):
            mine, base = engine.get(f"{what}_ms_{p}"), out.get(f"direct_{what}_ms_{p}")
            if mine is not None and base is not None:
                out[f"{what}_ratio_{p}"] = ratio(mine, base)
    return out


async def run_throughput(rig: Rig, cfg: BenchConfig) -> dict[str, Any]:
    """Figure 4, with the CPU each process spent per transfer."""
    n, callers = cfg.throughput_transfers, cfg.throughput_concurrency
    say(f"throughput: {n} transfers, {callers} concurrent callers")
    tp = await throughput(rig, cfg)
    out: dict[str, Any] = {
        "throughput_tps": tp.tps,
        "throughput_concurrency": tp.concurrency,
        "throughput_transfers": tp.transfers,
        "throughput_not_connected": tp.not_connected,
        "cpu_ms_per_transfer": tp.cpu_ms,
    }
    # Projections that noise barely moves: CPU per transfer is what a busy machine
    # inflates least. One worker core's worth of transfers/s, and this machine's
    # ceiling if every core ran only the stack.
    if tp.cpu_ms.get("worker"):
        out["worker_core_tps"] = round(1000 / tp.cpu_ms["worker"], 1)
    if tp.cpu_ms.get("total"):
        cores = os.cpu_count() or 1
        out["cpu_bound_tps"] = round(1000 * cores / tp.cpu_ms["total"], 1)
    if tp.latency_s:
        out["throughput_latency_ms_p50"] = round(percentile(tp.latency_s, 50) * 1000, 1)
        out["throughput_latency_ms_p99"] = round(percentile(tp.latency_s, 99) * 1000, 1)
    return out


async def run_ringing(rig: Rig, cfg: BenchConfig) -> dict[str, Any]:
    """Phones ringing at once, and instant transfers timed meanwhile."""
    n, ring = cfg.ringing_transfers, cfg.ringing_ring_s
    say(f"ringing: {n} phones ringing {ring:g} s at once, {cfg.ringing_probes} probes")
    rung = await ringing(rig, cfg)
    out: dict[str, Any] = {
        "ringing_transfers": rung.transfers,
        "ringing_ring_s": ring,
        "ringing_lost": rung.lost,
        "ringing_elapsed_s": rung.elapsed_s,
    }
    return out | _latency_keys("ringing_probe_", rung.probes)


async def run_inflight(rig: Rig, cfg: BenchConfig) -> dict[str, Any]:
    """Figure 5."""
    say(f"in-flight: {cfg.inflight_transfers} transfers parked at once")
    inf = await inflight(rig, cfg)
    return {
        "inflight_transfers": inf.transfers,
        "inflight_parked": inf.parked,
        "inflight_lost": inf.lost,
        "inflight_worker_rss_mb": inf.rss_peak_mb,
        "inflight_worker_rss_parked_mb": inf.rss_parked_mb,
        "inflight_start_s": inf.start_s,
        "inflight_drain_s": inf.drain_s,
    }


async def run_phases(rig: Rig, cfg: BenchConfig, phases: set[str]) -> dict[str, Any]:
    """Runs the selected phases on one stack, in `PHASES` order; returns their figures."""
    out: dict[str, Any] = {}
    if "latency" in phases:
        out |= await run_latency(rig, cfg, costed="cost" in phases)
    if "cost" in phases:
        out |= await run_cost(rig, cfg)
    if "direct" in phases:
        out |= await run_direct(rig, cfg, out)
    if "throughput" in phases:
        out |= await run_throughput(rig, cfg)
    if "ringing" in phases and cfg.ringing_transfers > 0:
        out |= await run_ringing(rig, cfg)
    if "inflight" in phases:
        out |= await run_inflight(rig, cfg)
    return out
