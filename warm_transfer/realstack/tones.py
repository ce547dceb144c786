"""What each phone says: a tone of its own, as a G.711 mu-law WAV sipp can stream.

A phone that sends no RTP is hung up by livekit-sip after its media timeout (30 s),
so every phone that answers streams audio for as long as the call lasts. Each has
its own frequency, so a recording can tell whose audio it hears.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import Final

RATE: Final = 8000
_BIAS: Final = 0x84
_CLIP: Final = 32635


def mulaw(sample: int) -> int:
    """One 16-bit linear sample as a G.711 mu-law byte."""
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), _CLIP) + _BIAS
    exponent = 7
    mask = 0x4000
    while exponent > 0 and not magnitude & mask:
        exponent -= 1
        mask >>= 1
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def write_tone_wav(
    path: Path, frequency_hz: float, seconds: float = 2.0, level: float = 0.3
) -> Path:
    """Writes ``seconds`` of a sine at ``frequency_hz`` as an 8 kHz mono mu-law WAV.

    The length holds a whole number of periods, so a looped stream has no click.
    """
    periods = max(1, round(seconds * frequency_hz))
    count = round(periods * RATE / frequency_hz)
    data = bytes(
        mulaw(round(level * 32767 * math.sin(2 * math.pi * frequency_hz * n / RATE)))
        for n in range(count)
    )
    fmt = struct.pack("<HHIIHHH", 7, 1, RATE, RATE, 1, 8, 0)  # WAVE_FORMAT_MULAW
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"fact" + struct.pack("<II", 4, count)
    body += b"data" + struct.pack("<I", count) + data + (b"\0" if count % 2 else b"")
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path
