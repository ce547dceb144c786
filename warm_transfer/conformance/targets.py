"""The two LiveKits a probe can run against, behind one interface.

- `SimTarget`: the stand-in (`warm_transfer.livekit_sim`) in this process, as a
  self-hosted livekit-server (the real column is a self-hosted server too);
- `RealTarget`: livekit-server (and, with ``sip``, livekit-sip and the sipp phones)
  from `warm_transfer.realstack`, in network namespaces of its own.

Both hand probes the official `livekit-api` client, a way to put a WebRTC-like
participant in a room, one trunk per phone number, and the webhooks LiveKit sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from livekit import api, rtc

from warm_transfer.livekit_sim import SimConfig
from warm_transfer.livekit_sim.testing import SimHarness, sim_harness

SIM_TRUNK = "ST_conformance"


@dataclass
class WebhookLog:
    """Every webhook LiveKit posted, as ``(event, room name, participant identity)``."""

    events: list[tuple[str, str, str]] = field(default_factory=list)
    _runner: web.AppRunner | None = None

    async def serve(self, host: str, port: int) -> str:
        """Listens on ``host:port``; returns the URL to give LiveKit."""
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = self._runner.addresses[0][1] if port == 0 else port
        return f"http://{host}:{bound}/livekit/webhook"

    async def _receive(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = json.loads(await request.text())
        room = body.get("room", {}).get("name", "")
        who = body.get("participant", {}).get("identity", "")
        self.events.append((str(body.get("event", "")), room, who))
        return web.Response(text="ok")

    def for_room(self, room: str) -> list[str]:
        """The events of ``room``, in the order they arrived."""
        return [event for event, name, _ in self.events if name == room]

    async def aclose(self) -> None:
        """Stops listening."""
        if self._runner is not None:
            await self._runner.cleanup()


class Target:
    """What a probe needs of a LiveKit."""

    name: str
    sip: bool
    lk: api.LiveKitAPI
    webhooks: WebhookLog

    def trunk(self, number: str) -> str:
        """The outbound trunk that reaches the phone at ``number``."""
        raise NotImplementedError

    async def join(self, room: str, identity: str) -> None:
        """A participant with a microphone track joins ``room`` over WebRTC."""
        raise NotImplementedError

    async def leave(self, room: str, identity: str) -> None:
        """The participant joined with `join` leaves on its own."""
        raise NotImplementedError

    async def aclose(self) -> None:
        """Stops what the target started."""
        raise NotImplementedError


class SimTarget(Target):
    """The stand-in, as self-hosted livekit-server."""

    name = "sim"

    def __init__(self) -> None:
        self.sip = True
        self.webhooks = WebhookLog()
        self._stack = contextlib.AsyncExitStack()
        self._harness: SimHarness | None = None

    async def start(self) -> None:
        """Starts the stand-in with webhooks to this target's log."""
        url = await self.webhooks.serve("127.0.0.1", 0)
        config = SimConfig(self_hosted=True, webhook_urls=[url], auth_errors="livekit")
        self._harness = await self._stack.enter_async_context(sim_harness(config))
        self.lk = self._harness.api

    def trunk(self, number: str) -> str:
        return SIM_TRUNK

    async def join(self, room: str, identity: str) -> None:
        assert self._harness is not None
        await self._harness.control.add_participant(room, identity)

    async def leave(self, room: str, identity: str) -> None:
        assert self._harness is not None
        await self._harness.control.remove_participant(room, identity)

    async def aclose(self) -> None:
        await self._stack.aclose()
        await self.webhooks.aclose()


class RealTarget(Target):
    """livekit-server (and with ``sip``, livekit-sip and the phones), started here."""

    name = "real"

    def __init__(self, sip: bool) -> None:
        # Imported here: the real stack's modules need nothing at import, but the
        # stand-in's users should not load them.
        from warm_transfer.realstack.launcher import OBSERVER_PORT, RealLiveKit

        self.sip = sip
        self.webhooks = WebhookLog()
        self._workdir = Path(tempfile.mkdtemp(prefix="wt-conformance-"))
        self._real = RealLiveKit(self._workdir, sip=sip)
        self._observer_port = OBSERVER_PORT
        self._rooms: dict[tuple[str, str], rtc.Room] = {}

    async def start(self) -> None:
        """Starts the stack; webhooks come to this target's log."""
        await self._real.start()
        await self.webhooks.serve(self._real.network.host_ip, self._observer_port)
        self.lk = self._real.lk

    def trunk(self, number: str) -> str:
        return self._real.phones[number].trunk_id

    async def join(self, room: str, identity: str) -> None:
        token = (
            api.AccessToken(self._real.api_key, self._real.api_secret)
            .with_identity(identity)
            .with_grants(api.VideoGrants(room_join=True, room=room))
            .to_jwt()
        )
        conn = rtc.Room()
        await conn.connect(self._real.ws_url, token)
        source = rtc.AudioSource(48000, 1)
        track = rtc.LocalAudioTrack.create_audio_track("microphone", source)
        options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        await conn.local_participant.publish_track(track, options)
        self._rooms[(room, identity)] = conn

    async def leave(self, room: str, identity: str) -> None:
        conn = self._rooms.pop((room, identity), None)
        if conn is not None:
            await conn.disconnect()

    async def aclose(self) -> None:
        for conn in self._rooms.values():
            with contextlib.suppress(Exception):
                await conn.disconnect()
        await self.webhooks.aclose()
        await self._real.stop()
        shutil.rmtree(self._workdir, ignore_errors=True)


async def open_target(livekit: str, sip: bool = True) -> Target:
    """Starts the named target (``"sim"`` or ``"real"``) and returns it."""
    target: SimTarget | RealTarget = SimTarget() if livekit == "sim" else RealTarget(sip)
    try:
        await target.start()
    except BaseException:
        await target.aclose()
        raise
    await asyncio.sleep(0)
    return target
