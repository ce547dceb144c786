"""Synthetic captures of the phones' link: PCMU RTP packets in a pcap file."""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from warm_transfer.realstack.tones import RATE, mulaw


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


def tone(hz: float, first_sample: int, count: int = 160, level: float = 8000.0) -> bytes:
    """``count`` mu-law samples of a sine at ``hz``, from sample ``first_sample`` on."""
    return bytes(
        mulaw(round(level * math.sin(2 * math.pi * hz * (first_sample + n) / RATE)))
        for n in range(count)
    )


def write_pcap(path: Path, packets: Sequence[Sent]) -> Path:
    """Writes ``packets`` as an Ethernet/IPv4/UDP capture (microsecond pcap)."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for p in packets:
        rtp = struct.pack(">BBHII", 0x80, p.payload_type, p.seq & 0xFFFF, p.timestamp, p.ssrc)
        udp = struct.pack(">HHHH", 40000, p.port, 8 + len(rtp) + len(p.payload), 0)
        udp += rtp + p.payload
        ip = struct.pack(
            ">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, bytes(4), bytes(4)
        )
        frame = bytes(12) + b"\x08\x00" + ip + udp
        sec = math.floor(p.at)
        usec = round((p.at - sec) * 1e6)
        out.append(struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame)
    path.write_bytes(b"".join(out))
    return path


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
            at + i * 0.02,
            port,
            tone(hz, first_sample + 160 * i),
            timestamp=(ts + 160 * i) % (1 << 32),
            ssrc=ssrc,
            seq=i,
        )
        for i in range(round(seconds * 50))
    ]
