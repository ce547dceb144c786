"""Phones ringing at once: how many a worker carries, and what they do to the others.

A dial is an activity that holds a worker slot and an HTTP request to LiveKit
(``CreateSIPParticipant`` with ``wait_until_answered``) for as long as the phone
rings. This phase starts ``ringing_transfers`` transfers whose humans answer only
after ``ringing_ring_s`` and, while those phones ring, times a few instant transfers
(time to dial and handoff gap, as in figures 1 and 2): a worker whose slots or
connections are all taken by ringing phones shows it there first. Lost = transfers
not connected at the end (a dial that waited for a slot past its window never rang).
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field

from bench.config import BenchConfig
from bench.harness import Rig, Transfer
from bench.latency import LatencySamples, engine_latency
from bench.load import bounded, place_calls
from warm_transfer.client import transfer_workflow_id
from warm_transfer.sim_agents import SimulatedCall
from workflows.transfer_state import leg_identity

RINGS = "+15550190006"  # answers after ``ringing_ring_s``; the bench accepts at once


@dataclass
class RingingResult:
    """Transfers ringing at once, how many got through, and the instant ones meanwhile."""

    transfers: int
    connected: int = 0
    elapsed_s: float = 0.0
    probes: LatencySamples = field(default_factory=LatencySamples)

    @property
    def lost(self) -> int:
        """Ringing transfers that did not end with the caller and the human together."""
        return self.transfers - self.connected


async def ringing(rig: Rig, cfg: BenchConfig) -> RingingResult:
    """Starts the ringing transfers, probes latency meanwhile, waits for them all."""
    await rig.control.set_scenarios(
        {RINGS: {"outcome": "answer", "ring_s": cfg.ringing_ring_s, "decision": None}}
    )
    calls = await place_calls(rig, cfg.ringing_transfers, "ring", cfg.start_concurrency)
    result = RingingResult(transfers=cfg.ringing_transfers)
    loop = asyncio.get_running_loop()
    began = loop.time()
    try:

        async def start(call: SimulatedCall) -> Transfer:
            request = rig.request(call, [RINGS])
            rig.follower.accept_legs.add(leg_identity(transfer_workflow_id(call.room_name), 1))
            return await rig.start(request)

        started = await bounded(calls, cfg.start_concurrency, start)
        transfers = [t for t in started if isinstance(t, Transfer)]
        outcomes = asyncio.ensure_future(
            bounded(transfers, 5 * cfg.start_concurrency, lambda t: t.handle.outcome())
        )
        probe_cfg = dataclasses.replace(cfg, latency_samples=cfg.ringing_probes)
        result.probes = await engine_latency(rig, probe_cfg)
        done = await asyncio.wait_for(outcomes, cfg.phase_timeout_s)
        result.connected = sum(
            1 for o in done if not isinstance(o, BaseException) and o.outcome == "connected"
        )
    finally:
        rig.follower.forget()
    result.elapsed_s = round(loop.time() - began, 1)
    return result
