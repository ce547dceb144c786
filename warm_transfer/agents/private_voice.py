"""A voice only one participant may hear: an audio track with subscription permissions.

In ``same_room`` the briefing agent speaks in the caller's room. livekit-server
auto-subscribes everyone to a new track, so without more the caller and the AI voice
agent would hear the brief. `PrivateVoice` sets the local participant's track
subscription permissions *before* it publishes (nobody but ``listener`` may subscribe to
any of its tracks), so the SFU never forwards the brief to anyone else: the permission
is enforced by livekit-server, not asked of the other participants.
"""

from __future__ import annotations

import asyncio

import structlog
from livekit import rtc

log = structlog.get_logger(__name__)

FRAME_MS = 20


def only(listener: str) -> list[rtc.ParticipantTrackPermission]:
    """The permission list that lets ``listener`` alone subscribe to every track."""
    return [rtc.ParticipantTrackPermission(participant_identity=listener, allow_all=True)]


class PrivateVoice:
    """One published audio track that ``listener`` alone can subscribe to.

    Args:
        room: the connected room.
        listener: the identity allowed to hear (the dialed human).
        sample_rate: the PCM's rate (16-bit mono).
        track_name: the track's name in the room.
    """

    def __init__(
        self, room: rtc.Room, listener: str, sample_rate: int, track_name: str = "brief"
    ) -> None:
        self._room = room
        self.listener = listener
        self._rate = sample_rate
        self._name = track_name
        self._source: rtc.AudioSource | None = None
        self.track_sid = ""

    async def publish(self) -> str:
        """Restricts subscriptions to the listener, then publishes; the track's SID."""
        local = self._room.local_participant
        local.set_track_subscription_permissions(
            allow_all_participants=False, participant_permissions=only(self.listener)
        )
        self._source = rtc.AudioSource(self._rate, 1)
        track = rtc.LocalAudioTrack.create_audio_track(self._name, self._source)
        options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        publication = await local.publish_track(track, options)
        self.track_sid = publication.sid
        log.info("private voice published", listener=self.listener, track=self.track_sid)
        return self.track_sid

    async def say(self, pcm: bytes) -> None:
        """Plays 16-bit mono PCM in real time (20 ms frames) and waits for it to end."""
        if self._source is None:
            await self.publish()
        assert self._source is not None
        per_frame = self._rate * FRAME_MS // 1000
        step = per_frame * 2
        for start in range(0, len(pcm), step):
            chunk = pcm[start : start + step].ljust(step, b"\0")
            frame = rtc.AudioFrame(chunk, self._rate, 1, per_frame)
            await self._source.capture_frame(frame)
        await self._source.wait_for_playout()

    async def repeat(self, pcm: bytes, pause_s: float = 1.0) -> None:
        """Says ``pcm`` again and again, ``pause_s`` apart, until cancelled."""
        while True:
            await self.say(pcm)
            await asyncio.sleep(pause_s)
