"""Synthetic RTP for the audio analysis tests: what tcpdump would have captured."""

from __future__ import annotations

import math
import struct

from warm_transfer.realstack.pcap import udp_frame
from warm_transfer.realstack.tones import RATE, mulaw

PACKET_S = 0.02  # 160 samples of PCMU


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
    out = []
    for seq in range(count):
        payload = bytes(
            mulaw(round(level * math.sin(2 * math.pi * hz * (seq * 160 + n) / RATE)))
            if hz is not None
            else mulaw(3 if n % 2 else -3)
            for n in range(160)
        )
        rtp = struct.pack(">BBHII", 0x80, 0, seq, seq * 160, 1) + payload
        out.append((start + seq * PACKET_S, udp_frame(rtp, src_port, dst_port)))
    return out
