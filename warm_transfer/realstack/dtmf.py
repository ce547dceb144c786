"""A phone's key presses as RFC 2833 (RFC 4733) telephone events, in a pcap sipp plays.

sipp ships one pcap per key, but every copy of a file carries the same RTP sequence
numbers and event timestamp: livekit-sip takes a second play of it for a repeat of
the first event and drops it. This writes all of a phone's presses into one capture,
one event each with its own timestamp and continuing sequence numbers, spaced as the
presses are; sipp replays it with that timing from the first press on.

`key_presses` reads them back out of what tcpdump captured on the phones' link: when
each event's first packet left a phone's media port, so a key press can be timed
where it happens.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from warm_transfer.realstack.pcap import udp_frame, udp_packets, write_pcap

PAYLOAD_TYPE: Final = 101  # telephone-event, as LiveKit offers it
_KEYS: Final = {**{str(d): d for d in range(10)}, "*": 10, "#": 11}
_EVENT_KEYS: Final = {code: key for key, code in _KEYS.items()}
_PACKET_MS: Final = 20
_EVENT_PACKETS: Final = 8  # 160 ms of key
_SSRC: Final = 0x5EED2833


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
            sent_ms = at_ms - start + _PACKET_MS * i
            records.append((sent_ms / 1000, udp_frame(header + body)))
        seq += _EVENT_PACKETS
    return write_pcap(path, records)


@dataclass(frozen=True)
class KeyPress:
    """One telephone event a phone sent.

    Attributes:
        at: wall clock (epoch s) its first packet was captured at.
        key: the key (``0``-``9``, ``*``, ``#``; ``A``-``D`` for events 12-15).
    """

    at: float
    key: str


def key_presses(pcap: Path, src_port: int) -> list[KeyPress]:
    """The telephone events sent from ``src_port`` (a phone's media port), in order.

    An event is its RTP timestamp (RFC 4733: every packet of one event, its repeated
    end packets included, carries the event's start timestamp), per SSRC.
    """
    first: dict[tuple[int, int], KeyPress] = {}
    for packet in udp_packets(pcap):
        rtp = packet.payload
        if packet.src_port != src_port or len(rtp) < 16:
            continue
        if rtp[0] >> 6 != 2 or rtp[1] & 0x7F != PAYLOAD_TYPE:
            continue
        timestamp, ssrc = struct.unpack(">II", rtp[4:12])
        start = 12 + 4 * (rtp[0] & 0x0F)
        if len(rtp) < start + 4:
            continue
        code = rtp[start]
        key = _EVENT_KEYS.get(code, "ABCD"[code - 12] if 12 <= code <= 15 else "?")
        first.setdefault((ssrc, timestamp), KeyPress(packet.at, key))
    return sorted(first.values(), key=lambda press: press.at)


def press_before(presses: Sequence[KeyPress], key: str, before: float) -> KeyPress | None:
    """The last press of ``key`` whose first packet went before ``before``: the press a
    decision taken at ``before`` was the answer to."""
    return next((p for p in reversed(presses) if p.key == key and p.at < before), None)
