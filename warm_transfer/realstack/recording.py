"""What a phone heard as a recording on the wall clock: a WAV a person can listen to.

`place` puts each RTP packet's decoded audio where it belongs in time, from ``start``
to ``end``: within a stream (one SSRC) by its RTP timestamp, anchored to the wall
clock by the least delayed packet, so network jitter does not stretch the recording;
where the stream stops or its clock jumps against the wall clock (a new stream, a
pause without a timestamp jump) it is anchored again. Whatever no packet covers is
silence, so two phones' recordings of one call line up with each other and with the
call's timeline. `Recording.frames` cuts it into the 20 ms `Frame` s of
`warm_transfer.realstack.audio` on that same clock.
"""

from __future__ import annotations

import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from warm_transfer.realstack.audio import FRAME, Frame, Packet, decode
from warm_transfer.realstack.tones import RATE

# A packet further than this from its stream's clock starts a new anchor.
RESYNC_S: Final = 0.25
_WRAP: Final = 1 << 32


@dataclass(frozen=True)
class Recording:
    """16-bit mono audio at 8 kHz from ``start`` (epoch s), one sample per 1/8000 s.

    Attributes:
        start: the wall clock of the first sample.
        samples: the audio, silence where nothing was received.
        received: per sample, whether a packet carried it (False: filled in).
    """

    start: float
    samples: npt.NDArray[np.int16]
    received: npt.NDArray[np.bool_]

    @property
    def seconds(self) -> float:
        """Its length."""
        return len(self.samples) / RATE

    def write_wav(self, path: Path) -> Path:
        """Writes it as a PCM WAV (16-bit, 8 kHz, mono); returns ``path``."""
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(RATE)
            out.writeframes(self.samples.astype("<i2").tobytes())
        return path

    def frames(self) -> list[Frame | None]:
        """Every 20 ms from ``start``: the frame, or None where most of it was not received."""
        out: list[Frame | None] = []
        for first in range(0, len(self.samples) - FRAME + 1, FRAME):
            if self.received[first : first + FRAME].mean() < 0.5:
                out.append(None)
                continue
            chunk = self.samples[first : first + FRAME].astype(np.float64)
            out.append(Frame(self.start + first / RATE, float(np.sqrt(np.mean(chunk**2))), chunk))
        return out


def place(packets: Sequence[Packet], start: float, end: float) -> Recording:
    """The packets' audio from ``start`` to ``end`` (epoch s), gaps filled with silence.

    Args:
        packets: what one phone received (`warm_transfer.realstack.audio.rtp_packets`).
        start: the wall clock the recording starts at (its sample 0).
        end: the wall clock it ends at: it is ``(end - start) * 8000`` samples long.
    """
    length = max(0, round((end - start) * RATE))
    samples = np.zeros(length, dtype=np.int16)
    received = np.zeros(length, dtype=np.bool_)
    for at, audio in _placed(packets):
        first = round((at - start) * RATE)
        lo, hi = max(0, first), min(length, first + len(audio))
        if lo < hi:
            samples[lo:hi] = audio[lo - first : hi - first]
            received[lo:hi] = True
    return Recording(start, samples, received)


def _placed(packets: Sequence[Packet]) -> list[tuple[float, npt.NDArray[np.int16]]]:
    """Each packet's audio with the wall clock of its first sample."""
    out: list[tuple[float, npt.NDArray[np.int16]]] = []
    for segment in _segments(packets):
        # Anchored by the least delayed packet: the others arrived late, not early.
        anchor = min(at - ticks / RATE for at, ticks, _ in segment)
        out += [(anchor + ticks / RATE, decode(p.payload)) for _, ticks, p in segment]
    return out


def _segments(packets: Sequence[Packet]) -> list[list[tuple[float, int, Packet]]]:
    """Runs of one stream whose RTP clock keeps to the wall clock, each packet with
    its timestamp unwrapped (``ticks``)."""
    segments: list[list[tuple[float, int, Packet]]] = []
    current: dict[int, list[tuple[float, int, Packet]]] = {}
    for packet in packets:
        run = current.get(packet.ssrc)
        if run is not None:
            _, last_ticks, last = run[-1]
            ticks = last_ticks + _signed(packet.timestamp - last.timestamp)
            offset = packet.at - ticks / RATE
            if abs(offset - min(at - t / RATE for at, t, _ in run[-50:])) <= RESYNC_S:
                run.append((packet.at, ticks, packet))
                continue
        run = [(packet.at, packet.timestamp, packet)]
        current[packet.ssrc] = run
        segments.append(run)
    return segments


def _signed(delta: int) -> int:
    """A difference of 32-bit RTP timestamps, across a wrap."""
    delta %= _WRAP
    return delta - _WRAP if delta >= _WRAP // 2 else delta
