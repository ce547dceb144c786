"""The offline TTS and the RTP analysis, without a LiveKit server."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from tests.rtp_helpers import pcmu_packets
from warm_transfer.agents.espeak import SAMPLE_RATE, EspeakTTS, espeak_available, wav_pcm
from warm_transfer.agents.private_voice import only
from warm_transfer.realstack.audio import frames, heard
from warm_transfer.realstack.pcap import write_pcap

needs_espeak = pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed")


def test_wav_pcm_reads_a_streamed_header() -> None:
    fmt = struct.pack("<HHIIHH", 1, 1, SAMPLE_RATE, SAMPLE_RATE * 2, 2, 16)
    body = b"WAVEfmt " + struct.pack("<I", 16) + fmt + b"data" + b"\xff\xff\xff\x7f" + b"\1\0\2"
    assert wav_pcm(b"RIFF\xff\xff\xff\x7f" + body) == b"\1\0"
    with pytest.raises(ValueError):
        wav_pcm(b"not a wav at all")


@needs_espeak
async def test_espeak_tts_speaks_offline() -> None:
    seconds = 0.0
    async with EspeakTTS().synthesize("Will you take the call?") as stream:
        async for audio in stream:
            seconds += audio.frame.samples_per_channel / audio.frame.sample_rate
    assert 0.5 < seconds < 5


def test_only_the_listener_may_subscribe() -> None:
    [permission] = only("human-1")
    assert permission.participant_identity == "human-1" and permission.allow_all


def test_goertzel_tells_a_phone_tone_from_another(tmp_path: Path) -> None:
    pcap = write_pcap(tmp_path / "rtp.pcap", pcmu_packets(16000, 1000.0, 10, 1600))
    assert heard(pcap, 16001) == []
    got = frames(heard(pcap, 16000))
    assert len(got) == 10 and got[0].at == 1000.0
    assert all(f.rms > 3000 and f.tone_share(1600) > 0.9 for f in got)
    assert all(f.tone_share(400) < 0.05 for f in got)
