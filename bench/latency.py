"""Figures 1 and 2: the handoff gap and the time to dial, one transfer at a time.

Each sample is a warm transfer to a human who answers at once and never presses a
key; the bench plays the briefing agent: once the briefing is dispatched it waits
``settle_s`` (the human listens to the brief; the workflow is parked waiting for the
decision) and sends ``human_accepted`` itself, noting the wall clock just before.

* time to dial = the stand-in's start time of ``CreateSIPParticipant`` for the leg
  minus the wall clock just before ``start_workflow``;
* handoff gap = the stand-in's end time of ``MoveParticipant`` for the leg (the human
  is in the caller's room) minus the wall clock just before the accept signal.

Both ends are read from one machine's clock (the stand-in's call log is wall-clock).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from bench.config import HOLDS, BenchConfig
from bench.harness import Rig, Transfer
from warm_transfer.livekit_sim import CallRecord, SimControl


@dataclass
class LatencySamples:
    """Per-transfer latencies in seconds, and the runs they came from."""

    time_to_dial_s: list[float] = field(default_factory=list)
    handoff_gap_s: list[float] = field(default_factory=list)
    workflow_ids: list[str] = field(default_factory=list)
    not_connected: int = 0


async def call_seq(control: SimControl) -> int:
    """A lower bound of the stand-in's last call-log sequence number."""
    return int((await control.state())["calls_logged"])


def by_identity(calls: list[CallRecord], key: str) -> dict[str, CallRecord]:
    """Call records keyed by the participant identity their request names."""
    found: dict[str, CallRecord] = {}
    for call in calls:
        request = call.get("request") or {}
        identity = request.get(key)
        if isinstance(identity, str):
            found.setdefault(identity, call)
    return found


async def engine_latency(rig: Rig, cfg: BenchConfig) -> LatencySamples:
    """Runs ``cfg.latency_samples`` transfers one after another and times them."""
    seq0 = await call_seq(rig.control)
    runs: list[tuple[Transfer, float]] = []
    result = LatencySamples()
    for _ in range(cfg.latency_samples):
        call = await rig.call("lat")
        transfer = await rig.start(rig.request(call, [HOLDS]))
        await asyncio.wait_for(rig.follower.briefed(transfer.leg), cfg.phase_timeout_s)
        await asyncio.sleep(cfg.settle_s)
        accepted_at = await rig.accept(transfer)
        outcome = await asyncio.wait_for(transfer.handle.outcome(), cfg.phase_timeout_s)
        if outcome.outcome != "connected":
            result.not_connected += 1
            continue
        runs.append((transfer, accepted_at))
    dials = by_identity(
        await rig.control.calls(seq0, method="CreateSIPParticipant"), "participant_identity"
    )
    moves = by_identity(await rig.control.calls(seq0, method="MoveParticipant"), "identity")
    for transfer, accepted_at in runs:
        dial, move = dials.get(transfer.leg), moves.get(transfer.leg)
        if dial is None or move is None or move["end"] is None:
            result.not_connected += 1
            continue
        result.time_to_dial_s.append(dial["start"] - transfer.started_at)
        result.handoff_gap_s.append(move["end"] - accepted_at)
        result.workflow_ids.append(transfer.handle.workflow_id)
    return result
