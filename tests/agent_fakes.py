"""Hand-written stand-ins for a LiveKit room and an agent session (media only).

They record what the adapter did to them, so tests assert on behaviour: what was
said, whether audio flows, whether hold music plays, whether the session ended.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, cast

from livekit import rtc

from warm_transfer.wire import DATA_TOPIC

SIP = rtc.ParticipantKind.PARTICIPANT_KIND_SIP
AGENT = rtc.ParticipantKind.PARTICIPANT_KIND_AGENT


@dataclass
class FakeParticipant:
    identity: str
    kind: int = SIP
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeLocalParticipant:
    identity: str


class FakeRoom:
    """A room whose events the test fires with `emit`."""

    def __init__(self, name: str, agent: str = "voice-agent", *people: FakeParticipant) -> None:
        self.name = name
        self.local_participant = FakeLocalParticipant(agent)
        self.remote_participants: dict[str, FakeParticipant] = {p.identity: p for p in people}
        self.handlers: dict[str, list[Callable[..., Any]]] = {}

    def on(self, event: Any, callback: Any = None) -> Any:
        self.handlers.setdefault(event, []).append(callback)
        return callback

    def off(self, event: Any, callback: Any) -> None:
        self.handlers[event].remove(callback)

    def emit(self, event: str, *args: Any) -> None:
        for callback in list(self.handlers.get(event, [])):
            callback(*args)

    def engine_says(self, event: str, workflow_id: str = "wf", sender: str | None = None) -> None:
        """A ``warm-transfer`` data message, as the engine's SendData delivers it."""
        payload = json.dumps({"event": event, "workflow_id": workflow_id}).encode()
        self.data(payload, sender=sender)

    def data(self, payload: bytes, topic: str = DATA_TOPIC, sender: str | None = None) -> None:
        """Any data packet; one sent by a participant names its sender, the server's not."""
        participant = None if sender is None else FakeParticipant(sender)
        packet = rtc.DataPacket(
            data=payload,
            kind=rtc.DataPacketKind.KIND_RELIABLE,
            participant=cast(rtc.RemoteParticipant | None, participant),
            topic=topic,
        )
        self.emit("data_received", packet)

    def dtmf(self, digit: str, sender: FakeParticipant) -> None:
        """The human pressing a key on their phone."""
        participant = cast(rtc.RemoteParticipant, sender)
        self.emit("sip_dtmf_received", rtc.SipDTMF(int(digit), digit, participant))


@dataclass
class FakeSwitch:
    audio_enabled: bool = True
    transcription_enabled: bool = True

    def set_audio_enabled(self, enabled: bool, /) -> None:
        self.audio_enabled = enabled

    def set_transcription_enabled(self, enabled: bool, /) -> None:
        self.transcription_enabled = enabled


class FakeSpeech:
    """A speech that is played out when `finish` is called (or at once)."""

    def __init__(self, done: bool) -> None:
        self._played = asyncio.Event()
        if done:
            self._played.set()

    def finish(self) -> None:
        self._played.set()

    def __await__(self) -> Generator[Any, Any, bool]:
        return self._played.wait().__await__()


class FakeSession:
    """An agent session: records speech, interruptions and shutdown."""

    def __init__(self, speeches_finish: bool = True) -> None:
        self.input = FakeSwitch()
        self.output = FakeSwitch()
        self.said: list[str] = []
        self.speeches: list[FakeSpeech] = []
        self.interrupts = 0
        self.shut_down = False
        self._finish = speeches_finish

    def say(self, text: str, *, allow_interruptions: bool = True) -> FakeSpeech:
        self.said.append(text)
        speech = FakeSpeech(self._finish)
        self.speeches.append(speech)
        return speech

    def interrupt(self) -> None:
        self.interrupts += 1

    def shutdown(self) -> None:
        self.shut_down = True

    @property
    def muted(self) -> bool:
        """Neither hears nor speaks."""
        return not (self.input.audio_enabled or self.output.audio_enabled)


@dataclass
class FakeHoldMusic:
    playing: bool = False
    starts: int = 0
    closed: bool = False

    async def start(self) -> None:
        self.playing = True
        self.starts += 1

    async def stop(self) -> None:
        self.playing = False

    async def aclose(self) -> None:
        self.playing = False
        self.closed = True


@dataclass
class FakePublication:
    sid: str
    name: str


class PublishingParticipant:
    """A local participant that records the tracks published through it."""

    def __init__(self) -> None:
        self.track_publications: dict[str, FakePublication] = {}
        self.published: list[str] = []
        self.unpublished: list[str] = []

    async def publish_track(self, track: Any, options: Any = None) -> FakePublication:
        publication = FakePublication(f"TR_{len(self.published)}", track.name)
        self.published.append(track.name)
        self.track_publications[publication.sid] = publication
        return publication

    async def unpublish_track(self, sid: str) -> None:
        self.unpublished.append(sid)
        self.track_publications.pop(sid, None)


class PublishingRoom:
    """Just enough of a room for LiveKit's ``BackgroundAudioPlayer`` to publish into."""

    def __init__(self) -> None:
        self.local_participant = PublishingParticipant()
