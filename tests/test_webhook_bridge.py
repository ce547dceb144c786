"""The webhook bridge on the real dev server: signed webhooks become signals the
workflow acts on; unsigned, tampered and expired ones are refused and signal nothing;
a Temporal outage is answered 503 and the signal still lands."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from livekit import api
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from tests.fakes import FakeLiveKit
from tests.webhook_helpers import (
    KEY,
    SECRET,
    Reason,
    free_port,
    participant,
    post,
    sign,
    webhook,
)
from tests.workflow_helpers import HUMAN_A, fake_worker, make_request, start, wait_for_stage
from warm_transfer.client import TransferHandle
from warm_transfer.webhook_bridge import BridgeOptions, WebhookBridge, route_event, serve_bridge


@asynccontextmanager
async def bridge(
    client: Client, ack_timeout_s: float = 2.0
) -> AsyncIterator[tuple[str, WebhookBridge]]:
    served = WebhookBridge(client, BridgeOptions(KEY, SECRET, ack_timeout_s=ack_timeout_s))
    async with serve_bridge(served) as url:
        yield url, served


async def signals(handle: TransferHandle) -> list[str]:
    history = await handle.handle.fetch_history()
    return [
        e.workflow_execution_signaled_event_attributes.signal_name
        for e in history.events
        if e.HasField("workflow_execution_signaled_event_attributes")
    ]


async def test_signed_webhooks_drive_the_workflow(client: Client, task_queue: str) -> None:
    fake = FakeLiveKit(scripts={HUMAN_A: "ring_forever"})
    async with fake_worker(client, task_queue, fake), bridge(client) as (url, _):
        request = make_request(HUMAN_A)
        handle = await start(client, task_queue, request)
        leg = (await wait_for_stage(handle, "dialing")).participant_identity
        assert leg is not None
        wid = handle.workflow_id
        # The phone rings: joined, but not answered. No signal.
        ringing = webhook("participant_joined", participant(leg, wid, "human", "ringing"))
        assert await post(url, ringing, sign(ringing)) == (
            200,
            {"event": "participant_joined", "signal": None},
        )
        answered = webhook("participant_attributes_changed", participant(leg, wid, "human"))
        status, answer = await post(url, answered, sign(answered))
        assert (status, answer["signal"], answer["result"]) == (200, "human_answered", "delivered")
        await wait_for_stage(handle, "briefing")
        caller = participant(request.caller_identity, wid, "caller", reason=Reason.CLIENT_INITIATED)
        left = webhook("participant_left", caller)
        status, answer = await post(url, left, sign(left))
        assert (status, answer["signal"]) == (200, "caller_hung_up")
        outcome = await handle.outcome()
    assert outcome.outcome == "caller_hung_up"
    assert await signals(handle) == ["human_answered", "caller_hung_up"]


@pytest.mark.parametrize(
    "forge",
    ["unsigned", "tampered", "expired", "wrong secret", "garbage token"],
)
async def test_unauthentic_webhooks_are_refused(
    client: Client, task_queue: str, forge: str
) -> None:
    fake = FakeLiveKit(scripts={HUMAN_A: "ring_forever"})
    async with fake_worker(client, task_queue, fake), bridge(client) as (url, served):
        request = make_request(HUMAN_A)
        handle = await start(client, task_queue, request)
        await wait_for_stage(handle, "dialing")
        who = participant(request.caller_identity, handle.workflow_id, "caller", reason=1)
        body = webhook("participant_left", who)
        token: str | None = {
            "unsigned": None,
            # Signed for a different event; sent with this one.
            "tampered": sign(webhook("participant_left", participant("x", "y", "caller"))),
            "expired": sign(body, ttl=-timedelta(minutes=10)),
            "wrong secret": sign(body, secret="not-the-secret-0123456789abcdef01234"),
            "garbage token": "not.a.jwt",
        }[forge]
        status, _ = await post(url, body, token)
        assert status == 401
        assert served.rejected == 1
        assert served.delivery.counts == {}
        assert (await handle.status()).stage == "dialing"
        assert await signals(handle) == []
        await handle.caller_hung_up()
        assert (await handle.outcome()).outcome == "caller_hung_up"


async def test_hang_up_after_the_transfer_ended_is_acknowledged(client: Client) -> None:
    async with bridge(client) as (url, served):
        who = participant("sip_+15105550123", f"gone-{uuid.uuid4()}", "caller", reason=1)
        body = webhook("participant_left", who)
        status, answer = await post(url, body, sign(body))
    assert (status, answer["result"]) == (200, "transfer_over")
    assert served.delivery.counts == {"transfer_over": 1}


@asynccontextmanager
async def tcp_proxy(port: int, target: str) -> AsyncIterator[None]:
    """Forwards 127.0.0.1:port to ``target``: Temporal "coming back"."""
    host, _, target_port = target.rpartition(":")
    writers: list[asyncio.StreamWriter] = []

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(host, int(target_port))
        writers.extend((writer, up_writer))
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(forward, "127.0.0.1", port)
    try:
        yield
    finally:
        server.close()
        for writer in writers:
            writer.close()
        await server.wait_closed()


async def test_temporal_outage_is_answered_503_and_the_signal_still_lands(
    client: Client, task_queue: str
) -> None:
    fake = FakeLiveKit(scripts={HUMAN_A: "ring_forever"})
    port = free_port()
    # The bridge's own client, to a Temporal that is not there yet.
    down = await Client.connect(
        f"127.0.0.1:{port}", data_converter=pydantic_data_converter, lazy=True
    )
    async with (
        fake_worker(client, task_queue, fake),
        bridge(down, ack_timeout_s=0.3) as (
            url,
            served,
        ),
    ):
        request = make_request(HUMAN_A)
        handle = await start(client, task_queue, request)
        await wait_for_stage(handle, "dialing")
        who = participant(request.caller_identity, handle.workflow_id, "caller", reason=1)
        body = webhook("participant_left", who, event_id="EV_outage")
        status, answer = await post(url, body, sign(body))
        assert (status, answer["result"]) == (503, "pending")
        # LiveKit's redelivery joins the delivery still running: one signal, not two.
        status, _ = await post(url, body, sign(body))
        assert status == 503 and served.delivery.in_flight == 1
        async with tcp_proxy(port, client.service_client.config.target_host):
            outcome = await handle.outcome()
            status, answer = await post(url, body, sign(body))
    assert outcome.outcome == "caller_hung_up"
    assert (status, answer["result"]) == (200, "delivered")
    assert served.delivery.counts == {"delivered": 1}
    assert await signals(handle) == ["caller_hung_up"]


@pytest.mark.parametrize(
    ("kind", "role", "status", "reason", "expected"),
    [
        ("participant_joined", "human", "dialing", 0, None),  # still ringing
        ("participant_joined", "human", "active", 0, "human_answered"),  # moved, active
        ("participant_attributes_changed", "human", "ringing", 0, None),
        ("participant_attributes_changed", "voicemail", "active", 0, None),
        ("participant_left", "human", "hangup", Reason.CLIENT_INITIATED, "human_declined"),
        ("participant_left", "human", "hangup", Reason.USER_REJECTED, None),  # a 603
        ("participant_left", "human", "ringing", Reason.CLIENT_INITIATED, None),
        ("participant_left", "human", "active", Reason.PARTICIPANT_REMOVED, None),  # engine
        ("participant_left", "human", "active", Reason.UNKNOWN_REASON, None),  # moved away
        ("participant_left", "caller", "active", Reason.CLIENT_INITIATED, "caller_hung_up"),
        ("participant_left", "caller", "active", Reason.DUPLICATE_IDENTITY, None),  # rejoined
        ("track_published", "human", "active", 0, None),
    ],
)
def test_which_webhook_is_which_signal(
    kind: str, role: str, status: str, reason: int, expected: str | None
) -> None:
    event = api.WebhookEvent(event=kind, participant=participant("leg", "wf", role, status, reason))
    route = route_event(event)
    assert (route.signal if route else None) == expected
    if route is not None:
        assert (route.workflow_id, route.participant_identity) == ("wf", "leg")


def test_untagged_participants_are_not_routed() -> None:
    stranger = api.ParticipantInfo(identity="sip_+15105550123", disconnect_reason=1)  # type: ignore[arg-type]
    assert route_event(api.WebhookEvent(event="participant_left", participant=stranger)) is None
    assert route_event(api.WebhookEvent(event="room_finished")) is None
