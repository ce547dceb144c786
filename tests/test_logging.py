"""Logging end to end: what a real worker writes, and each part of the set-up.

The worker test reads the JSON lines a `python worker.py` process wrote during a real
transfer. The in-process tests cover the pieces a single run cannot show at once: the
SDK's loggers and the core's forwarded lines through structlog, the console on a TTY,
phone numbers dropped and masked.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from subprocess import PIPE, STDOUT
from typing import Any

import pytest
import structlog
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from tests.stack_helpers import ANSWERS, BUSY, finish_all, operating
from warm_transfer.interceptors import BindLogContext
from warm_transfer.log_setup import PHONE_FIELDS, configure_logging
from warm_transfer.stack import ROOT, Stack


def json_lines(text: str, allow_core: bool = False) -> list[dict[str, Any]]:
    """Every line parsed; fails naming the first line that is not a JSON object.

    ``allow_core`` skips the SDK core's own plain-text lines: a worker process prints
    them (a warning under load) until it forwards them with `core_logging_config`.
    """
    lines = []
    for line in text.splitlines():
        if allow_core and "temporalio_sdk_core" in line and not line.startswith("{"):
            continue
        if line.strip():
            try:
                lines.append(json.loads(line))
            except ValueError:
                pytest.fail(f"not a JSON line: {line!r}")
    return lines


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Puts logging back as pytest had it: these tests reconfigure the process."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    config = structlog.get_config()
    flags = workflow.logger.workflow_info_on_message, activity.logger.activity_info_on_message
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        structlog.configure(**config)
        workflow.logger.workflow_info_on_message, activity.logger.activity_info_on_message = flags


@pytest.mark.slow
async def test_a_worker_process_writes_json_lines_bound_to_each_transfer(tmp_path: Path) -> None:
    stack = Stack(tmp_path, time_scale=0.2, ui=False, worker_env={"LOG_DROP_PHONE_NUMBERS": "1"})
    async with operating(stack) as ops:
        handle = await ops.transfer(BUSY, ANSWERS)
        assert await finish_all([handle]) == ["connected"]
    # A worker sometimes dies in interpreter finalization, after its last log line
    # ("Fatal Python error: PyGILState_Release", the SDK core's threads still alive):
    # reported to the worker's owner; nothing of the run is lost, so it is cut here.
    text = (tmp_path / "worker-0.log").read_text().split("Fatal Python error")[0]
    lines = json_lines(text, allow_core=True)
    assert any(line["event"] == "worker stopping" for line in lines)
    ours = [line for line in lines if line.get("workflow_id") == handle.workflow_id]
    assert all(line["run_id"] == handle.run_id for line in ours)

    activity_lines = [line for line in ours if line["logger"].startswith("activities.")]
    assert {line["activity"] for line in activity_lines} >= {
        "start_hold",
        "dial_human",
        "bridge_caller",
    }
    assert all(line.get("room") and line["attempt"] >= 1 for line in activity_lines)
    hold = next(line for line in activity_lines if line["event"] == "caller on hold")
    assert hold["room"] == handle.workflow_id.removeprefix("warm-transfer-")

    # The SDK's workflow logger, through structlog: static message, ids as fields.
    ended = [line for line in ours if line["logger"] == "temporalio.workflow"]
    assert [(line["event"], line["result"]) for line in ended] == [
        ("destination ended", "busy"),
        ("destination ended", "answered"),
    ]
    # LOG_DROP_PHONE_NUMBERS=1: no number anywhere, not even inside identities.
    assert not any(field in line for line in lines for field in PHONE_FIELDS)
    assert "+1510555" not in json.dumps(lines)


@dataclass
class RoomRequest:
    room_name: str
    participant_identity: str


@activity.defn(name="log_something")
async def log_something(request: RoomRequest) -> None:
    """Logs through structlog and through the SDK's activity logger."""
    structlog.get_logger("activities.test").info("activity says", detail="x")
    activity.logger.info("sdk activity logger says")


@workflow.defn(name="LogSomething")
class LogSomething:
    @workflow.run
    async def run(self, room: str) -> None:
        workflow.logger.info("workflow says", extra={"leg": "leg-1"})
        await workflow.execute_activity(
            log_something,
            RoomRequest(room_name=room, participant_identity="leg-1"),
            start_to_close_timeout=timedelta(seconds=10),
        )


