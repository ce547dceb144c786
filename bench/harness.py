"""The stack under test: dev server (with metrics), stand-in, ``python worker.py``, clients.

`open_rig` starts everything as real processes through `warm_transfer.stack.Stack`;
the only change to the stack is that the dev server also serves Prometheus metrics
(its ``action`` counter measures what history cannot show: activity heartbeats).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import aiohttp
from temporalio.client import Client

from bench.config import SCENARIOS
from bench.follower import EventFollower
from warm_transfer.client import TransferHandle, start_transfer, transfer_workflow_id
from warm_transfer.config import TemporalSettings
from warm_transfer.devserver import DevServer, free_port
from warm_transfer.livekit_sim import SimControl
from warm_transfer.models import Destination, Fallback, TransferRequest
from warm_transfer.sim_agents import SimulatedCall, place_call
from warm_transfer.stack import Stack
from warm_transfer.temporal_connect import connect
from workflows.transfer_state import leg_identity

# The worker's environment unless ``--worker-env`` says otherwise. The AI agent's
# goodbye grace (``AGENT_GOODBYE_S``, 1.5 s) is idle time after the caller is already
# with the human: with it, N closed-loop callers could never exceed N / 1.5 transfers/s
# whatever the engine does, and every latency sample would last 1.5 s longer.
WORKER_ENV: Final[dict[str, str]] = {"AGENT_GOODBYE_S": "0"}


@dataclass
class MeteredDevServer(DevServer):
    """The stack's dev server plus a ``/metrics`` endpoint and extra dynamic config."""

    metrics_port: int = field(default_factory=free_port)
    dynamic_config: Sequence[str] = ()

    def command(self) -> list[str]:
        """``temporal server start-dev ...`` with ``--metrics-port`` (and config)."""
        cmd = super().command() + ["--metrics-port", str(self.metrics_port)]
        for value in self.dynamic_config:
            cmd += ["--dynamic-config-value", value]
        return cmd

    @property
    def metrics_url(self) -> str:
        """Where the server's Prometheus metrics are."""
        return f"http://127.0.0.1:{self.metrics_port}/metrics"


@dataclass
class Transfer:
    """One transfer the bench started: its ids, handle and client-side timestamps."""

    handle: TransferHandle
    room_name: str
    leg: str
    started_at: float


@dataclass
class Rig:
    """Everything a figure needs: the stack, a Temporal client, the stand-in's control
    client and the event follower playing the humans' side of the signals."""

    stack: Stack
    server: MeteredDevServer
    client: Client
    control: SimControl
    follower: EventFollower
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    _seq: int = 0

    @property
    def worker_pids(self) -> list[int]:
        """PIDs of the ``python worker.py`` processes."""
        return [proc.pid for proc in self.stack.workers]

    async def call(self, phase: str) -> SimulatedCall:
        """A new caller talking to a voice agent in a room of its own."""
        self._seq += 1
        return await place_call(self.control, f"bench-{self.tag}-{phase}-{self._seq}")

    @staticmethod
    def request(
        call: SimulatedCall,
        numbers: Sequence[str],
        *,
        fallback: Fallback | None = None,
        accept_timeout_s: float = 60.0,
        max_transfer_s: float = 300.0,
    ) -> TransferRequest:
        """The transfer of ``call`` to ``numbers`` (a hunt list, tried in order)."""
        return TransferRequest(
            room_name=call.room_name,
            caller_identity=call.caller_identity,
            agent_identity=call.agent_identity,
            destinations=[Destination(sip_call_to=n, ring_timeout_s=30) for n in numbers],
            summary="Caller disputes a $42 charge on the May invoice; verified identity.",
            fallback=fallback or Fallback(),
            accept_timeout_s=accept_timeout_s,
            max_transfer_s=max_transfer_s,
        )

    async def start(self, request: TransferRequest) -> Transfer:
        """Starts a transfer; ``started_at`` is the wall clock just before the start."""
        wid = transfer_workflow_id(request.room_name)
        started_at = time.time()
        handle = await start_transfer(self.client, request)
        return Transfer(handle, request.room_name, leg_identity(wid, 1), started_at)

    async def accept(self, transfer: Transfer) -> float:
        """Sends ``human_accepted`` for the first leg; returns the wall clock at sending."""
        return await self.follower.accept(transfer.handle.workflow_id, transfer.leg)

    async def server_actions(self) -> dict[str, float]:
        """The dev server's ``action`` counters of the default namespace, by type."""
        counts: dict[str, float] = {}
        async with aiohttp.ClientSession() as http, http.get(self.server.metrics_url) as resp:
            text = await resp.text()
        for line in text.splitlines():
            if not line.startswith("action{") or 'namespace="default"' not in line:
                continue
            labels, _, value = line.rpartition(" ")
            kind = labels.split('action_type="', 1)[1].split('"', 1)[0]
            counts[kind] = counts.get(kind, 0.0) + float(value)
        return counts


@asynccontextmanager
async def open_rig(
    workdir: Path,
    *,
    dynamic_config: Sequence[str] = (),
    worker_env: dict[str, str] | None = None,
    workers: int = 1,
) -> AsyncIterator[Rig]:
    """Starts dev server, stand-in and ``workers`` workers; yields a `Rig`; stops them all."""
    stack = Stack(
        workdir,
        ui=False,
        sim_args=["--log-level", "warning"],
        worker_env=WORKER_ENV | dict(worker_env or {}),
    )
    server = MeteredDevServer(
        port=stack.server.port,
        fixed_port=True,
        ui_port=None,
        log_path=workdir / "temporal.log",
        dynamic_config=dynamic_config,
    )
    stack.server = server
    async with stack:
        for _ in range(workers - 1):
            await stack.start_worker()
        client = await connect(TemporalSettings(address=stack.temporal_address))
        async with SimControl(stack.sim_url) as control:
            await control.set_scenarios(SCENARIOS)
            follower = EventFollower(control, client)
            task = asyncio.create_task(follower.run((await control.state())["last_event_seq"]))
            try:
                yield Rig(stack, server, client, control, follower)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                await follower.drain()
