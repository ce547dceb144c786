"""No LiveKit secret and no token anywhere Temporal stores or the worker logs; with the
payload codec on, no phone number or summary readable in stored history.

Real processes: the worker (``python worker.py`` with ``WARM_TRANSFER_PAYLOAD_KEY``
and DEBUG logging) runs transfers through 503s, so failures are recorded too. The
histories are read as the server stores them (a client without the codec) and every
string and byte field of every event is searched, failures and metadata included.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import pytest
from google.protobuf.message import Message
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

from warm_transfer.client import get_transfer
from warm_transfer.devserver import temporal_cli
from warm_transfer.faultsuite import Suite
from warm_transfer.faultsuite.audit import plan
from warm_transfer.faultsuite.harness import ACCEPTS, BUSY, SUMMARY, Transfer
from warm_transfer.livekit_sim import DEV_API_SECRET
from warm_transfer.sim_agents import place_call

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")


def texts(message: Message) -> Iterator[str]:
    """Every string and byte field of a protobuf message, recursively (bytes decoded)."""
    for _, value in message.ListFields():
        items: list[object]
        if isinstance(value, Message | str | bytes):
            items = [value]
        elif isinstance(value, Mapping):  # a map field: keys and values
            items = [part for pair in value.items() for part in pair]
        elif isinstance(value, Iterable):  # a repeated field
            items = list(value)
        else:
            continue  # numbers, enums, booleans: nothing to read
        for item in items:
            if isinstance(item, Message):
                yield from texts(item)
            elif isinstance(item, bytes):
                yield item.decode("utf-8", errors="replace")
            elif isinstance(item, str):
                yield item


async def stored_events(plain: Client, workflow_id: str) -> list[HistoryEvent]:
    """A run's history exactly as the server stores it."""
    return list((await plain.get_workflow_handle(workflow_id).fetch_history()).events)


def private(transfer_numbers: list[str], caller: str) -> list[str]:
    """What must not be readable: numbers (with and without +), the caller, the summary."""
    numbers = [n for number in transfer_numbers for n in (number, number.lstrip("+"))]
    return [*numbers, caller, SUMMARY, SUMMARY[:24]]


async def start_with_the_cli(suite: Suite, request: dict[str, object]) -> str:
    """``temporal workflow start`` with plain JSON input, as an operator would."""
    workflow_id = f"wt-cli-{uuid.uuid4().hex[:8]}"
    proc = await asyncio.create_subprocess_exec(
        temporal_cli(),
        "workflow",
        "start",
        "--address",
        suite.stack.temporal_address,
        "--task-queue",
        suite.task_queue,
        "--type",
        "WarmTransferWorkflow",
        "--workflow-id",
        workflow_id,
        "--input",
        json.dumps(request),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out.decode()
    return workflow_id


async def test_no_secret_no_token_and_no_readable_pii(tmp_path: Path) -> None:
    key = os.urandom(32).hex()
    async with Suite.running(tmp_path, payload_key=key, LOG_LEVEL="DEBUG") as suite:
        await suite.fresh()
        await suite.control.set_faults(fail_first_n=4)  # failures into history and logs
        [encrypted] = await suite.start("pii", [plan(BUSY, ACCEPTS)])
        call = await place_call(suite.control, f"pii-cli-{uuid.uuid4().hex[:6]}")
        cli_id = await start_with_the_cli(
            suite,
            {
                "room_name": call.room_name,
                "caller_identity": call.caller_identity,
                "agent_identity": call.agent_identity,
                "destinations": [{"sip_call_to": ACCEPTS}],
                "summary": SUMMARY,
            },
        )
        cli = Transfer(plan(ACCEPTS), call, get_transfer(suite.client, cli_id))
        await suite.finish([encrypted, cli])
        result = await suite.judge("pii", "encrypted and plain starts", [encrypted, cli])
        assert result.ok, "\n".join(result.problems)
        plain = await Client.connect(suite.stack.temporal_address)  # no codec
        histories = {
            wid: await stored_events(plain, wid) for wid in (encrypted.handle.workflow_id, cli_id)
        }
    logs = "".join(p.read_text(errors="replace") for p in tmp_path.glob("worker-*.log"))
    assert "dialing" in logs and "attempt" in logs  # the log really covers the runs
    everything = logs + "".join(
        t for events in histories.values() for e in events for t in texts(e)
    )
    assert DEV_API_SECRET not in everything
    assert key not in everything
    assert not JWT.findall(everything)

    # The encrypted start: no number, caller or summary in any stored event.
    secret_bits = private([BUSY, ACCEPTS], encrypted.call.caller_identity)
    stored = "".join(t for e in histories[encrypted.handle.workflow_id] for t in texts(e))
    assert "binary/encrypted" in stored
    assert [bit for bit in secret_bits if bit in stored] == []

    # The plain start: readable in its input only (which proves the search can see
    # plain text); everything the encrypting worker wrote after it is sealed.
    first, *rest = histories[cli_id]
    assert ACCEPTS in "".join(texts(first)) and SUMMARY in "".join(texts(first))
    later = "".join(t for e in rest for t in texts(e))
    assert [bit for bit in private([ACCEPTS], call.caller_identity) if bit in later] == []
