"""Process faults: the worker SIGKILLed at each stage of a transfer, the server restarted.

Each row opens a window at one stage (a slow LiveKit method, a phone that rings for
a while), waits until every transfer of the row is inside it, strikes, and lets a
fresh worker finish the job. After SIGKILL an activity in flight is retried only
when its heartbeat timeout (dials) or start-to-close timeout (10 s) runs out.
"""

from __future__ import annotations

from collections.abc import Awaitable

from warm_transfer.faultsuite.audit import plan
from warm_transfer.faultsuite.harness import (
    ACCEPTS,
    NEVER_ANSWERS,
    SLOW_ANSWER,
    SLOW_BUSY,
    SLOW_DECIDER,
    Suite,
)
from warm_transfer.faultsuite.report import FaultResult
from warm_transfer.models import Destination, DestinationGroup

# How long a slowed LiveKit method takes. A worker can stall for a workflow task
# timeout (10 s) on a busy machine, so one transfer may lag the others by that much.
# A slowed call that creates something stays under the 10 s start-to-close timeout,
# or the retry would create it again and the late original land after the engine
# deleted it (see docs/reliability.md); a slowed removal may take longer.
_CREATE_WINDOW_MS = 8000
_REMOVE_WINDOW_MS = 20_000


async def kill_while_holding(suite: Suite, n: int) -> FaultResult:
    """SIGKILL while the caller is put on hold and the consultation room is created."""
    await suite.fresh()
    await suite.control.set_faults(latency_ms=_CREATE_WINDOW_MS, methods=["CreateRoom"])
    transfers = await suite.start("hold", [plan(ACCEPTS)] * n)
    await suite.until(lambda: _at_least(suite.arrived("CreateRoom"), n), "every CreateRoom sent")
    await suite.crash_worker()
    await suite.finish(transfers)
    return await suite.judge(
        "worker-kill-holding", "SIGKILL while the caller is put on hold", transfers
    )


async def kill_while_ringing(suite: Suite, n: int) -> FaultResult:
    """SIGKILL while the human's phone rings (12 s): half answer later, half turn out
    busy and the next destination takes the call; nobody is rung twice."""
    await suite.fresh()
    plans = [plan(SLOW_ANSWER) if i % 2 == 0 else plan(SLOW_BUSY, ACCEPTS) for i in range(n)]
    transfers = await suite.start("ring", plans)
    await suite.until(lambda: suite.call_status(transfers, "ringing"), "every first leg ringing")
    await suite.crash_worker()
    await suite.finish(transfers)
    return await suite.judge(
        "worker-kill-ringing", "SIGKILL while the human's phone rings", transfers
    )


async def kill_while_group_rings(suite: Suite, n: int) -> FaultResult:
    """SIGKILL while the three phones of a ring group ring (12 s): one answers later,
    one turns out busy, one would ring on; the new worker follows every leg (one INVITE
    each), the one who answers is the one bridged and the phone still ringing gets a
    CANCEL."""
    await suite.fresh()
    team = DestinationGroup(
        group=[Destination(sip_call_to=n) for n in (SLOW_ANSWER, NEVER_ANSWERS, SLOW_BUSY)],
        ring_timeout_s=20,
    )
    transfers = await suite.start("group", [plan(team, expect_destination=SLOW_ANSWER)] * n)

    async def all_ringing() -> bool:
        checks = [suite.call_status(transfers, "ringing", leg=f"1-{m}") for m in (1, 2, 3)]
        return all([await check for check in checks])

    await suite.until(all_ringing, "every phone of every group ringing")
    await suite.crash_worker()
    await suite.finish(transfers)
    return await suite.judge(
        "worker-kill-group-ringing", "SIGKILL while three phones of a ring group ring", transfers
    )


async def kill_while_briefing(suite: Suite, n: int) -> FaultResult:
    """SIGKILL while the briefing agent is dispatched to the human (CreateDispatch slowed
    to 8 s) or while the human, briefed, takes 8 s to decide."""
    await suite.fresh()
    await suite.control.set_faults(latency_ms=_CREATE_WINDOW_MS, methods=["CreateDispatch"])
    transfers = await suite.start("brief", [plan(SLOW_DECIDER)] * n)
    await suite.until(
        lambda: _at_least(suite.arrived("CreateDispatch"), n), "every CreateDispatch sent"
    )
    await suite.crash_worker()
    await suite.finish(transfers)
    return await suite.judge(
        "worker-kill-briefing", "SIGKILL while the human is being briefed", transfers
    )


async def kill_after_bridge(suite: Suite, n: int) -> FaultResult:
    """SIGKILL between the bridge (MoveParticipant done) and the AI agent's removal."""
    await suite.fresh()
    await suite.control.set_faults(latency_ms=_REMOVE_WINDOW_MS, methods=["RemoveParticipant"])
    transfers = await suite.start("bridge", [plan(ACCEPTS)] * n)

    async def bridged_not_removed() -> bool:
        moved = {e.get("participant_identity") for e in await suite.events_of("moved")}
        every = all(f"{t.handle.workflow_id}-human-1" in moved for t in transfers)
        return every and await suite.in_flight("RemoveParticipant") >= n

    await suite.until(bridged_not_removed, "every human moved, every agent removal in flight")
    await suite.crash_worker()
    await suite.finish(transfers)
    return await suite.judge(
        "worker-kill-bridged",
        "SIGKILL after MoveParticipant, with the agent's RemoveParticipant in flight",
        transfers,
    )


async def restart_server(suite: Suite, n: int) -> FaultResult:
    """Stops and restarts the Temporal server (same SQLite file) while phones ring."""
    await suite.fresh()
    transfers = await suite.start("restart", [plan(SLOW_ANSWER)] * n)
    await suite.until(lambda: suite.call_status(transfers, "ringing"), "every leg ringing")
    await suite.stack.server.restart()
    await suite.finish(transfers)
    return await suite.judge(
        "server-restart", "Temporal server stopped and restarted while phones ring", transfers
    )


async def _at_least(count: Awaitable[int], n: int) -> bool:
    return (await count) >= n
