"""UDP in classic pcap files: read what tcpdump captured, write what sipp plays.

Only what the real stack needs: Ethernet frames of IPv4 UDP (tcpdump on the phones'
veth, sipp's ``play_pcap_audio``), microsecond or nanosecond timestamps, either byte
order. `udp_packets` is the reader both the audio (`warm_transfer.realstack.audio`)
and the key presses (`warm_transfer.realstack.dtmf`) are read with.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

_ETHERNET: Final = 1
_HEADER: Final = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, _ETHERNET)


@dataclass(frozen=True)
class UdpPacket:
    """One captured UDP datagram.

    Attributes:
        at: wall clock (epoch s) it was captured at.
        src_port: its UDP source port.
        dst_port: its UDP destination port.
        payload: the UDP payload (an RTP packet, here).
    """

    at: float
    src_port: int
    dst_port: int
    payload: bytes


def udp_packets(pcap: Path) -> list[UdpPacket]:
    """Every IPv4 UDP datagram of an Ethernet capture (none if the file is missing).

    Raises:
        ValueError: when the capture is not of Ethernet frames.
    """
    data = pcap.read_bytes() if pcap.exists() else b""
    if len(data) < 24:
        return []
    endian = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    nano = data[:4] in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    if struct.unpack(endian + "I", data[20:24])[0] != _ETHERNET:
        raise ValueError("expected an Ethernet capture")
    out: list[UdpPacket] = []
    offset = 24
    while offset + 16 <= len(data):
        sec, frac, length, _ = struct.unpack(endian + "IIII", data[offset : offset + 16])
        frame = data[offset + 16 : offset + 16 + length]
        offset += 16 + length
        packet = _udp(sec + frac / (1e9 if nano else 1e6), frame)
        if packet is not None:
            out.append(packet)
    return out


def _udp(at: float, frame: bytes) -> UdpPacket | None:
    if len(frame) < 14 + 20 + 8 or frame[12:14] != b"\x08\x00":
        return None
    ip = frame[14:]
    if ip[9] != 17:  # UDP
        return None
    udp = ip[(ip[0] & 0x0F) * 4 :]
    src, dst = struct.unpack(">HH", udp[:4])
    return UdpPacket(at, src, dst, udp[8:])


def udp_frame(payload: bytes, src_port: int = 6000, dst_port: int = 6000) -> bytes:
    """``payload`` as an Ethernet frame of an IPv4 UDP datagram.

    sipp replays the UDP payload to the call's media address: the headers only have to
    parse; addresses and checksums are not used.
    """
    udp = struct.pack("!HHHH", src_port, dst_port, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, bytes(4), bytes(4))
    return bytes(6) + bytes(6) + b"\x08\x00" + ip + udp


def write_pcap(path: Path, records: Iterable[tuple[float, bytes]]) -> Path:
    """Writes ``(seconds, Ethernet frame)`` records as a microsecond pcap."""
    out = [_HEADER]
    for at, frame in records:
        sec, usec = divmod(round(at * 1_000_000), 1_000_000)
        out.append(struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame)
    path.write_bytes(b"".join(out))
    return path
