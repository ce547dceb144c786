"""The codec server: Temporal's remote codec protocol over HTTP, as the UI calls it.

The round trip goes through the real dev server: a transfer started by an encrypting
client is ciphertext in stored history, and the codec server turns exactly what the
UI fetches back into the request's JSON.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from subprocess import PIPE, STDOUT
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from google.protobuf import json_format
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from warm_transfer import codec_server
from warm_transfer.client import start_transfer
from warm_transfer.codec import ENCODING, EncryptionCodec
from warm_transfer.converter import data_converter
from warm_transfer.devserver import free_port, temporal_cli
from warm_transfer.models import Destination, Fallback, TransferRequest

UI_ORIGIN = "http://127.0.0.1:8233"


def new_key() -> str:
    return os.urandom(32).hex()


@asynccontextmanager
async def serving(key: str) -> AsyncIterator[str]:
    """The codec server on a free local port; yields its base URL."""
    app = codec_server.build_app(EncryptionCodec.from_key(SecretStr(key)), [UI_ORIGIN])
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def post(url: str, payloads: list[Payload], **headers: str) -> tuple[int, Any]:
    """POSTs payloads the way the Temporal UI does; returns status and parsed body."""
    body = json_format.MessageToJson(Payloads(payloads=payloads))
    sent = {"Content-Type": "application/json", "X-Namespace": "default", **headers}
    async with aiohttp.ClientSession() as session, session.post(url, data=body, headers=sent) as r:
        text = await r.text()
        return r.status, json.loads(text) if r.content_type == "application/json" else text


def parse(body: Any) -> list[Payload]:
    return list(json_format.ParseDict(body, Payloads()).payloads)


def request(room: str) -> TransferRequest:
    return TransferRequest(
        room_name=room,
        caller_identity="sip_+15105550123",
        agent_identity="voice-agent",
        destinations=[Destination(sip_call_to="+15105550100")],
        summary="Caller disputes a $42 charge on the May invoice.",
        fallback=Fallback(kind="voicemail", sip_call_to="+15105550199"),
    )


async def test_history_is_encrypted_and_the_codec_server_decodes_it(
    workflow_env: WorkflowEnvironment,
) -> None:
    key = new_key()
    service = workflow_env.client.service_client
    encrypting = Client(service, data_converter=data_converter(SecretStr(key)))
    room = f"call-{uuid.uuid4().hex[:8]}"
    # No worker polls this queue: the started event alone is what an operator opens.
    handle = await start_transfer(encrypting, request(room), task_queue=f"codec-{uuid.uuid4()}")
    try:
        plain = Client(service)  # what the Temporal server hands the UI: no key
        started = [
            e async for e in plain.get_workflow_handle(handle.workflow_id).fetch_history_events()
        ][0]
        stored = started.workflow_execution_started_event_attributes.input.payloads[0]
        assert stored.metadata["encoding"] == ENCODING
        assert room.encode() not in stored.data and b"+1510555" not in stored.data
        summary = started.user_metadata.summary
        assert summary.metadata["encoding"] == ENCODING  # the UI's Summary, too

        async with serving(key) as url:
            status, body = await post(f"{url}/decode", [stored, summary], Origin=UI_ORIGIN)
        assert status == 200
        decoded_input, decoded_summary = parse(body)
        assert decoded_input.metadata["encoding"] == b"json/plain"
        transfer = json.loads(decoded_input.data)
        assert transfer["room_name"] == room
        assert transfer["destinations"][0]["sip_call_to"] == "+15105550100"
        assert json.loads(decoded_summary.data) == f"Warm transfer of room {room}"
    finally:
        await handle.handle.terminate("test over")


async def test_the_temporal_cli_decodes_through_the_codec_server(
    workflow_env: WorkflowEnvironment,
) -> None:
    key = new_key()
    service = workflow_env.client.service_client
    encrypting = Client(service, data_converter=data_converter(SecretStr(key)))
    room = f"call-{uuid.uuid4().hex[:8]}"
    handle = await start_transfer(encrypting, request(room), task_queue=f"codec-{uuid.uuid4()}")
    show = [temporal_cli(), "workflow", "show", "--workflow-id", handle.workflow_id]
    show += ["--address", service.config.target_host, "--output", "json"]
    try:
        async with serving(key) as url:
            proc = await asyncio.create_subprocess_exec(
                *show, "--codec-endpoint", url, stdout=PIPE, stderr=STDOUT
            )
            out, _ = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        await handle.handle.terminate("test over")
    assert proc.returncode == 0, out.decode()
    started = json.loads(out)["events"][0]["workflowExecutionStartedEventAttributes"]
    (payload,) = started["input"]["payloads"]
    assert base64.b64decode(payload["metadata"]["encoding"]) == b"json/plain"
    assert json.loads(base64.b64decode(payload["data"]))["room_name"] == room


async def test_encode_then_decode_round_trips_and_plain_payloads_pass_through() -> None:
    original = Payload(metadata={"encoding": b"json/plain"}, data=b'{"reason": "supervisor"}')
    async with serving(new_key()) as url:
        status, body = await post(f"{url}/encode", [original])
        assert status == 200
        (sealed,) = parse(body)
        assert sealed.metadata["encoding"] == ENCODING and b"supervisor" not in sealed.data
        # The CLI's --codec-endpoint templating puts the namespace in the path.
        status, body = await post(f"{url}/default/decode", [sealed, original])
    assert status == 200
    assert parse(body) == [original, original]


async def test_a_payload_from_another_key_is_refused_not_garbled() -> None:
    sealed = await EncryptionCodec.from_key(SecretStr(new_key())).encode(
        [Payload(metadata={"encoding": b"json/plain"}, data=b"{}")]
    )
    async with serving(new_key()) as url:
        status, body = await post(f"{url}/decode", sealed)
        bad_status, bad_body = await post(f"{url}/decode", [])  # fine: nothing to decode
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{url}/decode", data="not json") as response:
                garbage = (response.status, await response.text())
    assert status == 400 and "different key" in body
    assert (bad_status, bad_body) == (200, {})
    assert garbage[0] == 400 and "payloads" in garbage[1]


async def test_cors_lets_the_ui_origin_in_and_no_other() -> None:
    preflight = {"Access-Control-Request-Method": "POST"}
    async with serving(new_key()) as url, aiohttp.ClientSession() as session:
        async with session.options(
            f"{url}/decode", headers={"Origin": UI_ORIGIN, **preflight}
        ) as ok:
            allowed = ok.status, dict(ok.headers)
        async with session.options(
            f"{url}/decode", headers={"Origin": "http://evil.example", **preflight}
        ) as refused:
            denied = refused.status, dict(refused.headers)
        async with session.post(
            f"{url}/decode", data="{}", headers={"Origin": "http://evil.example"}
        ) as stranger:
            stranger_headers = dict(stranger.headers)
    status, headers = allowed
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == UI_ORIGIN
    assert "x-namespace" in headers["Access-Control-Allow-Headers"]
    assert "POST" in headers["Access-Control-Allow-Methods"]
    assert denied[0] == 403 and "Access-Control-Allow-Origin" not in denied[1]
    assert "Access-Control-Allow-Origin" not in stranger_headers


def test_main_refuses_to_start_without_a_usable_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("WARM_TRANSFER_PAYLOAD_KEY", raising=False)
    assert codec_server.main(["--port", str(free_port())]) == 2
    assert "WARM_TRANSFER_PAYLOAD_KEY is not set" in capsys.readouterr().err
    monkeypatch.setenv("WARM_TRANSFER_PAYLOAD_KEY", "too-short")
    assert codec_server.main(["--port", str(free_port())]) == 2
    assert "64 hex characters" in capsys.readouterr().err
