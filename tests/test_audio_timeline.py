"""The real demo's recordings and picture, on synthetic captures (no LiveKit needed):
RTP placed on the wall clock with gaps as silence, WAVs, the per-frame "who was heard",
bands, marks, and the picture drawn from a capture; and ``--audio`` refused without
real LiveKit."""

from __future__ import annotations

import json
import random
import wave
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
import pytest

from tests.rtp_pcap import Sent, stream, tone, write_pcap
from warm_transfer import demo
from warm_transfer.realstack.audio import Frame, decode, rtp_packets
from warm_transfer.realstack.recorder import AudioRecorder
from warm_transfer.realstack.recording import place
from warm_transfer.realstack.timeline import (
    NO_AUDIO,
    OTHER,
    SILENCE,
    Band,
    Mark,
    bands,
    classify,
    first_heard,
    lanes,
    level_db,
    notes,
)
from warm_transfer.realstack.tones import RATE

PORT = 16000
TONES = {"caller": 400.0, "human": 1600.0}


def _frame(hz: float | None, level: float, seed: int = 0) -> Frame:
    n = np.arange(RATE // 50)
    if hz is None:
        samples = level * np.random.default_rng(seed).standard_normal(len(n))
    else:
        samples = level * np.sin(2 * np.pi * hz * n / RATE)
    return Frame(0.0, float(np.sqrt(np.mean(samples**2))), samples)


def _packets(tmp_path: Path, sent: list[Sent]) -> list[Any]:
    return list(rtp_packets(write_pcap(tmp_path / "rtp.pcap", sent), PORT))


def _tone_at(samples: np.ndarray[Any, Any], hz: float) -> float:
    frame = samples[: RATE // 50].astype(np.float64)
    return Frame(0.0, float(np.sqrt(np.mean(frame**2))), frame).tone_share(hz)


def test_a_gap_in_the_rtp_is_silence_and_the_recording_is_as_long_as_the_wall_clock(
    tmp_path: Path,
) -> None:
    # 1 s of tone, 1 s with no packets (the timestamps jump by that second), 1 s more.
    sent = stream(PORT, 1600, 1000.0, 1.0) + stream(PORT, 1600, 1002.0, 1.0, first_sample=16000)
    rec = place(_packets(tmp_path, sent), start=999.5, end=1003.5)
    assert len(rec.samples) == 4 * RATE and rec.seconds == 4.0
    s = rec.samples
    assert not s[: RATE // 2].any() and not rec.received[: RATE // 2].any()
    assert rec.received[RATE // 2 : 3 * RATE // 2].all()
    assert not s[3 * RATE // 2 : 5 * RATE // 2].any()
    assert rec.received[5 * RATE // 2 : 7 * RATE // 2].all() and not s[7 * RATE // 2 :].any()
    assert _tone_at(s[RATE // 2 :], 1600) > 0.9 and _tone_at(s[5 * RATE // 2 :], 1600) > 0.9
    # The second second starts exactly where the wall clock says: 2.5 s in.
    expected = decode(tone(1600, 16000))
    assert np.array_equal(s[5 * RATE // 2 : 5 * RATE // 2 + 160], expected)


def test_a_stream_that_pauses_without_a_timestamp_jump_is_placed_anew(tmp_path: Path) -> None:
    # The sender's clock goes on from where it stopped, the wall clock 0.6 s later.
    sent = stream(PORT, 400, 10.0, 0.4) + stream(PORT, 400, 11.0, 0.4, timestamp=3200)
    rec = place(_packets(tmp_path, sent), start=10.0, end=11.4)
    assert len(rec.samples) == round(1.4 * RATE)
    assert rec.received[: round(0.4 * RATE)].all()
    assert not rec.received[round(0.4 * RATE) : RATE].any()
    assert not rec.samples[round(0.4 * RATE) : RATE].any()
    assert rec.received[RATE:].all()


def test_jitter_does_not_stretch_the_recording(tmp_path: Path) -> None:
    # Each packet up to 80 ms late, in order: the RTP clock places it, not its arrival.
    rng = random.Random(7)
    sent = [
        Sent(p.at + rng.uniform(0, 0.08), p.port, p.payload, p.timestamp, p.ssrc, p.seq)
        for p in stream(PORT, 400, 50.0, 2.0, timestamp=(1 << 32) - 800)  # wraps, too
    ]
    sent[0] = Sent(50.0, PORT, sent[0].payload, sent[0].timestamp)  # one on time
    sent.sort(key=lambda p: p.at)
    rec = place(_packets(tmp_path, sent), start=50.0, end=52.0)
    ideal = np.concatenate([decode(p.payload) for p in stream(PORT, 400, 50.0, 2.0)])
    assert np.array_equal(rec.samples, ideal) and rec.received.all()


def test_dtmf_and_other_ports_are_not_audio(tmp_path: Path) -> None:
    sent = [
        Sent(1.0, PORT, tone(400, 0)),
        Sent(1.02, PORT + 1, tone(400, 160)),
        Sent(1.04, PORT, bytes(4), payload_type=101),
    ]
    assert [p.at for p in _packets(tmp_path, sent)] == [1.0]


def test_the_wav_holds_the_recording_at_8_khz(tmp_path: Path) -> None:
    sent = stream(PORT, 1600, 5.0, 0.5)
    rec = place(_packets(tmp_path, sent), start=4.9, end=6.0)
    path = rec.write_wav(tmp_path / "out.wav")
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, RATE)
        assert wav.getnframes() == round(1.1 * RATE)
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    assert np.array_equal(data, rec.samples)


def test_each_frame_is_a_phone_s_tone_other_audio_silence_or_nothing() -> None:
    assert classify(_frame(400, 7000), TONES) == "caller"
    assert classify(_frame(1600, 7000), TONES) == "human"
    assert classify(_frame(None, 2000), TONES) == OTHER  # speech, music: no one tone
    assert classify(_frame(1000, 7000), TONES) == OTHER  # a tone of nobody's
    assert classify(_frame(500, 1200), TONES | {"x": 500}) == OTHER  # a note of the music
    assert classify(_frame(500, 7000), TONES | {"x": 500}) == "x"  # the phone's own level
    assert classify(_frame(None, 4), TONES) == SILENCE  # livekit-sip's silence
    assert classify(None, TONES) == NO_AUDIO
    mixed = Frame(0.0, 0.0, _frame(1600, 3000).samples + _frame(None, 3000).samples)
    mixed = Frame(0.0, float(np.sqrt(np.mean(mixed.samples**2))), mixed.samples)
    assert classify(mixed, TONES) == OTHER  # music over the human: not the human alone
    assert level_db(None) != level_db(None)  # NaN: a gap in the trace
    assert level_db(_frame(1600, 32767)) == pytest.approx(0.0, abs=0.1)


def test_frames_of_a_recording_are_none_where_nothing_came(tmp_path: Path) -> None:
    rec = place(_packets(tmp_path, stream(PORT, 1600, 1.0, 0.1)), start=0.9, end=1.2)
    kinds = [classify(f, TONES) for f in rec.frames()]
    assert kinds == [NO_AUDIO] * 5 + ["human"] * 5 + [NO_AUDIO] * 5


def _rounded(found: list[Band]) -> list[tuple[float, float, str]]:
    return [(round(b.start_s, 3), round(b.end_s, 3), b.kind) for b in found]


def test_bands_join_runs_and_swallow_flicker() -> None:
    kinds = ["silence"] * 2 + ["other"] * 20 + ["silence"] + ["other"] * 10 + ["human"] * 30
    assert _rounded(bands(kinds)) == [(0.0, 0.66, "other"), (0.66, 1.26, "human")]
    assert _rounded(bands(["caller"] * 3, min_s=0.1)) == [(0.0, 0.06, "caller")]
    assert _rounded(bands(["caller"] * 3 + ["human"] * 2, min_s=0.0)) == [
        (0.0, 0.06, "caller"),
        (0.06, 0.1, "human"),
    ]
    assert bands([]) == []
    assert first_heard(kinds, "human", after_s=0.3) == pytest.approx(0.66)
    assert first_heard(kinds, "caller", after_s=0.0) is None


def test_loud_stretches_are_named_by_what_was_going_on() -> None:
    found = [
        Band(0.0, 1.0, OTHER),
        Band(1.0, 1.5, SILENCE),
        Band(1.5, 4.0, OTHER),
        Band(4.0, 4.5, OTHER),  # too short to name
        Band(4.5, 9.0, "human"),
    ]
    marks = [Mark(0.2, "greeting", "agent"), Mark(2.0, "hold_started", "agent")]
    context = {"greeting": "voice agent", "hold_started": "hold music"}
    assert notes(found, marks, context) == [(0.0, "voice agent"), (1.5, "hold music")]
    assert notes(found, [], context) == []


def test_close_labels_go_to_separate_lanes() -> None:
    marks = [
        Mark(1.0, "holding", "stage"),
        Mark(1.1, "hold_started", "agent"),
        Mark(5.0, "briefing", "stage"),
        Mark(1.3, "x", "stage"),
    ]
    assert lanes(sorted(marks, key=lambda m: m.at_s), char_s=0.1) == [0, 1, 2, 0]


@pytest.mark.timeout(60)
def test_the_recorder_writes_both_wavs_and_the_picture_from_a_capture(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    caller = SimpleNamespace(tone_hz=400, media_port=16000)
    human = SimpleNamespace(tone_hz=1600, media_port=16010)
    real = SimpleNamespace(phones={"+15105550123": caller, "+15105550100": human})
    recorder = AudioRecorder(cast(Any, real), tmp_path)
    # The caller hears music (noise) until 3 s, then the human's tone; the human's phone
    # gets nothing until it answers at 2 s, then the caller's tone.
    music = [
        Sent(
            100.0 + i * 0.02, 16000, bytes(np.random.default_rng(i).integers(0, 255, 160)), 160 * i
        )
        for i in range(150)
    ]
    write_pcap(
        recorder.pcap,
        music
        + stream(16000, 1600, 103.0, 2.0, first_sample=24000)
        + stream(16010, 400, 102.0, 3.0, ssrc=2),
    )
    recorder.start, recorder.end = 99.5, 105.5
    recorder.stages = [(100.5, "holding"), (101.0, "dialing"), (102.9, "bridging"), (103.2, "done")]
    files = recorder.write("+15105550100")
    for wav_path in (files.caller_wav, files.human_wav):
        with wave.open(str(wav_path)) as wav:
            assert wav.getnframes() == 6 * RATE
    assert files.picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads(files.data.read_text())
    assert [m["label"] for m in data["marks"]] == ["holding", "dialing", "bridging", "done"]
    assert data["marks"][2]["at_s"] == pytest.approx(3.4)
    assert files.human_heard_at_s == pytest.approx(3.5, abs=0.03)
    caller_kinds = [b["kind"] for b in data["bands"]["caller"]]
    assert caller_kinds == [NO_AUDIO, OTHER, "human", NO_AUDIO], data["bands"]["caller"]
    assert [b["kind"] for b in data["bands"]["human"]] == [NO_AUDIO, "caller", NO_AUDIO]


async def test_audio_is_refused_on_the_stand_in(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        await demo.main(["--audio"])
    assert stop.value.code == 2
    assert "--audio needs --livekit real" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        await demo.main(["--livekit", "real", "--audio", "--voice-agent", "webrtc"])
    assert "--audio needs the voice agent worker" in capsys.readouterr().err
