"""What a phone heard: the RTP livekit-sip sent it, captured on the phones' link.

`Capture` runs ``tcpdump`` inside the phones' namespace on their end of the SIP/RTP
link, so every RTP packet livekit-sip sends to a phone is on record with the wall
clock it arrived at. `heard` decodes the G.711 mu-law (payload type 0) sent to one
phone's media port, and `frames` measures it per 20 ms frame: its level, and how much
of its energy is at a frequency (Goertzel), so a phone's own tone (`Phone.tone_hz`) is
told apart from speech and from silence; `first_tone` finds when a phone first heard
another's tone (the handoff gap on audio, `bench.real_audio`).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from warm_transfer.realstack.netns import Network
from warm_transfer.realstack.pcap import udp_packets
from warm_transfer.realstack.servers import die_with_parent
from warm_transfer.realstack.tones import RATE

FRAME: Final = RATE // 50  # 20 ms


def _mulaw_table() -> npt.NDArray[np.int16]:
    table = np.zeros(256, dtype=np.int16)
    for byte in range(256):
        u = ~byte & 0xFF
        magnitude = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
        table[byte] = (0x84 - magnitude) if u & 0x80 else (magnitude - 0x84)
    return table


_MULAW: Final = _mulaw_table()


@dataclass(frozen=True)
class Frame:
    """20 ms of what a phone heard.

    Attributes:
        at: wall clock (epoch s) of the packet that carried it.
        rms: its level, in 16-bit sample units.
        samples: the decoded samples.
    """

    at: float
    rms: float
    samples: npt.NDArray[np.float64]

    def tone_share(self, hz: float) -> float:
        """The share of the frame's energy at ``hz`` (Goertzel, 0..1)."""
        energy = float(np.sum(self.samples**2))
        if energy <= 0:
            return 0.0
        n = np.arange(len(self.samples))
        phase = np.exp(-2j * np.pi * hz * n / RATE)
        power = abs(complex(np.dot(self.samples, phase))) ** 2
        return min(1.0, 2 * power / (len(self.samples) * energy))


@dataclass(frozen=True)
class Packet:
    """One PCMU RTP packet a phone received.

    Attributes:
        at: wall clock (epoch s) it arrived at.
        ssrc: the stream it belongs to.
        timestamp: its RTP timestamp (8 kHz sample clock of the sender).
        payload: its mu-law audio.
    """

    at: float
    ssrc: int
    timestamp: int
    payload: bytes


def heard(pcap: Path, dst_port: int) -> list[tuple[float, bytes]]:
    """``(wall clock, mu-law payload)`` of each PCMU RTP packet sent to ``dst_port``."""
    return [(p.at, p.payload) for p in rtp_packets(pcap, dst_port)]


def rtp_packets(pcap: Path, dst_port: int) -> list[Packet]:
    """Each PCMU RTP packet sent to ``dst_port``, in the order it arrived."""
    out: list[Packet] = []
    for packet in udp_packets(pcap):
        if packet.dst_port == dst_port and (rtp := _pcmu(packet.payload)) is not None:
            out.append(Packet(packet.at, *rtp))
    return out


def _pcmu(rtp: bytes) -> tuple[int, int, bytes] | None:
    """``(ssrc, timestamp, payload)`` of a PCMU RTP packet (not DTMF events)."""
    if len(rtp) < 12 or rtp[0] >> 6 != 2 or rtp[1] & 0x7F != 0:  # RTP v2, PCMU only
        return None
    timestamp, ssrc = struct.unpack(">II", rtp[4:12])
    start = 12 + 4 * (rtp[0] & 0x0F)
    if rtp[0] & 0x10:
        start += 4 + 4 * struct.unpack(">H", rtp[start + 2 : start + 4])[0]
    return ssrc, timestamp, rtp[start:]


def decode(payload: bytes) -> npt.NDArray[np.int16]:
    """G.711 mu-law bytes as 16-bit linear samples."""
    return _MULAW[np.frombuffer(payload, dtype=np.uint8)]


def frames(packets: list[tuple[float, bytes]]) -> list[Frame]:
    """Each packet's audio as 20 ms frames."""
    out: list[Frame] = []
    for at, payload in packets:
        samples = decode(payload).astype(np.float64)
        for start in range(0, len(samples) - FRAME + 1, FRAME):
            chunk = samples[start : start + FRAME]
            out.append(Frame(at, float(np.sqrt(np.mean(chunk**2))), chunk))
    return out


def between(heard_frames: list[Frame], start: float, end: float) -> list[Frame]:
    """The frames that arrived in ``[start, end)``."""
    return [f for f in heard_frames if start <= f.at < end]


def first_tone(
    heard_frames: list[Frame], hz: float, after: float, level: float, run: int = 1
) -> Frame | None:
    """The first frame from ``after`` on that a phone's tone dominates, ``run`` in a row.

    A frame is the tone when it is above ``level`` (rms) and most of its energy is at
    ``hz``; ``run`` consecutive such frames keep a vowel of speech that happens to sit
    at ``hz`` for 20 ms from counting.
    """
    later = [f for f in heard_frames if f.at >= after]
    hits = [f.rms > level and f.tone_share(hz) > 0.5 for f in later]
    return next((later[i] for i in range(len(later) - run + 1) if all(hits[i : i + run])), None)


class Capture:
    """``tcpdump`` of the UDP on the phones' link, into ``path``, while it runs."""

    def __init__(self, net: Network, path: Path) -> None:
        self.net = net
        self.path = path
        self._proc: asyncio.subprocess.Process | None = None

    @staticmethod
    def available() -> bool:
        """Whether tcpdump is installed."""
        return shutil.which("tcpdump") is not None

    async def start(self) -> None:
        """Starts capturing (packet-buffered, so a stop loses nothing).

        In immediate mode: otherwise libpcap hands packets over in blocks (TPACKET_V3,
        up to a second on a busy host), and the block being filled when tcpdump is
        stopped is lost: the last 0.3-0.9 s of a demo's recordings were missing.
        """
        cmd = ["tcpdump", "-i", self.net.phones_link, "--immediate-mode", "-U"]
        cmd += ["-w", str(self.path), "udp"]
        self._proc = await asyncio.create_subprocess_exec(
            *self.net.in_ns(self.net.phones_ns, cmd),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        await asyncio.sleep(0.5)  # tcpdump opens the interface

    async def stop(self) -> None:
        """Stops tcpdump; the capture is complete on return."""
        if self._proc is None or self._proc.returncode is not None:
            return
        os.killpg(self._proc.pid, signal.SIGTERM)
        await self._proc.wait()


def loud_share(heard_frames: list[Frame], level: float) -> float:
    """The share of frames above ``level`` (rms)."""
    return sum(f.rms > level for f in heard_frames) / max(1, len(heard_frames))


def tone_frames_share(heard_frames: list[Frame], hz: float, level: float) -> float:
    """The share of frames above ``level`` whose energy is mostly at ``hz``."""
    hits = sum(f.rms > level and f.tone_share(hz) > 0.5 for f in heard_frames)
    return hits / max(1, len(heard_frames))


def other_share(heard_frames: list[Frame], hz: float, level: float) -> float:
    """The share of frames carrying more than ``level`` (rms) of anything but ``hz``.

    A phone's tone heard alone leaves only coding noise beside it; hold music or
    speech mixed over the tone is the rest.
    """
    hits: int = sum(f.rms * (1.0 - f.tone_share(hz)) ** 0.5 > level for f in heard_frames)
    return hits / max(1, len(heard_frames))
