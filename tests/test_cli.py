"""The starter CLI and the worker's start-up checks, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client

import starter
from tests.e2e_helpers import engine
from warm_transfer.config import DEFAULT_TASK_QUEUE

ROOT = Path(__file__).resolve().parent.parent


async def test_start_status_and_result_through_the_cli(
    client: Client,
    task_queue: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TEMPORAL_TASK_QUEUE", task_queue)
    async with engine(client, task_queue) as eng:
        call = await eng.call()
        workflow_id = f"cli-{uuid.uuid4()}"
        argv = ["start", "--room", call.room_name, "--caller", call.caller_identity]
        argv += ["--agent", call.agent_identity, "--to", "+15105550101", "--to", "+15105550100"]
        argv += ["--summary", "Wants a refund", "--workflow-id", workflow_id, "--wait"]
        assert await starter.main(client, argv) == 0
        out, err = capsys.readouterr()
        assert f"/workflows/{workflow_id}/" in err  # the UI link of the run
        started, outcome = json_objects(out)[-2:]
        assert started["workflow_id"] == workflow_id
        assert outcome["outcome"] == "connected"
        assert outcome["destination"] == "+15105550100"
        assert await starter.main(client, ["status", workflow_id]) == 0
        status = json_objects(capsys.readouterr().out)[-1]
        assert (status["stage"], status["outcome"]) == ("done", "connected")


async def test_cli_refuses_bad_input_naming_the_field(
    client: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["start", "--room", "r", "--caller", "c", "--to", "+1510@pbx.example.com"]
    assert await starter.main(client, argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("invalid TransferRequest: destinations[0].sip_call_to:")
    argv = ["signal", "some-transfer", "human_accepted"]
    assert await starter.main(client, argv) == 2
    assert "--identity" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "LIVEKIT_URL is not set"),
        (
            {
                "LIVEKIT_URL": "localhost:7880",
                "LIVEKIT_API_KEY": "k",
                "LIVEKIT_API_SECRET": "s3cr3t",
            },
            "LIVEKIT_URL must be",
        ),
        (
            {
                "LIVEKIT_URL": "http://x",
                "LIVEKIT_API_KEY": "k",
                "LIVEKIT_API_SECRET": "s3cr3t",
                "TEMPORAL_ADDRESS": "nohost",
            },
            "TEMPORAL_ADDRESS must be host:port",
        ),
        (
            {
                "LIVEKIT_URL": "http://x",
                "LIVEKIT_API_KEY": "k",
                "LIVEKIT_API_SECRET": "s3cr3t",
                "LIVEKIT_BRIDGE": "teleport",
            },
            "LIVEKIT_BRIDGE must be",
        ),
        (
            {
                "LIVEKIT_URL": "http://x",
                "LIVEKIT_API_KEY": "k",
                "LIVEKIT_API_SECRET": "s3cr3t",
                "WORKER_MAX_CONCURRENT_ACTIVITIES": "lots",
            },
            "WORKER_MAX_CONCURRENT_ACTIVITIES: Input should be a valid integer",
        ),
    ],
)
def test_worker_names_the_bad_setting_in_one_line(env: dict[str, str], named: str) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "TEMPORAL_"))}
    proc = subprocess.run(
        [sys.executable, "worker.py"],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0]
    assert "s3cr3t" not in proc.stderr


def test_default_task_queue_matches_the_contract() -> None:
    assert DEFAULT_TASK_QUEUE == "warm-transfer"


def json_objects(text: str) -> list[dict[str, object]]:
    """The JSON objects printed in ``text``, in order (other output is skipped)."""
    decoder, found, i = json.JSONDecoder(), [], 0
    while (i := text.find("{", i)) != -1:
        try:
            obj, i = decoder.raw_decode(text, i)
            found.append(obj)
        except json.JSONDecodeError:
            i += 1
    return found
