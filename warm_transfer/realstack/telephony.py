"""`RealTelephony`: the people around a transfer on the real stack.

- callers are real SIP legs with an AI agent beside them: with ``voice_agent="worker"``
  the caller phones in (`warm_transfer.realstack.inbound`: the support line's inbound
  trunk and dispatch rule make the room and dispatch the LiveKit Agents voice agent,
  ``python -m warm_transfer.realstack.voice_agent``); with ``webrtc`` LiveKit dials the
  caller's phone into a room beside a bare WebRTC participant
  (`warm_transfer.realstack.people`);
- the humans are the phone book's sipp phones, each behind its own trunk;
- the briefing agent is the keypad agent (`python -m warm_transfer.agents.keypad`), a
  real LiveKit Agents worker the engine's dispatches reach through livekit-server;
- the webhook bridge (`python -m warm_transfer.webhook_bridge`) gets livekit-server's
  real webhooks and tells the engine when a caller hangs up;
- the narration is livekit-server's webhooks (a second webhook URL) and the phones'
  own logs of what they received.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from aiohttp import web
from livekit import api
from temporalio.client import Client

from warm_transfer.models import Destination, Fallback
from warm_transfer.realstack.dialin import DialInPhone, TransferPlan
from warm_transfer.realstack.inbound import dial_in
from warm_transfer.realstack.launcher import OBSERVER_PORT, RealLiveKit
from warm_transfer.realstack.people import VoiceAgent, VoiceAgentKind, place_real_call
from warm_transfer.realstack.phones import CALLER_NUMBER
from warm_transfer.realstack.servers import Service
from warm_transfer.telephony import Call, EndState, Narrator, Telephony

ROOT = Path(__file__).resolve().parents[2]


class RealTelephony(Telephony):
    """Real SIP callers and humans, an AI agent and the keypad briefing agent.

    Args:
        voice_agent: ``webrtc`` (a bare participant) or ``worker`` (the voice agent
            worker, started with the other processes, dispatched into each call).
    """

    kind = "real"

    def __init__(
        self,
        real: RealLiveKit,
        temporal_address: str,
        workdir: Path,
        voice_agent: VoiceAgentKind = "webrtc",
    ) -> None:
        self.real = real
        self.temporal_address = temporal_address
        self.workdir = workdir
        self.voice_agent: VoiceAgentKind = voice_agent
        self.agents: dict[str, VoiceAgent] = {}
        self.dial_ins: dict[str, DialInPhone] = {}  # room -> the phone that called in
        self.webhooks: list[tuple[float, dict[str, Any]]] = []
        self._processes: list[Service] = []
        self._observer: web.AppRunner | None = None
        self._narrate: Narrator | None = None
        self._phone_tail: asyncio.Task[None] | None = None

    def destination(self, number: str, **fields: Any) -> Destination:
        """The phone at ``number``, through its own trunk."""
        return self.real.destination(number, **fields)

    def fallback(self, fallback: Fallback) -> Fallback:
        """A voicemail box is a phone too: dialed through its own trunk."""
        if fallback.kind != "voicemail" or fallback.sip_call_to not in self.real.phones:
            return fallback
        trunk = self.real.phones[fallback.sip_call_to].trunk_id
        return fallback.model_copy(update={"sip_trunk_id": trunk})

    async def place_call(self, room_name: str, hang_up_after_s: float | None = None) -> Call:
        """A caller on the line beside the AI agent, in ``room_name`` (dialed out to) or,
        with the voice agent worker, in the room the dispatch rule made (phoned in)."""
        if self.voice_agent == "worker":
            return await self.dial_in(hang_up_after_s=hang_up_after_s)
        call = await place_real_call(
            self.real.lk,
            room_name=room_name,
            caller_trunk_id=self.real.caller_trunk_id,
            caller_number=CALLER_NUMBER,
            ws_url=self.real.ws_url,
            api_key=self.real.api_key,
            api_secret=self.real.api_secret,
            hang_up_after_s=hang_up_after_s,
            voice_agent=self.voice_agent,
            voice_agent_log=self.workdir / "voice-agent.log",
        )
        self.agents[room_name] = call.agent
        return Call(call.room_name, call.caller_identity, call.agent_identity)

    async def dial_in(
        self,
        plan: TransferPlan | None = None,
        ask_after_s: float = 7.0,
        hang_up_after_s: float | None = None,
    ) -> Call:
        """The caller phones the support line (the voice agent worker must be running).

        Args:
            plan: the voice agent's transfer tool dials this when the caller presses 0,
                ``ask_after_s`` after the answer (None: the caller asks for nothing).
            hang_up_after_s: the caller hangs up this long after the answer.
        """
        call, phone = await dial_in(
            self.real.lk,
            self.real.network,
            self.workdir,
            number=CALLER_NUMBER,
            tone_hz=self.real.phones[CALLER_NUMBER].tone_hz,
            voice_agent_log=self.workdir / "voice-agent.log",
            plan=plan,
            ask_after_s=ask_after_s,
            hang_up_after_s=hang_up_after_s,
        )
        self.agents[call.room_name] = call.agent
        self.dial_ins[call.room_name] = phone
        return Call(call.room_name, call.caller_identity, call.agent_identity)

    def caller_media_port(self, room_name: str) -> int:
        """Where the caller of ``room_name`` gets its audio (RTP to this port)."""
        phone = self.dial_ins.get(room_name)
        return phone.media_port if phone else self.real.phones[CALLER_NUMBER].media_port

    def environment(self, livekit_url: str) -> dict[str, str]:
        """What the briefing agent and the webhook bridge run with."""
        return {
            **os.environ,
            "TEMPORAL_ADDRESS": self.temporal_address,
            "LIVEKIT_URL": livekit_url,
            "LIVEKIT_API_KEY": self.real.api_key,
            "LIVEKIT_API_SECRET": self.real.api_secret,
            "WEBHOOK_BIND": self.real.webhook_bind,
            "LOG_FORMAT": "json",
        }

    async def start(self, client: Client, narrate: Narrator | None = None) -> None:
        """Starts the keypad briefing agent, the webhook bridge, the voice agent worker
        (``worker`` only) and the narration."""
        self._narrate = narrate
        processes = [
            ("keypad-briefer", "warm_transfer.agents.keypad", self.real.ws_url, "registered"),
            ("webhook-bridge", "warm_transfer.webhook_bridge", self.real.url, "listening"),
        ]
        if self.voice_agent == "worker":
            voice = ("voice-agent", "warm_transfer.realstack.voice_agent", self.real.ws_url)
            processes.append((*voice, "registered"))
        for name, module, url, ready in processes:
            service = Service(
                name,
                [sys.executable, "-m", module],
                self.workdir / f"{name}.log",
                self.environment(url),
            )
            self._processes.append(service)
            # The log is appended to: a workdir used before (the demo's) has the last
            # run's lines, and a "registered" of a worker long gone says nothing.
            offset = service.log.stat().st_size if service.log.exists() else 0
            await service.start()
            await _wait_for_line(service, ready, offset)
        app = web.Application()
        app.router.add_post("/livekit/webhook", self._on_webhook)
        self._observer = web.AppRunner(app, access_log=None)
        await self._observer.setup()
        await web.TCPSite(self._observer, self.real.network.host_ip, OBSERVER_PORT).start()
        if narrate is not None:
            self._phone_tail = asyncio.create_task(self._tail_phones(narrate))

    async def _on_webhook(self, request: web.Request) -> web.Response:
        event = json.loads(await request.text())
        now = time.time()
        self.webhooks.append((now, event))
        if self._narrate is not None and (text := describe_webhook(event)):
            self._narrate(now, "livekit", text)
        return web.Response(text="ok")

    async def _tail_phones(self, narrate: Narrator) -> None:
        seen: dict[str, int] = {}
        while True:
            for number, phone in self.real.phones.items():
                received = phone.read_log().received
                for method, _ in received[seen.get(number, 0) :]:
                    if method in ("INVITE", "CANCEL", "BYE", "REFER"):
                        narrate(time.time(), "phone", f"{number} received {method}")
                seen[number] = len(received)
            await asyncio.sleep(0.1)

    async def end_state(self) -> EndState:
        """Rooms and participants from livekit-server; dials and ends from the phones."""
        state = EndState()
        for room in (await self.real.lk.room.list_rooms(api.ListRoomsRequest())).rooms:
            listed = await self.real.lk.room.list_participants(
                api.ListParticipantsRequest(room=room.name)
            )
            state.rooms[room.name] = {p.identity for p in listed.participants}
        for number, phone in self.real.phones.items():
            log = phone.read_log()
            if number != CALLER_NUMBER:
                state.dials[number] = log.count("INVITE")
            state.unended += [f"{number}:{cid}" for cid in log.unended()]
        state.unended += [f"dial-in {name}" for name, p in self.dial_ins.items() if not p.ended()]
        state.agent_events = {room: agent.events() for room, agent in self.agents.items()}
        return state

    async def aclose(self) -> None:
        """Stops the processes, the agents and the narration (whatever state they are in)."""
        if self._phone_tail is not None:
            self._phone_tail.cancel()
        for service in reversed(self._processes):
            await service.kill(signal.SIGTERM)
        for agent in self.agents.values():
            with contextlib.suppress(Exception):  # a room already gone is left already
                await agent.leave()
        await asyncio.gather(*(phone.stop() for phone in self.dial_ins.values()))
        if self._observer is not None:
            await self._observer.cleanup()


async def _wait_for_line(
    service: Service, text: str, offset: int = 0, timeout: float = 60.0
) -> None:
    deadline = time.monotonic() + timeout
    while text.encode() not in service.log.read_bytes()[offset:]:
        if not service.running:
            raise RuntimeError(service.failure())
        if time.monotonic() > deadline:
            raise TimeoutError(f"{service.name}: no {text!r} after {timeout} s")
        await asyncio.sleep(0.1)


def describe_webhook(event: dict[str, Any]) -> str | None:
    """One livekit-server webhook as a timeline line, if it is worth one."""
    kind = event.get("event", "")
    room = event.get("room", {}).get("name", "")
    who = event.get("participant", {}).get("identity", "")
    status = event.get("participant", {}).get("attributes", {}).get("sip.callStatus")
    reason = event.get("participant", {}).get("disconnectReason", "")
    return {
        "room_started": f"room {room} started",
        "room_finished": f"room {room} finished",
        "participant_joined": f"{who} joined {room}" + (f" (SIP {status})" if status else ""),
        "participant_left": f"{who} left {room} ({reason or 'left'})",
    }.get(kind)