async def test_sdk_loggers_and_activities_carry_the_run_they_serve(
    client: Client, task_queue: str, restore_logging: None
) -> None:
    out = io.StringIO()
    configure_logging("json", "INFO", stream=out)
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[LogSomething],
        activities=[log_something],
        interceptors=[BindLogContext()],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        handle = await client.start_workflow(
            LogSomething.run, "call-abc", id=f"log-{uuid.uuid4()}", task_queue=task_queue
        )
        await handle.result()
    lines = {line["event"]: line for line in json_lines(out.getvalue())}
    run = {"workflow_id": handle.id, "run_id": handle.result_run_id}
    said = lines["workflow says"]
    assert said | run == said and said["logger"] == "temporalio.workflow"
    assert said["leg"] == "leg-1"
    for event in ("activity says", "sdk activity logger says"):
        line = lines[event]
        assert line | run == line
        assert line["activity"] == "log_something" and line["attempt"] == 1
    # The interceptor binds the room and leg from the activity's request.
    assert lines["activity says"]["room"] == "call-abc"
    assert lines["activity says"]["leg"] == "leg-1"


# Run in a process of its own: the core takes the log forwarding of the first runtime
# a process creates, and this test process made its own long ago.
_CORE_SCRIPT = """
import asyncio, sys
from temporalio import activity
from temporalio.client import Client
from temporalio.runtime import Runtime, TelemetryConfig
from temporalio.worker import Worker
from warm_transfer.log_setup import configure_logging, core_logging_config

@activity.defn
async def noop() -> None: ...

async def main() -> None:
    configure_logging("json", "INFO", stream=sys.stdout)
    runtime = Runtime(telemetry=TelemetryConfig(logging=core_logging_config("INFO")))
    client = await Client.connect(sys.argv[1], runtime=runtime)
    async with Worker(client, task_queue="core-logs", activities=[noop]):
        await asyncio.sleep(0.5)
    await asyncio.sleep(0.5)  # the core hands its lines over in batches

asyncio.run(main())
"""


async def test_core_logs_are_forwarded_into_the_json_stream(
    workflow_env: WorkflowEnvironment,
) -> None:
    target = workflow_env.client.service_client.config.target_host
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CORE_SCRIPT, target, cwd=ROOT, stdout=PIPE, stderr=STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, out.decode()
    lines = json_lines(out.decode())  # the core's own plain text would fail here
    core = [line for line in lines if line["logger"] == "temporalio.core"]
    assert "Initializing worker" in [line["event"] for line in core]
    assert all(line["core_target"].startswith("temporalio_sdk_core") for line in core)
    assert all(line["task_queue"] == "core-logs" for line in core)


def test_phone_numbers_are_dropped_and_masked_credentials_always(restore_logging: None) -> None:
    out = io.StringIO()
    configure_logging("json", "INFO", drop_fields=PHONE_FIELDS, stream=out)
    log = structlog.get_logger("activities.test")
    log.info("dialing", sip_call_to="+15105550100", leg="warm-transfer-call-1-human-1")
    log.info(
        "refused",
        error="SIP 486 from sip_+15105550123",
        api_secret="s3cr3t",
        attributes={"sip.phoneNumber": "+15105550123", "legs": ["tel:+15105550100"]},
    )
    logging.getLogger("aiohttp.client").warning("no answer from %s", "tel:+15105550100")
    first, second, third = json_lines(out.getvalue())
    assert "sip_call_to" not in first and first["leg"] == "warm-transfer-call-1-human-1"
    assert second["error"] == "SIP 486 from sip_[number]" and "api_secret" not in second
    assert second["attributes"] == {"sip.phoneNumber": "[number]", "legs": ["tel:[number]"]}
    assert third["event"] == "no answer from tel:[number]"

    kept = io.StringIO()
    configure_logging("json", "INFO", stream=kept)
    structlog.get_logger("x").info("dialing", sip_call_to="+15105550100", token="t")
    (line,) = json_lines(kept.getvalue())
    assert line["sip_call_to"] == "+15105550100" and "token" not in line


def test_console_on_a_tty_json_elsewhere(restore_logging: None) -> None:
    master, replica = os.openpty()
    with open(replica, "w", buffering=1) as tty:
        configure_logging("auto", "INFO", stream=tty)
        structlog.get_logger("worker").info("worker started", task_queue="warm-transfer")
    on_tty = os.read(master, 65536).decode()
    os.close(master)
    assert "worker started" in on_tty and "task_queue" in on_tty
    assert not on_tty.lstrip().startswith("{")

    piped = io.StringIO()
    configure_logging("auto", "INFO", stream=piped)
    structlog.get_logger("worker").info("worker started", task_queue="warm-transfer")
    (line,) = json_lines(piped.getvalue())
    assert line["event"] == "worker started" and line["level"] == "info"
