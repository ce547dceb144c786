"""What every step of a transfer leans on: its state, waiting, giving up, releasing.

`WarmTransferWorkflow` is the call flow; this base class holds the state its signal
handlers touch and the moves every stage makes: wait for something (within the
transfer's deadline), end an attempt, hang a leg up, release whatever the ledger says
the engine created in LiveKit.
"""

from __future__ import annotations

import asyncio
import inspect
from datetime import UTC, datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.livekit import LiveKitActivities
    from warm_transfer.models import (
        Bridge,
        HoldRequest,
        HuntEntry,
        LegRequest,
        RoomRequest,
        TransferRequest,
    )
    from workflows import policies
    from workflows.legs import Ledger, Leg, RingGroup
    from workflows.transfer_state import Tracker

Interruptible = Leg | RingGroup


class TransferCore:
    """The state of one transfer and the moves shared by its stages."""

    def __init__(self) -> None:
        # Everything handlers touch exists before the first signal can arrive.
        self.track = Tracker()
        self.ledger = Ledger()
        self.request: TransferRequest | None = None
        self.destinations: list[HuntEntry] = []
        self.caller_hung_up = False
        self.stop_reason: str | None = None
        self.bridge: Bridge = "move"
        self._next_index = 0
        # Whether the real-stack fault fixes apply (`policies.REAL_FAULTS`): the briefing
        # watched through LiveKit restarts, a caller gone when taken off hold.
        self.survives_faults = False
        self._deadline = datetime.max.replace(tzinfo=UTC)  # set when the run starts
        # Hang-ups started without waiting (a ring group's other members): awaited
        # before anything else is released, so no leg is hung up twice at once.
        self._hanging_up: list[asyncio.Task[None]] = []

    # -- waiting ----------------------------------------------------------------------

    async def wait_for(
        self,
        done: policies.Condition,
        what: str,
        interrupted: policies.Condition,
        *,
        timeout_s: float | None = None,
        bounded_s: float | None = None,
    ) -> None:
        """Waits for ``done`` or ``interrupted``, within ``timeout_s`` and the deadline.

        A wait that something else already ends within ``bounded_s`` (a dial, which the
        server times out) starts a timer only when the transfer deadline comes sooner:
        timers are billed actions, and most calls never need that one.
        """
        remaining = (self._deadline - workflow.now()).total_seconds()
        timeout: float | None = remaining
        if timeout_s is not None:
            timeout = min(timeout_s, remaining)
        elif bounded_s is not None and bounded_s < remaining:
            timeout = None
        try:
            await workflow.wait_condition(
                lambda: done() or interrupted(),
                timeout=None if timeout is None else max(0.001, timeout),
                timeout_summary=what,
            )
        except TimeoutError:
            if workflow.now() >= self._deadline and self.stop_reason is None:
                self.stop_reason = "the transfer deadline (max_transfer_s) passed"

    def set_deadline(self, max_transfer_s: float) -> None:
        """The transfer ends in the fallback ``max_transfer_s`` after it started."""
        self._deadline = workflow.now() + timedelta(seconds=max_transfer_s)

    def _interrupted(self, what: Interruptible | None = None) -> bool:
        return self._stopped() or (what is not None and what.skip_reason is not None)

    def _stopped(self) -> bool:
        return self.caller_hung_up or self.stop_reason is not None

    def _why_stopped(self, what: Interruptible) -> str | None:
        if self.caller_hung_up:
            return "caller hung up"
        return self.stop_reason or what.skip_reason

    # -- giving up, releasing ---------------------------------------------------------

    async def give_up(
        self, leg: Leg, result: policies.Result, reason: str | None, sip: int | None = None
    ) -> bool:
        """Ends an attempt: hang the leg up and record why. Always False."""
        self.track.leg_done(leg, result, reason, sip)
        await self.hang_up(leg.identity)
        return False

    async def hang_up(self, identity: str, *, local: bool = True) -> None:
        """Hangs up a leg still in the ledger and strikes it out."""
        room = self.ledger.legs.get(identity)
        if room is None:
            return
        await policies.run_cleanup(
            LiveKitActivities.hang_up_leg,
            LegRequest(room_name=room, participant_identity=identity),
            "hang up a leg",
            local=local,
        )
        self.ledger.legs.pop(identity, None)

    def hang_up_soon(self, identity: str) -> None:
        """Starts hanging up a leg and goes on at once (see `release_all`)."""
        self._hanging_up.append(asyncio.create_task(self.hang_up(identity)))

    async def release_all(self, *, local: bool = True) -> None:
        """Hangs up every leg and deletes every room still in the ledger.

        ``local=False`` when these are the run's last calls (see `policies.run`).
        """
        if self._hanging_up:
            started, self._hanging_up = self._hanging_up, []
            await asyncio.gather(*started)
        hang_ups = [self.hang_up(identity, local=local) for identity in self.ledger.legs]
        try:
            await asyncio.gather(*hang_ups)
        except BaseException:
            # A workflow evicted from the cache mid-transfer (cancelled, then refused
            # every command) never starts some of these: close them quietly.
            for hang_up in hang_ups:
                if inspect.getcoroutinestate(hang_up) == inspect.CORO_CREATED:
                    hang_up.close()
            raise
        wid = workflow.info().workflow_id
        rooms, self.ledger.rooms = self.ledger.rooms, []
        await asyncio.gather(
            *(
                policies.run_cleanup(
                    LiveKitActivities.delete_room,
                    RoomRequest(room_name=room, workflow_id=wid),
                    "delete a room",
                    local=local,
                )
                for room in rooms
            )
        )

    async def _abandon(self, reason: str) -> None:
        """Leaves LiveKit clean when the run ends abnormally; the caller goes back to
        the AI agent rather than sitting on hold."""
        await self.release_all(local=False)
        if self.ledger.on_hold and self.request is not None and not self.caller_hung_up:
            await policies.run_cleanup(
                LiveKitActivities.stop_hold,
                HoldRequest(
                    workflow_id=workflow.info().workflow_id,
                    room_name=self.request.room_name,
                    caller_identity=self.request.caller_identity,
                    agent_identity=self.request.agent_identity,
                ),
                "take the caller off hold",
                local=False,
            )
            self.ledger.on_hold = False
        if self.track.outcome is None:
            self.track.finish("returned_to_agent", reason=reason)
