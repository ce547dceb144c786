"""Synthetic captures of the phones' link: PCMU RTP packets as tcpdump would record them."""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from warm_transfer.realstack import pcap
from warm_transfer.realstack.tones import RATE, mulaw

PACKET_S = 0.02  # 160 samples of PCMU


@dataclass(frozen=True)
class Sent:
    """One RTP packet on the wire: when it arrived, where to, and what it carried."""

    at: float
    port: int
    payload: bytes
    timestamp: int = 0
    ssrc: int = 1
    seq: int = 0
    payload_type: int = 0
    src_port: int = 40000

    def record(self) -> tuple[float, bytes]:
        """As a pcap record: ``(wall clock, Ethernet frame)``."""
        rtp = struct.pack(
            ">BBHII", 0x80, self.payload_type, self.seq & 0xFFFF, self.timestamp, self.ssrc
        )
        return self.at, pcap.udp_frame(rtp + self.payload, self.src_port, self.port)


def tone(hz: float, first_sample: int, count: int = 160, level: float = 8000.0) -> bytes:
    """``count`` mu-law samples of a sine at ``hz``, from sample ``first_sample`` on."""
    return bytes(
        mulaw(round(level * math.sin(2 * math.pi * hz * (first_sample + n) / RATE)))
        for n in range(count)
    )


def write_pcap(path: Path, packets: Sequence[Sent]) -> Path:
    """Writes ``packets`` as an Ethernet/IPv4/UDP capture (microsecond pcap)."""
    return pcap.write_pcap(path, (p.record() for p in packets))


def stream(
    port: int,
    hz: float,
    at: float,
    seconds: float,
    first_sample: int = 0,
    ssrc: int = 1,
    timestamp: int | None = None,
) -> list[Sent]:
    """``seconds`` of a tone as 20 ms packets, the first arriving at ``at``; the RTP
    timestamps start at ``timestamp`` (default: ``first_sample``)."""
    ts = first_sample if timestamp is None else timestamp
    return [
        Sent(
            at + i * PACKET_S,
            port,
            tone(hz, first_sample + 160 * i),
            timestamp=(ts + 160 * i) % (1 << 32),
            ssrc=ssrc,
            seq=i,
        )
        for i in range(round(seconds * 50))
    ]


def pcmu_packets(
    dst_port: int,
    start: float,
    count: int,
    hz: float | None,
    level: int = 8000,
    src_port: int = 40000,
) -> list[tuple[float, bytes]]:
    """``count`` 20 ms PCMU packets to ``dst_port`` from ``start`` on: a sine at ``hz``,
    or near silence (``hz`` None), as ``(wall clock, Ethernet frame)`` pcap records."""
    quiet = bytes(mulaw(3 if n % 2 else -3) for n in range(160))
    return [
        Sent(
            start + seq * PACKET_S,
            dst_port,
            tone(hz, seq * 160, level=level) if hz is not None else quiet,
            timestamp=seq * 160,
            seq=seq,
            src_port=src_port,
        ).record()
        for seq in range(count)
    ]
