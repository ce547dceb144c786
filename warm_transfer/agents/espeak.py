"""Offline speech: espeak-ng, as raw PCM and as a LiveKit Agents TTS.

Nothing is downloaded at run time: ``espeak-ng`` (Debian's ``espeak-ng``) renders the
text on this machine. `EspeakTTS` plugs it into an ``AgentSession``; `synthesize_pcm`
is the same speech as bytes, for an agent that publishes its own track (the keypad
briefer).

    session = AgentSession(tts=EspeakTTS(), ...)
"""

from __future__ import annotations

import asyncio
import shutil
import struct
import uuid
from typing import Final, Literal

from livekit.agents import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions, tts

ESPEAK: Final = "espeak-ng"
# espeak-ng's own output rate (its voices are sampled at 22.05 kHz), 16-bit mono.
SAMPLE_RATE: Final = 22050


class EspeakUnavailable(RuntimeError):
    """``espeak-ng`` is not installed (``apt-get install espeak-ng``)."""


def espeak_available() -> bool:
    """Whether ``espeak-ng`` is on the PATH."""
    return shutil.which(ESPEAK) is not None


def wav_pcm(wav: bytes) -> bytes:
    """The samples of espeak-ng's WAV (its ``--stdout`` header leaves the sizes unset).

    Raises:
        ValueError: not a 16-bit mono WAV at `SAMPLE_RATE`.
    """
    if wav[:4] != b"RIFF" or wav[8:12] != b"WAVE":
        raise ValueError("espeak-ng did not write a WAV")
    offset = 12
    while offset + 8 <= len(wav):
        chunk, size = wav[offset : offset + 4], struct.unpack("<I", wav[offset + 4 : offset + 8])[0]
        body = offset + 8
        if chunk == b"fmt ":
            _, channels, rate, _, _, bits = struct.unpack("<HHIIHH", wav[body : body + 16])
            if (channels, rate, bits) != (1, SAMPLE_RATE, 16):
                raise ValueError(f"unexpected espeak-ng format: {channels} ch {rate} Hz {bits} bit")
        elif chunk == b"data":
            data = wav[body:]  # the size field is a placeholder when streamed
            return data[: len(data) - len(data) % 2]
        offset = body + size + size % 2
    raise ValueError("espeak-ng's WAV has no data")


async def synthesize_pcm(text: str, *, voice: str = "en-us", words_per_minute: int = 160) -> bytes:
    """``text`` spoken by espeak-ng: 16-bit mono PCM at `SAMPLE_RATE`.

    Raises:
        EspeakUnavailable: espeak-ng is not installed.
        RuntimeError: espeak-ng failed.
    """
    exe = shutil.which(ESPEAK)
    if exe is None:
        raise EspeakUnavailable("espeak-ng is not installed (apt-get install espeak-ng)")
    proc = await asyncio.create_subprocess_exec(
        exe,
        "--stdout",
        "-v",
        voice,
        "-s",
        str(words_per_minute),
        "--",
        text,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"espeak-ng failed ({proc.returncode}): {err.decode(errors='replace')}")
    return wav_pcm(out)


class EspeakTTS(tts.TTS[Literal["metrics_collected", "error"]]):
    """espeak-ng as a (non-streaming) LiveKit Agents TTS.

    Args:
        voice: an espeak-ng voice (``espeak-ng --voices``).
        words_per_minute: speaking rate.
    """

    def __init__(self, *, voice: str = "en-us", words_per_minute: int = 160) -> None:
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False),
            sample_rate=SAMPLE_RATE,
            num_channels=1,
        )
        self.voice = voice
        self.words_per_minute = words_per_minute

    @property
    def model(self) -> str:
        """The voice."""
        return self.voice

    @property
    def provider(self) -> str:
        """espeak-ng, on this machine."""
        return ESPEAK

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.ChunkedStream:
        """One utterance."""
        return _EspeakStream(tts=self, input_text=text, conn_options=conn_options)


class _EspeakStream(tts.ChunkedStream):
    def __init__(self, *, tts: EspeakTTS, input_text: str, conn_options: APIConnectOptions) -> None:
        super().__init__(tts=tts, input_text=input_text, conn_options=conn_options)
        self._espeak = tts

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        pcm = await synthesize_pcm(
            self.input_text,
            voice=self._espeak.voice,
            words_per_minute=self._espeak.words_per_minute,
        )
        output_emitter.initialize(
            request_id=uuid.uuid4().hex,
            sample_rate=SAMPLE_RATE,
            num_channels=1,
            mime_type="audio/pcm",
        )
        output_emitter.push(pcm)
        output_emitter.flush()
