"""The handoff gap on audio, from a synthetic capture of the phones' link.

The capture is what tcpdump records on a real bench transfer: the human's phone sends
its key presses (the very pcap sipp plays, `write_dtmf_pcap`) from its media port, and
livekit-sip sends each phone PCMU: silence, then the other side's tone.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.real import HUMAN
from bench.real_audio import RUN, audio_gap
from tests.rtp_pcap import PACKET_S, pcmu_packets
from warm_transfer.realstack.audio import first_tone, frames, heard
from warm_transfer.realstack.dtmf import KeyPress, key_presses, press_before, write_dtmf_pcap
from warm_transfer.realstack.netns import Network
from warm_transfer.realstack.pcap import udp_frame, udp_packets, write_pcap
from warm_transfer.realstack.phones import CALLER_NUMBER, Phone, open_phones

T0 = 1_700_000_000.0  # the capture starts
PRESS = T0 + 3.0  # the human presses 1 (then 1 again at +2 s, and 2 at +4 s)
SIGNAL = PRESS + 0.012  # the workflow's human_accepted
SIP_PORT = 20178  # livekit-sip's media port for the human's leg


def _presses(tmp_path: Path, human: Phone, at: float) -> list[tuple[float, bytes]]:
    """The human's key presses as the phones' link carries them: from its media port."""
    keys = write_dtmf_pcap(tmp_path / "keys.pcap", [(3000, "1"), (5000, "1"), (7000, "2")])
    return [
        (at + p.at, udp_frame(p.payload, human.media_port, SIP_PORT)) for p in udp_packets(keys)
    ]


def _stream(port: int, parts: list[tuple[float, float | None]]) -> list[tuple[float, bytes]]:
    """Packets to ``port`` with no hole: each part (start, tone or silence) runs until
    the next, the last one for a second."""
    ends = [start for start, _ in parts[1:]] + [parts[-1][0] + 1.0]
    out = []
    for (start, hz), end in zip(parts, ends, strict=True):
        out += pcmu_packets(port, start, round((end - start) / PACKET_S), hz)
    return out


def _call(tmp_path: Path, human_hears_at: float | None = PRESS + 0.18) -> tuple[Path, Phone, Phone]:
    """A transfer's capture: the press at `PRESS`; the human hears the caller from
    ``human_hears_at`` (after a one-frame blip of it), the caller the human from +0.24 s."""
    phones = open_phones(Network(0), tmp_path)
    caller, human = phones[CALLER_NUMBER], phones[HUMAN]
    # Right after the answer, before any press: a moment of the caller (not the gap);
    # 60 ms after the press, a single frame of the caller's tone: too short to count.
    parts: list[tuple[float, float | None]] = [
        (T0, None),
        (T0 + 1, caller.tone_hz),
        (T0 + 1.2, None),
    ]
    parts += [(PRESS + 0.06, caller.tone_hz), (PRESS + 0.08, None)]
    if human_hears_at is not None:
        parts.append((human_hears_at, caller.tone_hz))
    to_human = _stream(human.media_port, parts)
    to_caller = _stream(caller.media_port, [(T0, None), (PRESS + 0.24, human.tone_hz)])
    # What the phones send livekit-sip: their tones, and the human's keys.
    sent = pcmu_packets(SIP_PORT, T0, 200, human.tone_hz, src_port=human.media_port)
    sent += _presses(tmp_path, human, PRESS)
    records = sorted(to_human + to_caller + sent, key=lambda record: record[0])
    return write_pcap(tmp_path / "call.pcap", records), caller, human


def test_each_key_press_is_read_once_from_its_phone_s_media_port(tmp_path: Path) -> None:
    pcap, _, human = _call(tmp_path)
    presses = key_presses(pcap, human.media_port)
    # One event per press, whatever its packets (eight, and the end sent three times).
    assert [p.key for p in presses] == ["1", "1", "2"]
    assert [p.at - PRESS for p in presses] == pytest.approx([0.0, 2.0, 4.0], abs=1e-6)
    # Nobody else pressed anything: not the caller, not livekit-sip.
    assert key_presses(pcap, SIP_PORT) == []
    assert key_presses(tmp_path / "missing.pcap", human.media_port) == []


def test_the_accept_is_the_last_press_of_1_before_the_signal() -> None:
    presses = [KeyPress(1.0, "1"), KeyPress(2.0, "2"), KeyPress(3.0, "1"), KeyPress(5.0, "1")]
    assert press_before(presses, "1", 4.0) == KeyPress(3.0, "1")
    assert press_before(presses, "2", 4.0) == KeyPress(2.0, "2")
    assert press_before(presses, "1", 1.0) is None


def test_a_tone_counts_from_the_first_frame_of_a_run(tmp_path: Path) -> None:
    pcap, caller, human = _call(tmp_path)
    to_human = frames(heard(pcap, human.media_port))
    blip = first_tone(to_human, caller.tone_hz, PRESS, 300, run=1)
    heard_at = first_tone(to_human, caller.tone_hz, PRESS, 300, run=RUN)
    assert blip is not None and blip.at == pytest.approx(PRESS + 0.06, abs=1e-6)
    assert heard_at is not None and heard_at.at == pytest.approx(PRESS + 0.18, abs=1e-6)
    # Not its own tone, and not from the first moment of the call on.
    assert first_tone(to_human, human.tone_hz, T0, 300, run=RUN) is None
    early = first_tone(to_human, caller.tone_hz, T0, 300, run=RUN)
    assert early is not None and early.at == pytest.approx(T0 + 1.0, abs=1e-6)


def test_the_gaps_run_from_the_keypress_both_ways(tmp_path: Path) -> None:
    pcap, caller, human = _call(tmp_path)
    gap = audio_gap(pcap, caller, human, SIGNAL, by_key=True)
    assert gap is not None
    assert gap.since == pytest.approx(PRESS, abs=1e-6)
    assert gap.press_to_signal_s == pytest.approx(0.012, abs=1e-6)
    assert gap.human_hears_caller_s == pytest.approx(0.18, abs=1e-6)
    assert gap.caller_hears_human_s == pytest.approx(0.24, abs=1e-6)


def test_the_direct_script_s_gaps_run_from_its_own_accept(tmp_path: Path) -> None:
    pcap, caller, human = _call(tmp_path)
    gap = audio_gap(pcap, caller, human, PRESS + 0.1, by_key=False)
    assert gap is not None and gap.press_to_signal_s is None
    assert gap.since == pytest.approx(PRESS + 0.1, abs=1e-6)
    assert gap.human_hears_caller_s == pytest.approx(0.08, abs=1e-6)
    assert gap.caller_hears_human_s == pytest.approx(0.14, abs=1e-6)


def test_no_gap_without_the_press_or_without_the_other_side(tmp_path: Path) -> None:
    pcap, caller, human = _call(tmp_path)
    # An accept before any press of 1: no keypress led to it.
    assert audio_gap(pcap, caller, human, PRESS - 0.5, by_key=True) is None
    # The human never hears the caller (the caller still hears the human).
    deaf, caller, human = _call(tmp_path, human_hears_at=None)
    assert audio_gap(deaf, caller, human, SIGNAL, by_key=True) is None
