"""The engine as real processes, plus the people around it and the means to hurt it.

A `Suite` is a `Stack` (Temporal dev server on a SQLite file, so a restart loses
nothing; the LiveKit stand-in; one worker) with the caller, the voice agent and the
briefing agent played from this process. Fault rows start transfers on it, wait for
the moment to strike (LiveKit events, calls in flight, workflow status: never a
sleep), strike, and have the transfers judged by `audit`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from pydantic import SecretStr
from temporalio.client import Client
from temporalio.service import RPCError

from warm_transfer.client import TransferHandle, start_transfer
from warm_transfer.config import TemporalSettings
from warm_transfer.faultsuite.agent import FaultSuiteAgent
from warm_transfer.faultsuite.audit import Evidence, Plan, judge
from warm_transfer.faultsuite.report import FaultResult
from warm_transfer.livekit_sim import Faults, Scenario, SimControl
from warm_transfer.models import TransferOutcome, TransferRequest, TransferStatus
from warm_transfer.sim_agents import SimulatedCall, place_call, run_briefer
from warm_transfer.stack import SIM_TRUNK, Stack
from warm_transfer.temporal_connect import connect

# The people at the far end, per number (every duration in seconds).
ACCEPTS: Final = "+15550100001"  # answers after 1 s, accepts 1 s into the brief
BUSY: Final = "+15550100002"  # 486 after 0.5 s
SLOW_ANSWER: Final = "+15550100003"  # rings 12 s, answers, accepts 1 s into the brief
SLOW_BUSY: Final = "+15550100004"  # rings 12 s, then 486
SLOW_DECIDER: Final = "+15550100005"  # answers after 1 s, accepts 8 s into the brief
DECLINES: Final = "+15550100006"  # answers after 1 s, declines 1 s into the brief
ACCEPTS_2: Final = "+15550100007"
ACCEPTS_3: Final = "+15550100008"
BAD_NUMBER: Final = "+15550100009"  # 404 after 0.2 s
VOICEMAIL: Final = "+15550100010"  # a machine answers after 1 s
NEVER_ANSWERS: Final = "+15550100011"  # rings until the ring timeout, then 408
# Answers after 1 s, accepts 8 s later. After a declined human the stand-in starts this
# human's clock at the answer, not at their own brief (the earlier human's dispatch is
# still in the room), and the briefing agent ignores a key pressed before the brief:
# the slow decision leaves room for a loaded worker to brief first.
ACCEPTS_SLOWLY: Final = "+15550100012"
UNKNOWN_TRUNK: Final = "ST_no_such_trunk"

_ACCEPT: Final = Scenario(outcome="answer", ring_s=1, decision="accept", decide_after_s=1)
PEOPLE: Final[dict[str, Scenario]] = {
    ACCEPTS: _ACCEPT,
    ACCEPTS_2: _ACCEPT,
    ACCEPTS_3: _ACCEPT,
    BUSY: Scenario(outcome="busy", ring_s=0.5),
    SLOW_ANSWER: Scenario(outcome="answer", ring_s=12, decision="accept", decide_after_s=1),
    SLOW_BUSY: Scenario(outcome="busy", ring_s=12),
    SLOW_DECIDER: Scenario(outcome="answer", ring_s=1, decision="accept", decide_after_s=8),
    DECLINES: Scenario(outcome="answer", ring_s=1, decision="decline", decide_after_s=1),
    BAD_NUMBER: Scenario(outcome="not_found", ring_s=0.2),
    VOICEMAIL: Scenario(outcome="voicemail", ring_s=1),
    NEVER_ANSWERS: Scenario(outcome="no_answer"),
    ACCEPTS_SLOWLY: Scenario(outcome="answer", ring_s=1, decision="accept", decide_after_s=8),
}
SUMMARY: Final = "Caller disputes a $42 charge on the May invoice; identity verified."


@dataclass
class Transfer:
    """One transfer of a fault row and how it ended."""

    plan: Plan
    call: SimulatedCall
    handle: TransferHandle
    outcome: TransferOutcome | None = None
    error: str | None = None


@dataclass
class Suite:
    """A running stack with its clients; see the module docstring."""

    stack: Stack
    client: Client
    control: SimControl
    agent: FaultSuiteAgent
    task_queue: str
    _row_started: float = field(default=0.0, init=False)

    @classmethod
    @asynccontextmanager
    async def running(
        cls, workdir: Path, payload_key: str | None = None, **worker_env: str
    ) -> AsyncIterator[Suite]:
        """Starts the stack and the agents; stops every process on the way out.

        Args:
            workdir: logs and the server's database.
            payload_key: encrypt payloads (worker and this side's client) with it.
            worker_env: more environment for the worker (``LOG_LEVEL``...).
        """
        task_queue = f"faultsuite-{uuid.uuid4().hex[:8]}"
        if payload_key is not None:
            worker_env["WARM_TRANSFER_PAYLOAD_KEY"] = payload_key
        stack = Stack(
            workdir=workdir,
            persistent=True,
            ui=False,
            # Known trunks only, so an unknown trunk is refused as LiveKit refuses it.
            sim_args=["--trunk", SIM_TRUNK, "--log-level", "warning"],
            worker_env={"TEMPORAL_TASK_QUEUE": task_queue, "LOG_LEVEL": "INFO", **worker_env},
        )
        async with stack:
            key = SecretStr(payload_key) if payload_key is not None else None
            client = await connect(
                TemporalSettings(address=stack.temporal_address, payload_key=key)
            )
            async with SimControl(stack.sim_url) as control:
                agent = FaultSuiteAgent(control, client)
                task = await run_briefer(agent)
                try:
                    yield cls(stack, client, control, agent, task_queue)
                finally:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    async def fresh(self, unruly: bool = False) -> None:
        """A clean stand-in (no rooms, logs or faults) and the suite's people."""
        await self.control.reset()
        await self.control.set_scenarios(PEOPLE)
        self.agent.unruly = unruly
        self.agent.extra_signals = 0
        self._row_started = time.monotonic()

    async def start(self, label: str, plans: Sequence[Plan]) -> list[Transfer]:
        """Places one call per plan and starts their transfers, all at once."""
        return list(await asyncio.gather(*(self._start(label, i, p) for i, p in enumerate(plans))))

    async def _start(self, label: str, index: int, plan: Plan) -> Transfer:
        tag = f"fs-{label}-{index}-{uuid.uuid4().hex[:6]}"
        call = await place_call(self.control, tag)
        request = TransferRequest(
            room_name=call.room_name,
            caller_identity=call.caller_identity,
            agent_identity=call.agent_identity,
            destinations=list(plan.destinations),
            summary=SUMMARY,
            fallback=plan.fallback,
        )
        if plan.max_transfer_s is not None:
            request = request.model_copy(update={"max_transfer_s": plan.max_transfer_s})
        handle = await start_transfer(
            self.client, request, workflow_id=f"wt-{tag}", task_queue=self.task_queue
        )
        return Transfer(plan, call, handle)

    async def until(
        self, check: Callable[[], Awaitable[bool]], what: str, timeout: float = 60.0
    ) -> None:
        """Waits until ``check`` holds (polling); a Temporal hiccup counts as not yet.

        Raises:
            TimeoutError: naming ``what``.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            with contextlib.suppress(RPCError):
                if await check():
                    return
            if loop.time() > deadline:
                raise TimeoutError(f"fault suite: still waiting for {what} after {timeout} s")
            await asyncio.sleep(0.1)

    async def in_flight(self, method: str) -> int:
        """LiveKit calls of ``method`` that arrived and have not been answered yet."""
        return sum(1 for c in await self.control.calls(method=method) if c["end"] is None)

    async def arrived(self, method: str) -> int:
        """LiveKit calls of ``method`` that arrived, answered or not."""
        return len(await self.control.calls(method=method))

    async def call_status(
        self, transfers: Sequence[Transfer], status: str, leg: int | str = 1
    ) -> bool:
        """True when every transfer's ``leg``-th human leg (``"1-2"``: member 2 of the ring
        group tried first) has reached ``status``."""
        events = await self.control.events()
        seen = {
            e.get("participant_identity")
            for e in events
            if e["type"] == "call_status" and e.get("status") == status
        }
        return all(f"{t.handle.workflow_id}-human-{leg}" in seen for t in transfers)

    async def events_of(self, kind: str) -> list[dict[str, Any]]:
        """Every stand-in event of type ``kind`` since the row started."""
        return [dict(e) for e in await self.control.events() if e["type"] == kind]

    async def statuses(self, transfers: Sequence[Transfer]) -> list[TransferStatus]:
        """The ``status`` query of every transfer."""
        return list(await asyncio.gather(*(t.handle.status() for t in transfers)))

    async def crash_worker(self) -> None:
        """SIGKILLs the worker, lifts every fault, starts a fresh worker."""
        await self.stack.kill_worker()
        await self.control.set_faults(Faults())
        await self.stack.start_worker()

    async def finish(self, transfers: Sequence[Transfer], timeout: float = 120.0) -> None:
        """Waits for every outcome (a failed or stuck run is recorded, not raised)."""

        async def one(t: Transfer) -> None:
            try:
                t.outcome = await asyncio.wait_for(t.handle.outcome(), timeout)
            except Exception as err:  # the row reports it; the suite goes on
                t.error = f"{type(err).__name__}: {err}"

        await asyncio.gather(*(one(t) for t in transfers))

    async def judge(
        self, fault: str, description: str, transfers: Sequence[Transfer]
    ) -> FaultResult:
        """Judges finished transfers against what the stand-in recorded."""
        evidence = Evidence(
            await self.control.calls(), await self.control.events(), await self.control.state()
        )
        result = FaultResult(fault, description, transfers=len(transfers))
        for t in transfers:
            verdict = judge(t.handle.workflow_id, t.call, t.plan, t.outcome, t.error, evidence)
            result.right += verdict.right
            result.duplicates += verdict.duplicates
            result.leaks += verdict.leaks
            result.given_up += verdict.given_up
            result.problems += verdict.problems
        result.seconds = time.monotonic() - self._row_started
        return result
