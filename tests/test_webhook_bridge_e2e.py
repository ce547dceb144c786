"""The LiveKit stand-in's signed webhooks, through the bridge, drive real transfers:
no test-sent signal, and the simulated briefing agent never reports an answer."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import uuid
from asyncio.subprocess import PIPE
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from tests.e2e_helpers import Engine, engine
from tests.webhook_helpers import KEY, SECRET, free_port, participant, post, sign, webhook
from tests.workflow_helpers import start, wait_for_stage
from warm_transfer.client import TransferHandle
from warm_transfer.livekit_sim import DEV_API_KEY, DEV_API_SECRET, SimConfig
from warm_transfer.models import Destination, TransferRequest
from warm_transfer.sim_agents import SimulatedCall
from warm_transfer.webhook_bridge import (
    HEALTH_PATH,
    WEBHOOK_PATH,
    BridgeOptions,
    WebhookBridge,
    serve_bridge,
)

ANSWERS = "+15105550100"  # answers after 1 s, accepts (DTMF 1) once briefed
NO_ANSWER = "+15105550102"  # rings until the ringing timeout
HANGS_UP = "+15105550105"  # answers, never decides, hangs up 2 s later
BRIDGE_IDENTITY = "warm-transfer-webhook-bridge"


@asynccontextmanager
async def bridged_engine(client: Client, task_queue: str) -> AsyncIterator[Engine]:
    """Bridge (with a client of its own, to tell its signals apart) + stand-in + engine."""
    bridge_client = await Client.connect(
        client.service_client.config.target_host,
        namespace=client.namespace,
        data_converter=pydantic_data_converter,
        identity=BRIDGE_IDENTITY,
    )
    bridge = WebhookBridge(bridge_client, BridgeOptions(DEV_API_KEY, DEV_API_SECRET))
    async with serve_bridge(bridge) as url:
        config = SimConfig(time_scale=0.05, webhook_urls=[url])
        async with engine(client, task_queue, config) as eng:
            # human_answered must come from the bridge alone.
            eng.briefer.signal_answered = False
            yield eng


def request_for(call: SimulatedCall, number: str, ring_timeout_s: float = 20) -> TransferRequest:
    return TransferRequest(
        room_name=call.room_name,
        caller_identity=call.caller_identity,
        agent_identity=call.agent_identity,
        destinations=[Destination(sip_call_to=number, ring_timeout_s=ring_timeout_s)],
        summary="Caller disputes a $42 charge on the May invoice.",
    )


async def signals_by_sender(handle: TransferHandle) -> list[tuple[str, str]]:
    """(signal, identity of the client that sent it) from the run's history."""
    history = await handle.handle.fetch_history()
    return [
        (attrs.signal_name, attrs.identity)
        for attrs in (
            e.workflow_execution_signaled_event_attributes
            for e in history.events
            if e.HasField("workflow_execution_signaled_event_attributes")
        )
    ]


async def test_caller_hang_up_ends_the_transfer_through_the_bridge(
    client: Client, task_queue: str
) -> None:
    async with bridged_engine(client, task_queue) as eng:
        call = await eng.call()
        # 200 s at time_scale 0.05: the phone rings for 10 s, longer than the test.
        handle = await start(client, task_queue, request_for(call, NO_ANSWER, 200))
        await wait_for_stage(handle, "dialing")
        await eng.lk.control.wait_for_event(
            lambda e: e["type"] == "call_status" and e.get("status") == "ringing"
        )
        await eng.lk.control.remove_participant(call.room_name, call.caller_identity)
        outcome = await handle.outcome()
        sent = await signals_by_sender(handle)
    assert outcome.outcome == "caller_hung_up"
    assert [(a.result, a.reason) for a in outcome.attempts] == [("no_answer", "caller hung up")]
    assert sent == [("caller_hung_up", BRIDGE_IDENTITY)]


async def test_the_answer_the_workflow_sees_comes_from_the_bridge(
    client: Client, task_queue: str
) -> None:
    async with bridged_engine(client, task_queue) as eng:
        call = await eng.call()
        handle = await start(client, task_queue, request_for(call, ANSWERS))
        outcome = await handle.outcome()
        sent = await signals_by_sender(handle)
        briefer_sent = [name for name, _ in eng.briefer.signals_sent]
    assert outcome.outcome == "connected"
    leg = outcome.participant_identity
    assert ("human_answered", BRIDGE_IDENTITY) in sent
    assert ("human_accepted", BRIDGE_IDENTITY) not in sent  # the briefer's, by DTMF
    assert "human_answered" not in briefer_sent
    assert briefer_sent == ["human_accepted"]
    assert leg is not None


async def test_a_human_hanging_up_during_the_brief_is_a_decline(
    client: Client, task_queue: str
) -> None:
    async with bridged_engine(client, task_queue) as eng:
        call = await eng.call()
        request = request_for(call, HANGS_UP).model_copy(update={"accept_timeout_s": 120})
        handle = await start(client, task_queue, request)
        outcome = await handle.outcome()
        sent = await signals_by_sender(handle)
    # Without the bridge the engine would wait out accept_timeout_s (120 s).
    assert outcome.outcome == "returned_to_agent"
    assert [(a.result, a.reason) for a in outcome.attempts] == [("declined", "hung up")]
    assert ("human_declined", BRIDGE_IDENTITY) in sent


async def test_the_bridge_process_serves_until_sigterm(client: Client) -> None:
    port = free_port()
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": client.namespace,
        "LIVEKIT_API_KEY": KEY,
        "LIVEKIT_API_SECRET": SECRET,
        "WEBHOOK_BIND": f"127.0.0.1:{port}",
        "LOG_FORMAT": "json",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "warm_transfer.webhook_bridge", env=env, stderr=PIPE
    )
    try:
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as http:
            for _ in range(200):
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{base}{HEALTH_PATH}") as resp:
                        if resp.status == 200:
                            break
                await asyncio.sleep(0.05)
        who = participant("sip_+15105550123", f"gone-{uuid.uuid4()}", "caller", reason=1)
        body = webhook("participant_left", who)
        assert await post(f"{base}{WEBHOOK_PATH}", body, "forged") == (
            401,
            {"error": "unauthorized"},
        )
        status, answer = await post(f"{base}{WEBHOOK_PATH}", body, sign(body))
        assert (status, answer["result"]) == (200, "transfer_over")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0
    assert b"webhook bridge listening" in stderr and b"webhook bridge stopping" in stderr


async def test_the_bridge_process_names_a_missing_setting() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEKIT_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "warm_transfer.webhook_bridge", env=env, stderr=PIPE
    )
    _, stderr = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2
    assert b"LIVEKIT_API_KEY is not set" in stderr
