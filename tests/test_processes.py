"""The engine as a user runs it: `python worker.py`, the stand-in and the dev server as
separate processes; and the demo command itself, as the README gives it."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import socket
import sys
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client

from tests.e2e_helpers import dials_per_identity, rooms_of
from warm_transfer.client import start_transfer
from warm_transfer.config import TemporalSettings
from warm_transfer.livekit_sim import SimControl
from warm_transfer.models import Destination, Fallback, OutcomeKind, TransferRequest
from warm_transfer.sim_agents import (
    SimulatedBriefingAgent,
    SimulatedCall,
    place_call,
    run_briefer,
)
from warm_transfer.stack import ROOT, Stack
from warm_transfer.temporal_connect import connect

STORIES: dict[OutcomeKind, tuple[list[str], Fallback]] = {
    "connected": (["+15105550101", "+15105550100"], Fallback()),
    "voicemail": (["+15105550103"], Fallback(kind="voicemail", sip_call_to="+15105550199")),
    "cold_transferred": (
        ["+15105550104"],
        Fallback(kind="cold_transfer", sip_call_to="+15105550100"),
    ),
    "returned_to_agent": (["+15105550101"], Fallback()),
    "caller_hung_up": (["+15105550102"], Fallback()),
}


@pytest.mark.timeout(180)
async def test_every_outcome_through_real_processes(tmp_path: Path) -> None:
    async with Stack(workdir=tmp_path, time_scale=0.2, ui=False) as stack:
        client = await connect(TemporalSettings(address=stack.temporal_address))
        async with SimControl(stack.sim_url) as control:
            briefer = await run_briefer(SimulatedBriefingAgent(control, client))
            try:
                results = await asyncio.gather(
                    *(run_one(client, control, kind) for kind in STORIES)
                )
                await asyncio.sleep(0.3)
                state = await control.state()
                calls = await control.calls()
            finally:
                briefer.cancel()
    rooms = rooms_of(state)
    assert not any(name.endswith("-consult") for name in rooms)
    for expected, (outcome, call) in zip(STORIES, results, strict=True):
        assert outcome == expected
        left = rooms.get(call.room_name, set())
        humans = {p for p in left if "-human-" in p}
        if expected == "connected":
            # The caller and the human who accepted; the AI agent removed.
            assert left == {call.caller_identity, *humans} and len(humans) == 1
        else:
            assert humans == set()  # every leg dialed for a human is hung up
    assert all(count == 1 for count in dials_per_identity(calls).values())


async def run_one(
    client: Client, control: SimControl, kind: OutcomeKind
) -> tuple[str, SimulatedCall]:
    numbers, fallback = STORIES[kind]
    call = await place_call(control, f"call-{kind}-{uuid.uuid4().hex[:6]}")
    request = TransferRequest(
        room_name=call.room_name,
        caller_identity=call.caller_identity,
        agent_identity=call.agent_identity,
        destinations=[Destination(sip_call_to=n, ring_timeout_s=5) for n in numbers],
        summary="End-to-end test call",
        fallback=fallback,
    )
    handle = await start_transfer(client, request)
    if kind == "caller_hung_up":
        await control.wait_for_event(
            lambda e: (
                e["type"] == "call_status"
                and e.get("status") == "ringing"
                and e.get("room", "").startswith(handle.workflow_id)
            )
        )
        await control.remove_participant(call.room_name, call.caller_identity)
        await handle.caller_hung_up()
    return (await handle.outcome()).outcome, call


def listening(url_or_port: str) -> bool:
    port = int(url_or_port.rsplit(":", 1)[-1])
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.timeout(180)
async def test_demo_command_runs_a_story_and_cleans_up(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "warm_transfer.demo",
        "--story",
        "busy",
        "--time-scale",
        "0.2",
        "--workdir",
        str(tmp_path),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 150)
    text = out.decode()
    assert proc.returncode == 0, text
    assert "outcome: connected (+15105550100)" in text
    assert "attempt 1: +15105550101 -> busy (SIP 486 Busy Here)" in text
    assert re.search(r"UI: http://127\.0\.0\.1:\d+/namespaces/default/workflows/", text)
    ui = re.search(r"Temporal UI: (http://\S+)", text)
    assert ui is not None and not listening(ui.group(1))


@pytest.mark.timeout(180)
async def test_demo_stops_everything_on_ctrl_c(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "warm_transfer.demo",
        "--time-scale",
        "0.2",
        "--keep-running",
        "--workdir",
        str(tmp_path),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    seen = ""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(120):
            while "still running" not in seen:
                line = await proc.stdout.readline()
                if not line:
                    break
                seen += line.decode()
    ports = re.findall(r"(http://127\.0\.0\.1:\d+)", seen.split("UI:")[0] + seen)
    assert "still running" in seen, seen
    assert ports and all(listening(p) for p in set(ports[:2]))
    proc.send_signal(signal.SIGINT)
    rest, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert "stopped every process the demo started" in rest.decode()
    assert not any(listening(p) for p in set(ports[:2]))
