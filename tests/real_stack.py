"""Fixtures for the real tier: the whole engine on real LiveKit and real SIP phones.

`real_engine` starts a `Stack(livekit="real")` once per module: the dev server,
Redis, livekit-server, livekit-sip, the phones, ``python worker.py``, the keypad
briefing agent and the webhook bridge, all as real processes. Where the real stack
cannot run (no Go build of livekit-server or livekit-sip, not root, no namespaces) the
tests are skipped with the one-line reason `warm_transfer.realstack` gives.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.service import RPCError

from warm_transfer.client import TransferHandle, get_transfer, start_transfer, transfer_workflow_id
from warm_transfer.config import TemporalSettings
from warm_transfer.models import BridgeStrategy, Fallback, TransferRequest
from warm_transfer.realstack.binaries import RealStackUnavailable, locate
from warm_transfer.realstack.dialin import TransferPlan
from warm_transfer.realstack.launcher import RealLiveKit
from warm_transfer.realstack.people import VoiceAgentKind
from warm_transfer.realstack.telephony import RealTelephony
from warm_transfer.stack import Stack
from warm_transfer.telephony import Call
from warm_transfer.temporal_connect import connect

SUMMARY = "Caller disputes a $42 charge on the May invoice; identity verified."


def real_stack_or_skip(sip: bool = True) -> None:
    """Skips the test, with the reason, where the real stack cannot run."""
    try:
        if os.geteuid() != 0:
            raise RealStackUnavailable(
                "real LiveKit tier skipped: not root (network namespaces need root)"
            )
        found = locate()
        if sip:
            found.require_sip()
    except RealStackUnavailable as err:
        pytest.skip(str(err))


@dataclass
class RealEngine:
    """A running real stack, a Temporal client and the real stack's telephony."""

    stack: Stack
    client: Client
    telephony: RealTelephony

    @property
    def livekit(self) -> RealLiveKit:
        """The real LiveKit stack."""
        assert self.stack.real is not None
        return self.stack.real

    async def call(self, hang_up_after_s: float | None = None) -> Call:
        """A caller on a real SIP leg with the stack's AI agent beside it."""
        room = f"call-{uuid.uuid4().hex[:8]}"
        return await self.telephony.place_call(room, hang_up_after_s=hang_up_after_s)

    async def transfer(
        self,
        call: Call,
        numbers: list[str],
        fallback: Fallback | None = None,
        ring_s: float = 10,
        bridge: BridgeStrategy | None = None,
    ) -> TransferHandle:
        """Starts the transfer of ``call`` down ``numbers`` (each through its own trunk)."""
        request = TransferRequest(
            room_name=call.room_name,
            caller_identity=call.caller_identity,
            agent_identity=call.agent_identity,
            destinations=[self.telephony.destination(n, ring_timeout_s=ring_s) for n in numbers],
            summary=SUMMARY,
            fallback=self.telephony.fallback(fallback or Fallback()),
            bridge=bridge,
        )
        return await start_transfer(self.client, request)

    async def phone_in(
        self,
        numbers: list[str],
        *,
        fallback: Fallback | None = None,
        ring_s: float = 10,
        bridge: BridgeStrategy | None = None,
        accept_timeout_s: float = 60.0,
        ask_after_s: float = 9.0,
    ) -> tuple[Call, TransferHandle]:
        """A caller phones the support line and, ``ask_after_s`` after the answer, presses
        0; the voice agent's transfer tool then starts the transfer down ``numbers``.

        Returns:
            The call, and the transfer once the voice agent has started it.
        """
        plan = TransferPlan(
            destinations=[self.telephony.destination(n, ring_timeout_s=ring_s) for n in numbers],
            fallback=self.telephony.fallback(fallback or Fallback()),
            bridge=bridge,
            accept_timeout_s=accept_timeout_s,
            summary=SUMMARY,
        )
        call = await self.telephony.dial_in(plan=plan, ask_after_s=ask_after_s)
        handle = get_transfer(self.client, transfer_workflow_id(call.room_name))

        async def started() -> bool:
            try:
                await handle.handle.describe()
            except RPCError:
                return False
            return True

        await wait_for(started, timeout=ask_after_s + 30)
        return call, handle

    def invites(self) -> dict[str, int]:
        """INVITEs each phone has received so far."""
        return {n: p.read_log().count("INVITE") for n, p in self.livekit.phones.items()}


async def open_real_engine(
    workdir: Path, voice_agent: VoiceAgentKind = "webrtc"
) -> AsyncIterator[RealEngine]:
    """Starts the whole real stack with one worker; stops all of it afterwards.

    Args:
        voice_agent: ``worker`` runs the LiveKit Agents voice agent worker and
            dispatches it into each call (``webrtc``: a bare participant).
    """
    stack = Stack(workdir=workdir, ui=False, livekit="real", real_voice_agent=voice_agent)
    try:
        await stack.start()
        client = await connect(TemporalSettings(address=stack.temporal_address))
        telephony = stack.telephony()
        assert isinstance(telephony, RealTelephony)
        try:
            await telephony.start(client)
            yield RealEngine(stack, client, telephony)
        finally:
            await telephony.aclose()
    finally:
        await stack.stop()


async def wait_for(predicate: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    """Polls ``predicate`` until it holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await predicate():
        if loop.time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.1)
