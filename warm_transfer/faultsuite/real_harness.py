"""The fault suite on real LiveKit: the stack, the calls, the strikes, the evidence.

A `RealSuite` is a `Stack(livekit="real", persistent=True)`: the Temporal dev server
on a SQLite file, Redis, livekit-server, livekit-sip and the sipp phones in their own
namespaces, ``python worker.py``, the keypad briefing agent and the webhook bridge.
A row runs its transfers in waves of at most `RealSuite.wave_size` (real calls are
heavy on a 2-core host): each wave places its callers, starts the transfers, waits
until every one of them is at the moment the fault aims at (an INVITE in a phone's
log, a stage in the ``status`` query, a data message at the AI agent: never a sleep),
strikes once, waits for the outcomes, records what LiveKit and the SFU show, ends the
calls as callers do (the caller's room is closed) and waits for the phones to see
every call end. `real_audit.judge_real` then reads the phones' logs.
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

from livekit import api
from temporalio.client import Client
from temporalio.service import RPCError

from warm_transfer.client import TransferHandle, start_transfer
from warm_transfer.config import TemporalSettings
from warm_transfer.faultsuite.real_audit import (
    CALLER_ATTEMPT,
    TAG_HEADER,
    Observed,
    RealPlan,
    judge_real,
)
from warm_transfer.faultsuite.real_hearing import accepted_at, sample_sfu
from warm_transfer.faultsuite.report import FaultResult
from warm_transfer.models import TransferRequest
from warm_transfer.realstack.impair import LinkImpairer
from warm_transfer.realstack.launcher import RealLiveKit
from warm_transfer.realstack.people import AgentParticipant, place_real_call
from warm_transfer.realstack.phones import CALLER_NUMBER
from warm_transfer.realstack.sfu import subscribers
from warm_transfer.realstack.telephony import RealTelephony
from warm_transfer.stack import Stack
from warm_transfer.temporal_connect import connect

SUMMARY = "Caller disputes a $42 charge on the May invoice; identity verified."
# How long the phones get to see every call end once the harness closed the rooms.
_END_WAIT_S = 20.0


@dataclass
class RealTransfer:
    """One transfer of a wave: what it runs, its handle, its caller and what was seen."""

    seen: Observed
    handle: TransferHandle
    agent: AgentParticipant
    caller: AgentParticipant | None = None  # the WebRTC caller, if not a SIP leg


# Waits for the moment, strikes; returns the wall clock of the blow.
Strike = Callable[["RealSuite", Sequence[RealTransfer]], Awaitable[float]]


@dataclass
class RealSuite:
    """A running real stack with its client, telephony and link impairers."""

    stack: Stack
    client: Client
    telephony: RealTelephony
    wave_size: int = 3
    phones_link: LinkImpairer = field(init=False)
    api_link: LinkImpairer = field(init=False)

    def __post_init__(self) -> None:
        self.phones_link = LinkImpairer(self.real.network, "phones")
        self.api_link = LinkImpairer(self.real.network, "api")

    @property
    def real(self) -> RealLiveKit:
        """The real LiveKit stack."""
        assert self.stack.real is not None
        return self.stack.real

    @classmethod
    @asynccontextmanager
    async def running(cls, workdir: Path, wave_size: int = 3) -> AsyncIterator[RealSuite]:
        """Starts everything; stops every process and lifts every impairment after."""
        stack = Stack(workdir=workdir, ui=False, livekit="real", persistent=True)
        async with stack:
            client = await connect(TemporalSettings(address=stack.temporal_address))
            telephony = stack.telephony()
            assert isinstance(telephony, RealTelephony)
            await telephony.start(client)
            suite = cls(stack, client, telephony, wave_size)
            try:
                yield suite
            finally:
                await suite.phones_link.clear()
                await suite.api_link.clear()
                await telephony.aclose()

    # -- a row ------------------------------------------------------------------------

    async def row(
        self,
        fault: str,
        description: str,
        plans: Sequence[RealPlan],
        strike: Strike,
        wave_size: int | None = None,
    ) -> FaultResult:
        """Runs ``plans`` in waves (``wave_size``, default the suite's), striking once per
        wave, and judges every transfer."""
        started = time.monotonic()
        seen: list[Observed] = []
        size = wave_size or self.wave_size
        for first in range(0, len(plans), size):
            wave = plans[first : first + size]
            seen += await self.wave(fault, first, wave, strike)
        result = FaultResult(fault, description, transfers=len(seen))
        logs = {number: phone.read_log() for number, phone in self.real.phones.items()}
        holds = []
        for observed in seen:
            verdict = judge_real(observed, logs)
            result.right += verdict.right
            result.degraded += verdict.right and verdict.degraded
            result.duplicates += verdict.duplicates
            result.legs_left += verdict.legs_left
            result.stranded += verdict.stranded
            result.rooms_left += verdict.rooms_left
            result.problems += verdict.problems
            if verdict.right and verdict.degraded and observed.outcome is not None:
                tried = [(a.sip_call_to, a.result, a.reason) for a in observed.outcome.attempts]
                result.problems.append(
                    f"degraded: {observed.tag}: {observed.outcome.outcome}; {tried}"
                )
            holds.append(verdict.hold_s)
        result.longest_hold_s = max(holds) if holds else None
        result.seconds = time.monotonic() - started
        return result

    async def wave(
        self, fault: str, first: int, plans: Sequence[RealPlan], strike: Strike
    ) -> list[Observed]:
        """One wave: start, strike, finish, record, end the calls."""
        transfers = list(
            await asyncio.gather(*(self.start(fault, first + i, p) for i, p in enumerate(plans)))
        )
        samples: dict[str, list[tuple[float, set[str]]]] = {t.seen.tag: [] for t in transfers}
        sampler = asyncio.create_task(sample_sfu(self.real.network.lk_ip, transfers, samples))
        try:
            struck_at = await strike(self, transfers)
            for t in transfers:
                t.seen.struck_at = struck_at
            await self.finish(transfers)
            sampler.cancel()
            await self.record(transfers)
            for t in transfers:
                t.seen.hearing = samples[t.seen.tag]
                t.seen.accepted_at = await accepted_at(self.client, t.seen.workflow_id)
        finally:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
            await self.end_calls(transfers)
        return [t.seen for t in transfers]

    async def start(self, fault: str, index: int, plan: RealPlan) -> RealTransfer:
        """Places the caller (a SIP leg, or WebRTC) beside an AI agent; starts the transfer."""
        tag = f"rf-{fault}-{index}-{uuid.uuid4().hex[:6]}"
        room = f"call-{tag}"
        caller: AgentParticipant | None = None
        if plan.webrtc_caller:
            await self.real.lk.room.create_room(api.CreateRoomRequest(name=room, empty_timeout=120))
            agent = AgentParticipant(room, "voice-agent")
            await agent.join(self.real.ws_url, self.real.api_key, self.real.api_secret)
            caller = AgentParticipant(room, "caller", kind="standard")
            await caller.join(self.real.ws_url, self.real.api_key, self.real.api_secret)
            caller_identity = caller.identity
        else:
            call = await place_real_call(
                self.real.lk,
                room_name=room,
                caller_trunk_id=self.real.caller_trunk_id,
                caller_number=CALLER_NUMBER,
                ws_url=self.real.ws_url,
                api_key=self.real.api_key,
                api_secret=self.real.api_secret,
                headers={TAG_HEADER: f"{tag}:{CALLER_ATTEMPT}"},
            )
            # The suite's AI agent is this process's own participant (it reads its messages).
            assert isinstance(call.agent, AgentParticipant)
            agent, caller_identity = call.agent, call.caller_identity
        self.telephony.agents[room] = agent
        agent.leaves_when_told = not plan.agent_stays
        request = TransferRequest(
            room_name=room,
            caller_identity=caller_identity,
            agent_identity=agent.identity,
            destinations=[
                self.telephony.destination(
                    number, ring_timeout_s=plan.ring_s, headers={TAG_HEADER: f"{tag}:{i}"}
                )
                for i, number in enumerate(plan.numbers)
            ],
            summary=SUMMARY,
            fallback=self.telephony.fallback(plan.fallback),
        )
        wid = f"wt-{tag}"
        handle = await start_transfer(self.client, request, workflow_id=wid)
        seen = Observed(tag, wid, room, caller_identity, agent.identity, plan)
        seen.messages, seen.others_left = agent.messages, agent.others_left
        return RealTransfer(seen, handle, agent, caller)

    async def finish(self, transfers: Sequence[RealTransfer], timeout: float = 150.0) -> None:
        """Waits for every outcome (a failed or stuck run is recorded, not raised)."""

        async def one(t: RealTransfer) -> None:
            try:
                t.seen.outcome = await asyncio.wait_for(t.handle.outcome(), timeout)
                t.seen.outcome_at = time.time()
            except Exception as err:  # the row reports it; the suite goes on
                t.seen.error = f"{type(err).__name__}: {err}"

        await asyncio.gather(*(one(t) for t in transfers))

    async def record(self, transfers: Sequence[RealTransfer]) -> None:
        """What livekit-server and the SFU show once the transfers are over."""
        # A goodbye in flight, or a leg the SFU is still opening, settles in moments.
        await asyncio.sleep(0.5)
        rooms = await self.real.lk.room.list_rooms(api.ListRoomsRequest())
        people: dict[str, set[str]] = {}
        for room in rooms.rooms:
            listed = await self.real.lk.room.list_participants(
                api.ListParticipantsRequest(room=room.name)
            )
            people[room.name] = {p.identity for p in listed.participants}
        for t in transfers:
            t.seen.people = people
            with contextlib.suppress(Exception):  # no SFU view is judged as "not heard"
                t.seen.heard = await subscribers(self.real.network.lk_ip, t.seen.room)

    async def end_calls(self, transfers: Sequence[RealTransfer]) -> None:
        """Closes each caller's room (livekit-sip hangs up whoever is in it), waits until
        the phones saw every call of the wave end (or the fault stranded it), and
        notes which rooms are still open."""
        now = time.time()
        for t in transfers:
            t.seen.teardown_at = now
            with contextlib.suppress(api.TwirpError):
                await self.real.lk.room.delete_room(api.DeleteRoomRequest(room=t.seen.room))
            for who in (t.agent, t.caller):
                if who is not None:
                    with contextlib.suppress(Exception):
                        await who.leave()
        deadline = time.monotonic() + _END_WAIT_S
        while time.monotonic() < deadline and self._still_up(transfers):
            await asyncio.sleep(0.2)
        rooms = await self.real.lk.room.list_rooms(api.ListRoomsRequest())
        for t in transfers:
            t.seen.rooms_after = {room.name: room.metadata for room in rooms.rooms}

    def _still_up(self, transfers: Sequence[RealTransfer]) -> bool:
        """True while a call of the wave is up that its fault did not strand."""
        for phone in self.real.phones.values():
            log = phone.read_log()
            for t in transfers:
                for call_id in log.tagged(TAG_HEADER, f"{t.seen.tag}:"):
                    if log.ended(call_id):
                        continue
                    struck = t.seen.struck_at
                    stranded = t.seen.plan.strands and struck is not None
                    if not (stranded and log.invited_at.get(call_id, 0.0) <= (struck or 0.0)):
                        return True
        return False

    # -- observing the moment to strike ------------------------------------------------

    async def until(
        self, check: Callable[[], Awaitable[bool] | bool], what: str, timeout: float = 60.0
    ) -> None:
        """Polls ``check`` until it holds; a Temporal hiccup counts as not yet.

        Raises:
            TimeoutError: naming ``what``.
        """
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(RPCError):
                done = check()
                if done if isinstance(done, bool) else await done:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"real fault suite: still waiting for {what} after {timeout} s")
            await asyncio.sleep(0.02)

    def invited(self, transfers: Sequence[RealTransfer], attempt: int = 0) -> bool:
        """True when the phone of every transfer's ``attempt`` has its INVITE."""
        for t in transfers:
            number = t.seen.plan.numbers[attempt]
            log = self.real.phones[number].read_log()
            if not log.tagged(TAG_HEADER, f"{t.seen.tag}:{attempt}"):
                return False
        return True

    async def at_stage(self, transfers: Sequence[RealTransfer], stage: str) -> bool:
        """True when every transfer's ``status`` query reports ``stage``."""
        statuses = await asyncio.gather(*(t.handle.status() for t in transfers))
        return all(s.stage == stage for s in statuses)

    @staticmethod
    def told(transfers: Sequence[RealTransfer], event: str) -> bool:
        """True when every transfer's AI agent has received data message ``event``."""
        return all(any(e == event for _, e in t.agent.messages) for t in transfers)

    async def replace_worker(self) -> None:
        """SIGKILLs the worker and starts a fresh one."""
        await self.stack.kill_worker()
        await self.stack.start_worker()
