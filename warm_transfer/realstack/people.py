"""The caller and the AI agent of a call on the real stack.

The caller is a real SIP leg: LiveKit dials the caller's phone (a sipp phone that
answers, takes a REFER, and hangs up when its INVITE says so), so tagging the caller,
the REFER and the caller's hang-up all act on a real SIP participant. The AI agent is
either a bare participant joined over WebRTC with the ``livekit`` rtc SDK
(`AgentParticipant`: it publishes a silent microphone track, records every
``warm-transfer`` data message it gets and leaves when told to) or a real LiveKit Agents
worker put in the room with an agent dispatch (`DispatchedAgent`: the process
``python -m warm_transfer.realstack.voice_agent``, built on ``warm_transfer.agents``,
which speaks and plays hold music).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal, Protocol

import structlog
from livekit import api, rtc

from warm_transfer.realstack.sipp import HANGUP_HEADER
from warm_transfer.wire import DATA_TOPIC

log = structlog.get_logger(__name__)

VoiceAgentKind = Literal["webrtc", "worker"]
VOICE_AGENT_NAME: Final = "warm-transfer-voice-agent"


def dispatch_metadata(identity: str) -> str:
    """A voice agent dispatch's metadata: the identity the agent joins the room with."""
    return json.dumps({"identity": identity})


class VoiceAgent(Protocol):
    """The AI agent of a call, as the harness sees it."""

    @property
    def identity(self) -> str:
        """Its identity in the caller's room."""
        ...

    def events(self) -> list[str]:
        """The engine's data messages it got, in order."""
        ...

    async def leave(self) -> None:
        """Makes sure it is out of the room (clean-up; idempotent)."""
        ...


def engine_event(packet: rtc.DataPacket) -> str | None:
    """The engine's event in a data message to the AI agent (``hold_started``...), or
    None for a message that is not the engine's."""
    if packet.topic != DATA_TOPIC:
        return None
    try:
        return str(json.loads(packet.data).get("event", ""))
    except ValueError:
        return None


@dataclass
class AgentParticipant:
    """The AI voice agent in the caller's room, over WebRTC.

    Attributes:
        messages: ``(wall clock, event)`` of every engine data message received.
        left_at: when it left the room after ``leave`` (None while it stays).
        others_left: identity -> when each other participant left the room (and has
            not come back: a reconnect after a LiveKit restart clears it).
        leaves_when_told: leave on the engine's ``leave`` (False: stay until removed).
        kind: the participant kind in its token (``standard`` plays a WebRTC caller).
    """

    room_name: str
    identity: str
    room: rtc.Room = field(default_factory=rtc.Room)
    messages: list[tuple[float, str]] = field(default_factory=list)
    left_at: float | None = None
    others_left: dict[str, float] = field(default_factory=dict)
    leaves_when_told: bool = True
    kind: api.AccessToken.ParticipantKind = "agent"
    on_participant_left: Callable[[str], None] | None = None
    _source: rtc.AudioSource | None = None

    async def join(self, ws_url: str, api_key: str, api_secret: str) -> None:
        """Connects, publishes a microphone track and starts recording messages."""
        token = (
            api.AccessToken(api_key, api_secret)
            .with_identity(self.identity)
            .with_kind(self.kind)
            .with_grants(api.VideoGrants(room_join=True, room=self.room_name))
            .to_jwt()
        )
        self.room.on("data_received", self._on_data)
        self.room.on("participant_disconnected", self._on_disconnected)
        self.room.on("participant_connected", self._on_connected)
        await self.room.connect(ws_url, token)
        self._source = rtc.AudioSource(48000, 1)
        track = rtc.LocalAudioTrack.create_audio_track("agent-voice", self._source)
        options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        await self.room.local_participant.publish_track(track, options)

    def events(self) -> list[str]:
        """The engine's data messages, in order."""
        return [event for _, event in self.messages]

    def _on_data(self, packet: rtc.DataPacket) -> None:
        event = engine_event(packet)
        if event is None:
            return
        self.messages.append((time.time(), event))
        if event == "leave" and self.leaves_when_told:
            asyncio.get_running_loop().create_task(self._leave())

    def _on_connected(self, participant: rtc.RemoteParticipant) -> None:
        # Back (our own connection to LiveKit was lost and is up again): not gone.
        self.others_left.pop(participant.identity, None)

    def _on_disconnected(self, participant: rtc.RemoteParticipant) -> None:
        self.others_left.setdefault(participant.identity, time.time())
        if self.on_participant_left is not None:
            self.on_participant_left(participant.identity)

    async def _leave(self) -> None:
        # A voice agent says goodbye first; here there is nothing to say.
        await self.leave()

    async def leave(self) -> None:
        """Disconnects (idempotent)."""
        if self.left_at is None:
            self.left_at = time.time()
            await self.room.disconnect()


