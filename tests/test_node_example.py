"""The Node example (examples/node/start_transfer.mjs) against the real engine: a voice
agent in another language needs nothing but ``@temporalio/client`` and the JSON contract.

Skipped unless ``node`` is on the PATH and ``npm install`` was run in examples/node.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path

import pytest
from temporalio.client import Client

from tests.e2e_helpers import engine
from warm_transfer.livekit_sim import SimConfig

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "node"

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (EXAMPLE / "node_modules" / "@temporalio").is_dir(),
    reason="node or examples/node/node_modules missing (run npm install in examples/node)",
)


async def run_example(client: Client, task_queue: str, *args: str) -> list[dict[str, object]]:
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": client.namespace,
        "TEMPORAL_TASK_QUEUE": task_queue,
    }
    proc = await asyncio.create_subprocess_exec(
        "node",
        "start_transfer.mjs",
        *args,
        cwd=EXAMPLE,
        env=env,
        stdout=asyncio.subprocess.PIPE,
    )
    stdout, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0
    return [json.loads(line) for line in stdout.decode().splitlines() if line.startswith("{")]


async def test_node_starts_a_transfer_that_connects(client: Client, task_queue: str) -> None:
    async with engine(client, task_queue, SimConfig(time_scale=0.05)) as eng:
        call = await eng.call()
        lines = await run_example(
            client,
            task_queue,
            *("--room", call.room_name, "--caller", call.caller_identity),
            *("--to", "+15105550101", "--to", "+15105550100"),
        )
    assert lines[0]["started"] == f"warm-transfer-{call.room_name}"
    assert "done" in [line.get("stage") for line in lines]
    assert lines[-1]["outcome"] == "connected"
    assert lines[-1]["destination"] == "+15105550100"


async def test_node_hang_up_by_signal_with_start(client: Client, task_queue: str) -> None:
    async with engine(client, task_queue, SimConfig(time_scale=1.0)) as eng:
        call = await eng.call()
        lines = await run_example(
            client,
            task_queue,
            *("--room", call.room_name, "--caller", call.caller_identity),
            *("--to", "+15105550102", "--hang-up-after", "1"),
        )
    assert lines[-1]["outcome"] == "caller_hung_up"
