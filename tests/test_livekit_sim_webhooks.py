"""Webhooks of the LiveKit stand-in, verified with livekit-api's WebhookReceiver."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from livekit import api

from warm_transfer.livekit_sim import SimConfig
from warm_transfer.livekit_sim.testing import SimHarness, sim_harness

KEY = "devkey"
SECRET = "a-test-secret-that-is-at-least-32-bytes-long"


@dataclass
class Inbox:
    """What the test's webhook endpoint received: (body, Authorization, Content-Type)."""

    url: str = ""
    received: list[tuple[str, str, str]] = field(default_factory=list)
    fail_next: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_for(self, n: int, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self.received) < n:
                self.arrived.clear()
                await self.arrived.wait()


@pytest.fixture
async def inbox() -> AsyncIterator[Inbox]:
    box = Inbox()

    async def receive(request: web.Request) -> web.Response:
        if box.fail_next > 0:
            box.fail_next -= 1
            return web.Response(status=503)
        body = await request.text()
        box.received.append((body, request.headers.get("Authorization", ""), request.content_type))
        box.arrived.set()
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    box.url = f"http://127.0.0.1:{port}/hook"
    try:
        yield box
    finally:
        await runner.cleanup()


@pytest.fixture
async def h(inbox: Inbox) -> AsyncIterator[SimHarness]:
    config = SimConfig(
        api_key=KEY,
        api_secret=SECRET,
        time_scale=0.01,
        webhook_urls=[inbox.url],
        webhook_backoff_s=0.01,
    )
    async with sim_harness(config) as harness:
        yield harness


def receiver() -> api.WebhookReceiver:
    return api.WebhookReceiver(api.TokenVerifier(KEY, SECRET))


async def test_webhooks_are_signed_ordered_and_complete(h: SimHarness, inbox: Inbox) -> None:
    await h.api.sip.create_sip_participant(
        api.CreateSIPParticipantRequest(
            sip_trunk_id="ST_x",
            sip_call_to="+15105550100",
            room_name="r",
            participant_identity="leg",
            wait_until_answered=True,
        )
    )
    await h.api.sip.create_sip_participant(
        api.CreateSIPParticipantRequest(
            sip_trunk_id="ST_x",
            sip_call_to="+15105550101",
            room_name="r",
            participant_identity="busy",
        )
    )
    await h.control.wait_for_event(lambda e: e["type"] == "participant_left")
    await h.api.room.delete_room(api.DeleteRoomRequest(room="r"))
    await inbox.wait_for(12)
    events = [receiver().receive(body, auth) for body, auth, _ in inbox.received]
    assert {ctype for _, _, ctype in inbox.received} == {"application/webhook+json"}
    summary = [
        (e.event, e.participant.identity, e.participant.attributes.get("sip.callStatus", ""))
        for e in events
    ]
    assert summary == [
        ("room_started", "", ""),
        ("participant_joined", "leg", "dialing"),
        ("track_published", "leg", "dialing"),  # before the INVITE, as livekit-sip does
        ("participant_attributes_changed", "leg", "ringing"),
        ("participant_attributes_changed", "leg", "active"),
        ("participant_joined", "busy", "dialing"),
        ("track_published", "busy", "dialing"),
        ("participant_attributes_changed", "busy", "ringing"),
        ("participant_attributes_changed", "busy", "hangup"),
        ("participant_left", "busy", "hangup"),
        ("participant_left", "leg", "active"),
        ("room_finished", "", ""),
    ]
    by_name = {(e.event, e.participant.identity): e for e in events}
    assert by_name[("participant_left", "busy")].participant.disconnect_reason == (
        api.DisconnectReason.USER_UNAVAILABLE
    )
    assert by_name[("participant_left", "leg")].participant.disconnect_reason == (
        api.DisconnectReason.ROOM_DELETED
    )
    published = by_name[("track_published", "leg")]
    assert published.track.type == api.TrackType.AUDIO and published.track.sid
    assert all(e.room.name == "r" and e.id.startswith("EV_") and e.created_at > 0 for e in events)
    assert len({e.id for e in events}) == len(events)


async def test_tampered_body_fails_verification(h: SimHarness, inbox: Inbox) -> None:
    await h.api.room.create_room(api.CreateRoomRequest(name="r"))
    await inbox.wait_for(1)
    body, auth, _ = inbox.received[0]
    assert receiver().receive(body, auth).event == "room_started"
    with pytest.raises(Exception, match="hash mismatch"):
        receiver().receive(body.replace("room_started", "room_finished"), auth)
    with pytest.raises(Exception, match="Signature"):
        api.WebhookReceiver(api.TokenVerifier(KEY, "another-secret-another-secret-xx")).receive(
            body, auth
        )


async def test_failed_deliveries_are_retried(h: SimHarness, inbox: Inbox) -> None:
    inbox.fail_next = 2
    await h.api.room.create_room(api.CreateRoomRequest(name="r"))
    await inbox.wait_for(1)
    assert receiver().receive(*inbox.received[0][:2]).event == "room_started"
    assert (await h.control.state())["webhooks"] == {"sent": 1, "failed": 0}