@dataclass
class DispatchedAgent:
    """The voice agent worker's job in the caller's room, reached by an agent dispatch.

    What it was told is read from the worker's log (its ``voice agent message`` lines).

    Args:
        room_name: the caller's room.
        identity: the identity the job joins with (the dispatch's metadata).
        log_path: the voice agent worker's log.
    """

    room_name: str
    identity: str
    log_path: Path
    left_at: float | None = None

    async def join(self, lk: api.LiveKitAPI, timeout: float = 30.0) -> None:
        """Dispatches the agent into the room and waits until it has joined.

        Raises:
            TimeoutError: no worker took the job in time.
        """
        await lk.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(
                agent_name=VOICE_AGENT_NAME,
                room=self.room_name,
                metadata=dispatch_metadata(self.identity),
            )
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            listed = await lk.room.list_participants(
                api.ListParticipantsRequest(room=self.room_name)
            )
            if any(p.identity == self.identity for p in listed.participants):
                log.info("voice agent joined", room=self.room_name, agent=self.identity)
                return
            await asyncio.sleep(0.1)
        raise TimeoutError(f"the voice agent did not join {self.room_name} in {timeout} s")

    def logged(self, message: str) -> list[dict[str, object]]:
        """The worker's log lines ``message`` about this room, in order."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        out: list[dict[str, object]] = []
        for line in text.splitlines():
            if f'"{message}"' not in line:
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("event") == message and entry.get("room") == self.room_name:
                out.append(entry)
        return out

    def logged_at(self, message: str) -> float | None:
        """The wall clock of the first ``message`` line about this room (None: none yet)."""
        entries = self.logged(message)
        return float(str(entries[0]["at"])) if entries else None

    @property
    def messages(self) -> list[tuple[float, str]]:
        """``(wall clock, event)`` of every engine data message the job received."""
        return [
            (float(str(e.get("at", 0.0))), str(e.get("transfer_event", "")))
            for e in self.logged("voice agent message")
        ]

    def events(self) -> list[str]:
        """The engine's data messages, in order."""
        return [event for _, event in self.messages]

    async def leave(self) -> None:
        """Nothing to do: the job leaves on ``leave``, or when its worker stops."""
        if self.left_at is None:
            self.left_at = time.time()


@dataclass(frozen=True)
class RealCall:
    """A caller on a real SIP leg and an AI agent, in one room."""

    room_name: str
    caller_identity: str
    agent_identity: str
    agent: VoiceAgent


async def place_real_call(
    lk: api.LiveKitAPI,
    *,
    room_name: str,
    caller_trunk_id: str,
    caller_number: str,
    ws_url: str,
    api_key: str,
    api_secret: str,
    hang_up_after_s: float | None = None,
    agent_identity: str = "voice-agent",
    voice_agent: VoiceAgentKind = "webrtc",
    voice_agent_log: Path | None = None,
    headers: dict[str, str] | None = None,
) -> RealCall:
    """Puts the AI agent in ``room_name`` and dials the caller's phone into it.

    Args:
        hang_up_after_s: the caller's phone hangs up this long after answering.
        voice_agent: ``webrtc`` (a bare participant of this process) or ``worker``
            (dispatched to the voice agent worker, whose log is ``voice_agent_log``).
        headers: more SIP ``X-`` headers for the caller's INVITE (a tag to find the
            call in the phone's log by).
    """
    await lk.room.create_room(api.CreateRoomRequest(name=room_name, empty_timeout=120))
    agent: VoiceAgent
    if voice_agent == "worker":
        if voice_agent_log is None:
            raise ValueError("a dispatched voice agent needs its worker's log")
        dispatched = DispatchedAgent(room_name, agent_identity, voice_agent_log)
        await dispatched.join(lk)
        agent = dispatched
    else:
        participant = AgentParticipant(room_name, agent_identity)
        await participant.join(ws_url, api_key, api_secret)
        agent = participant
    caller_identity = f"sip_{caller_number}_{room_name}"
    headers = dict(headers or {})
    if hang_up_after_s is not None:
        headers[HANGUP_HEADER] = str(round(hang_up_after_s * 1000))
    await lk.sip.create_sip_participant(
        api.CreateSIPParticipantRequest(
            sip_trunk_id=caller_trunk_id,
            sip_call_to=caller_number,
            room_name=room_name,
            participant_identity=caller_identity,
            participant_name="Caller",
            headers=headers,
            wait_until_answered=True,
        )
    )
    log.info("caller on the line", room=room_name, caller=caller_identity)
    return RealCall(room_name, caller_identity, agent_identity, agent)
