"""The humans' side of the signals, played from the stand-in's event log.

Like `warm_transfer.sim_agents.SimulatedBriefingAgent` (the webhook bridge sends
``human_answered`` when a dialed leg goes active; the briefing agent sends the
decision), except that the decision is the bench's: it accepts when told to, or at
once when a leg is briefed (``accept_on_dispatch``), and every signal goes out as its
own task so that one slow signal never delays the next event.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Coroutine
from typing import Any, Final

import aiohttp
import structlog
from temporalio.client import Client
from temporalio.service import RPCError

from warm_transfer.livekit_sim import SimControl, SimControlError, SimEvent
from warm_transfer.models import HumanAccepted, HumanAnswered
from warm_transfer.wire import ATTR_ROLE, ATTR_WORKFLOW_ID

log = structlog.get_logger(__name__)

MAX_SIGNALS_IN_FLIGHT: Final = 200


class EventFollower:
    """Follows the stand-in's events and signals transfers like the agents would.

    Args:
        control: the stand-in's control client.
        client: Temporal client with the engine's data converter.
        signal_answered: send ``human_answered`` when a dialed human's leg goes active
            (the webhook bridge's job in a deployment).
    """

    def __init__(self, control: SimControl, client: Client, signal_answered: bool = True) -> None:
        self.control = control
        self.client = client
        self.signal_answered = signal_answered
        self.accept_on_dispatch = False
        self.accept_legs: set[str] = set()  # accepted as soon as briefed, whatever the flag
        self.briefed_at: dict[str, float] = {}
        self.signals_failed = 0
        self._dialed: dict[str, str] = {}  # leg identity -> workflow id
        self._waiters: dict[str, asyncio.Future[float]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(MAX_SIGNALS_IN_FLIGHT)

    async def run(self, after: int) -> None:
        """Follows events newer than ``after`` until cancelled."""
        seq = after
        while True:
            try:
                events = await self.control.events(seq, timeout=5.0)
            except (TimeoutError, OSError, aiohttp.ClientError, SimControlError) as err:
                log.warning("event poll failed, polling again", error=str(err))
                await asyncio.sleep(0.1)  # a stand-in under load
                continue
            for event in events:
                seq = event["seq"]
                self._handle(event)

    def briefed(self, leg: str) -> asyncio.Future[float]:
        """Resolves with the stand-in's time of the briefing dispatch for ``leg``."""
        fut = self._waiters.get(leg)
        if fut is None:
            fut = self._waiters[leg] = asyncio.get_running_loop().create_future()
            if leg in self.briefed_at:
                fut.set_result(self.briefed_at[leg])
        return fut

    async def accept(self, workflow_id: str, leg: str) -> float:
        """Sends ``human_accepted`` now; returns the wall clock just before sending."""
        sent_at = time.time()
        await self._signal(workflow_id, "human_accepted", HumanAccepted(participant_identity=leg))
        return sent_at

    async def drain(self) -> None:
        """Waits for the signals still in flight."""
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def forget(self) -> None:
        """Drops what was recorded so far (between phases, to bound memory)."""
        self.briefed_at.clear()
        self.accept_legs.clear()
        self._dialed.clear()
        for fut in self._waiters.values():
            fut.cancel()
        self._waiters.clear()

    def _handle(self, event: SimEvent) -> None:
        kind = event["type"]
        identity = event.get("participant_identity", "")
        if kind == "participant_joined":
            attributes = event.get("attributes", {})
            if attributes.get(ATTR_ROLE) == "human":
                self._dialed[identity] = attributes.get(ATTR_WORKFLOW_ID, "")
        elif kind == "call_status" and event.get("status") == "active":
            workflow_id = self._dialed.get(identity)
            if workflow_id and self.signal_answered:
                payload = HumanAnswered(participant_identity=identity)
                self._spawn(self._signal(workflow_id, "human_answered", payload))
        elif kind == "dispatch_created":
            brief = json.loads(event.get("metadata") or "{}")
            leg, workflow_id = brief.get("human_identity", ""), brief.get("workflow_id", "")
            self.briefed_at[leg] = event["time"]
            fut = self._waiters.pop(leg, None)
            if fut is not None and not fut.done():
                fut.set_result(event["time"])
            if workflow_id and (self.accept_on_dispatch or leg in self.accept_legs):
                self._spawn(self.accept(workflow_id, leg))

    def _spawn(self, coro: Coroutine[Any, Any, object]) -> None:
        async def bounded() -> None:
            async with self._slots:
                await coro

        task = asyncio.create_task(bounded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _signal(self, workflow_id: str, name: str, payload: object) -> None:
        try:
            await self.client.get_workflow_handle(workflow_id).signal(name, payload)
        except RPCError as err:
            # A transfer that is already over (a late signal) is not an error.
            self.signals_failed += 1
            log.debug("signal not delivered", signal=name, workflow_id=workflow_id, error=str(err))
