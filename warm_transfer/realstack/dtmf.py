"""A phone's key presses as RFC 2833 (RFC 4733) telephone events, in a pcap sipp plays.

sipp ships one pcap per key, but every copy of a file carries the same RTP sequence
numbers and event timestamp: livekit-sip takes a second play of it for a repeat of
the first event and drops it. This writes all of a phone's presses into one capture,
one event each with its own timestamp and continuing sequence numbers, spaced as the
presses are; sipp replays it with that timing from the first press on.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Final

PAYLOAD_TYPE: Final = 101  # telephone-event, as LiveKit offers it
_KEYS: Final = {**{str(d): d for d in range(10)}, "*": 10, "#": 11}
_PACKET_MS: Final = 20
_EVENT_PACKETS: Final = 8  # 160 ms of key
_SSRC: Final = 0x5EED2833


def _udp_frame(payload: bytes) -> bytes:
    # sipp replays the UDP payload to the call's media address: the headers only have
    # to parse (Ethernet, IPv4, UDP); addresses and checksums are not used.
    udp = struct.pack("!HHHH", 6000, 6000, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, bytes(4), bytes(4))
    return bytes(6) + bytes(6) + b"\x08\x00" + ip + udp


def write_dtmf_pcap(path: Path, presses: Sequence[tuple[int, str]]) -> Path:
    """Writes ``presses`` (ms, key), times relative to the first, as one capture."""
    start = presses[0][0] if presses else 0
    records = []
    seq = 1000
    for at_ms, key in presses:
        event = _KEYS[key]
        timestamp = 8 * (at_ms - start) + 8000  # 8 kHz clock, one per event
        # The end packet (E bit) goes three times, as RFC 4733 asks, on one sequence number.
        for i in [*range(_EVENT_PACKETS), _EVENT_PACKETS - 1, _EVENT_PACKETS - 1]:
            end = i == _EVENT_PACKETS - 1
            marker = 0x80 if i == 0 else 0
            header = struct.pack("!BBHII", 0x80, marker | PAYLOAD_TYPE, seq + i, timestamp, _SSRC)
            body = struct.pack("!BBH", event, (0x80 if end else 0) | 10, 160 * (i + 1))
            records.append((at_ms - start + _PACKET_MS * i, _udp_frame(header + body)))
        seq += _EVENT_PACKETS
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for sent_ms, frame in records:
        sec, ms = divmod(sent_ms, 1000)
        out.append(struct.pack("<IIII", sec, ms * 1000, len(frame), len(frame)) + frame)
    path.write_bytes(b"".join(out))
    return path
