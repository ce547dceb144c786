"""The few things the adapter uses of a LiveKit room and an agent session.

`livekit.rtc.Room` and `livekit.agents.AgentSession` satisfy these structurally; the
tests drive the adapter with hand-written stand-ins instead of a LiveKit server.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any, Protocol


class ParticipantLike(Protocol):
    """A participant as the adapter reads it."""

    @property
    def identity(self) -> str:
        """The participant's identity."""
        ...

    @property
    def kind(self) -> int:
        """``rtc.ParticipantKind`` (3 is SIP)."""
        ...

    @property
    def attributes(self) -> Mapping[str, str]:
        """The participant's attributes (``sip.callStatus``, the engine's tags)."""
        ...


class LocalParticipantLike(Protocol):
    """The agent itself in the room."""

    @property
    def identity(self) -> str:
        """The agent's identity: the ``agent_identity`` of a transfer."""
        ...


class RoomLike(Protocol):
    """A connected room: its name, who is in it, and its events."""

    @property
    def name(self) -> str:
        """The room's name."""
        ...

    @property
    def local_participant(self) -> LocalParticipantLike:
        """The agent."""
        ...

    @property
    def remote_participants(self) -> Mapping[str, ParticipantLike]:
        """Everyone else, by identity."""
        ...

    def on(self, event: Any, callback: Any = None) -> Any:
        """Subscribes ``callback`` to ``event``."""
        ...

    def off(self, event: Any, callback: Any) -> None:
        """Unsubscribes ``callback`` from ``event``."""
        ...


class AudioSwitch(Protocol):
    """An agent session's input (``AgentInput``) as far as audio goes."""

    @property
    def audio_enabled(self) -> bool:
        """Whether audio flows."""
        ...

    def set_audio_enabled(self, enabled: bool, /) -> None:
        """Lets audio flow, or not."""
        ...


class OutputSwitch(AudioSwitch, Protocol):
    """An agent session's output (``AgentOutput``): audio and transcription."""

    @property
    def transcription_enabled(self) -> bool:
        """Whether transcriptions are published."""
        ...

    def set_transcription_enabled(self, enabled: bool, /) -> None:
        """Publishes transcriptions, or not."""
        ...


class SessionLike(Protocol):
    """An ``AgentSession``: its audio I/O, speech and shutdown."""

    @property
    def input(self) -> AudioSwitch:
        """What the agent hears."""
        ...

    @property
    def output(self) -> OutputSwitch:
        """What the agent says."""
        ...

    def say(self, text: str, *, allow_interruptions: bool = ...) -> Awaitable[Any]:
        """Speaks ``text``; the result completes when it has been played out."""
        ...

    def interrupt(self) -> Any:
        """Stops the current speech."""
        ...

    def shutdown(self) -> None:
        """Ends the session (after draining what is queued)."""
        ...


class HoldMusic(Protocol):
    """What the caller hears on hold (`BackgroundHoldMusic` plays LiveKit's clip)."""

    async def start(self) -> None:
        """Starts playing (again)."""
        ...

    async def stop(self) -> None:
        """Stops playing."""
        ...

    async def aclose(self) -> None:
        """Releases the player and its track."""
        ...


class SignalsLike(Protocol):
    """The signals a briefing sends (`warm_transfer.client.TransferHandle` has them)."""

    async def answered(self, participant_identity: str) -> None:
        """``human_answered``."""
        ...

    async def accepted(self, participant_identity: str) -> None:
        """``human_accepted``."""
        ...

    async def declined(self, participant_identity: str, reason: str = "") -> None:
        """``human_declined``."""
        ...
