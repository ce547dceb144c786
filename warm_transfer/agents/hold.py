"""The AI agent's side of the engine's ``warm-transfer`` data messages.

The engine tells the voice agent what to do with reliable data messages on topic
``warm-transfer``, JSON ``{"event": ..., "workflow_id": ...}``:

- ``hold_started``: the caller is on hold. Hold music plays and the agent stops
  listening and speaking, so it neither answers the music nor talks over it.
- ``hold_stopped``: the caller is back with the agent (no human took the call).
- ``leave``: the caller is someone else's now. The agent says goodbye and its session
  ends (the engine removes it from the room right after).

Messages are handled one at a time, in order, and each is idempotent: the engine
may send one twice when an activity is retried.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Any

import structlog
from livekit import rtc
from livekit.agents import AudioConfig, BackgroundAudioPlayer, BuiltinAudioClip
from pydantic import BaseModel, ConfigDict, ValidationError

from warm_transfer.agents.ports import HoldMusic, RoomLike, SessionLike
from warm_transfer.wire import DATA_TOPIC

DEFAULT_HOLD_AUDIO = AudioConfig(BuiltinAudioClip.HOLD_MUSIC, volume=0.8)

log = structlog.get_logger(__name__)


class TransferMessage(BaseModel):
    """A data message from the engine; unknown events are ignored (newer engines)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event: str
    workflow_id: str = ""


class BackgroundHoldMusic:
    """Hold music through LiveKit Agents' ``BackgroundAudioPlayer`` (its own track).

    Args:
        room: the caller's room, connected.
        audio: what to play, looped; LiveKit's built-in hold music by default.
    """

    def __init__(self, room: rtc.Room, audio: AudioConfig = DEFAULT_HOLD_AUDIO) -> None:
        self._room = room
        self._audio = audio
        self._player: BackgroundAudioPlayer | None = None
        self._playing: Any = None

    async def start(self) -> None:
        """Publishes the track on first use, then loops the music."""
        if self._player is None:
            self._player = BackgroundAudioPlayer()
            await self._player.start(room=self._room)
        if self._playing is None:
            self._playing = self._player.play(self._audio, loop=True)

    async def stop(self) -> None:
        """Stops the music; the track stays for the next hold."""
        if self._playing is not None:
            self._playing.stop()
            self._playing = None

    async def aclose(self) -> None:
        """Stops and unpublishes."""
        await self.stop()
        if self._player is not None:
            await self._player.aclose()
            self._player = None


class TransferEvents:
    """Applies the engine's data messages to a voice agent's session.

    Args:
        session: the voice agent's ``AgentSession``.
        hold_music: what plays on hold (None: silence).
        goodbye: said on ``leave`` before the session ends (None: nothing).
        welcome_back: said on ``hold_stopped`` (None: nothing; the LLM carries on).
        speech_wait_s: how long hold waits for the agent to finish its hold line.
    """

    def __init__(
        self,
        session: SessionLike,
        hold_music: HoldMusic | None = None,
        *,
        goodbye: str | None = None,
        welcome_back: str | None = None,
        speech_wait_s: float = 8.0,
    ) -> None:
        self._session = session
        self._music = hold_music
        self._goodbye = goodbye
        self._welcome_back = welcome_back
        self._speech_wait_s = speech_wait_s
        self._queue: asyncio.Queue[TransferMessage] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._before_hold: Awaitable[Any] | None = None
        self._io_before_hold: tuple[bool, bool, bool] | None = None
        self.handled: list[str] = []
        self.left = False

    @property
    def on_hold(self) -> bool:
        """True between ``hold_started`` and ``hold_stopped`` / ``leave``."""
        return self._io_before_hold is not None

    def attach(self, room: RoomLike) -> None:
        """Listens to the room's data messages."""
        room.on("data_received", self.on_data_received)

    def detach(self, room: RoomLike) -> None:
        """Stops listening."""
        room.off("data_received", self.on_data_received)

    def on_data_received(self, packet: rtc.DataPacket) -> None:
        """The room's ``data_received`` callback: queues the engine's messages."""
        if packet.topic != DATA_TOPIC:
            return
        if packet.participant is not None:
            # The engine sends with the server API (no sender): anyone in the room
            # could otherwise put the agent on hold or make it leave.
            log.warning(
                "transfer message from a participant ignored", sender=packet.participant.identity
            )
            return
        try:
            message = TransferMessage.model_validate_json(packet.data)
        except ValidationError:
            log.warning("malformed transfer message ignored", size=len(packet.data))
            return
        self._queue.put_nowait(message)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain(), name="warm-transfer events")

    def speak_before_hold(self, speech: Awaitable[Any]) -> None:
        """Hold starts once ``speech`` (e.g. "please hold") has been played out."""
        self._before_hold = speech

    async def idle(self) -> None:
        """Waits until every queued message has been handled."""
        await self._queue.join()

    async def handle(self, message: TransferMessage) -> None:
        """Applies one message."""
        log.info("transfer message", transfer_event=message.event, wid=message.workflow_id)
        if message.event == "hold_started":
            await self._hold()
        elif message.event == "hold_stopped":
            await self._resume(self._welcome_back)
        elif message.event == "leave":
            await self._leave()
        else:
            return
        self.handled.append(message.event)

    async def aclose(self) -> None:
        """Stops the handler and the music."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        if self._music is not None:
            await self._music.aclose()

    async def _drain(self) -> None:
        while not self._queue.empty():
            message = self._queue.get_nowait()
            try:
                await self.handle(message)
            except Exception:
                log.exception("transfer message failed", transfer_event=message.event)
            finally:
                self._queue.task_done()

    async def _hold(self) -> None:
        if self.on_hold or self.left:
            return
        speech, self._before_hold = self._before_hold, None
        if speech is not None:
            # Let the caller hear "please hold" to the end, not cut by the music.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(_awaited(speech), self._speech_wait_s)
        session = self._session
        self._io_before_hold = (
            session.input.audio_enabled,
            session.output.audio_enabled,
            session.output.transcription_enabled,
        )
        with contextlib.suppress(RuntimeError):  # nothing to interrupt, or not allowed
            session.interrupt()
        session.input.set_audio_enabled(False)
        session.output.set_audio_enabled(False)
        session.output.set_transcription_enabled(False)
        if self._music is not None:
            await self._music.start()

    async def _resume(self, line: str | None) -> None:
        if not self.on_hold or self._io_before_hold is None:
            return
        heard, spoke, transcribed = self._io_before_hold
        self._io_before_hold = None
        if self._music is not None:
            await self._music.stop()
        session = self._session
        session.input.set_audio_enabled(heard)
        session.output.set_audio_enabled(spoke)
        session.output.set_transcription_enabled(transcribed)
        if line:
            session.say(line)

    async def _leave(self) -> None:
        if self.left:
            return
        self.left = True
        await self._resume(None)
        self._session.input.set_audio_enabled(False)  # nothing left to answer
        if self._goodbye:
            try:
                speech = self._session.say(self._goodbye, allow_interruptions=False)
                await asyncio.wait_for(_awaited(speech), self._speech_wait_s)
            except Exception as err:  # the agent leaves all the same
                log.warning("goodbye not said", error=repr(err))
        if self._music is not None:
            await self._music.aclose()
        self._session.shutdown()


async def _awaited(speech: Awaitable[Any]) -> None:
    await speech
