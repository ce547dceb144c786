"""``make demo ARGS="--livekit real --audio"``: the demo leaves what the caller and the
human heard (two WAVs) and a picture of it, and the recordings say what happened.

The demo runs as a user runs it (a subprocess, on the real stack with the voice agent
worker). Its WAVs are then read back with the standard ``wave`` module and measured
here, with Goertzel per 20 ms frame (`Frame.tone_share`), not with the demo's own
classification: before the bridge the caller's phone gets none of the human's tone;
from a second after it, mostly the human's tone; and the human's phone the caller's.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.real_stack import real_stack_or_skip
from warm_transfer.agents.espeak import espeak_available
from warm_transfer.realstack.audio import FRAME, Frame, loud_share, tone_frames_share
from warm_transfer.realstack.tones import RATE
from warm_transfer.stack import ROOT

pytestmark = [pytest.mark.real, pytest.mark.slow]

# rms: a phone's tone arrives at ~7000; LiveKit's hold music has notes near 500 Hz (the
# demo's human) at rms < 1000, which a lower level would count as the human.
TONE = 2000.0


def wav_frames(path: Path) -> list[Frame]:
    """A 16-bit 8 kHz mono WAV as 20 ms frames, ``at`` in seconds from its start."""
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, RATE)
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    out: list[Frame] = []
    for first in range(0, len(samples) - FRAME + 1, FRAME):
        chunk = samples[first : first + FRAME].astype(np.float64)
        out.append(Frame(first / RATE, float(np.sqrt(np.mean(chunk**2))), chunk))
    return out


def window(frames: list[Frame], start: float, end: float) -> list[Frame]:
    """The frames in ``[start, end)`` seconds of the recording."""
    return [f for f in frames if start <= f.at < end]


def heard_until(frames: list[Frame]) -> float:
    """Where a WAV last has audio: no RTP is written as exact zeros (livekit-sip's own
    silence is rms 3-4), and a capture may stop a moment after the last packet."""
    return max((f.at for f in frames if f.rms > 0), default=0.0) + 0.02


@pytest.mark.timeout(420)
async def test_the_audio_demo_leaves_recordings_that_hear_the_bridge(tmp_path: Path) -> None:
    real_stack_or_skip()
    if not espeak_available():
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    workdir = tmp_path / "demo"
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "warm_transfer.demo", "--livekit", "real", "--audio"),
        *("--workdir", str(workdir)),
        cwd=ROOT,
        env=dict(os.environ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 400)
    text = out.decode(errors="replace")
    print(text)
    assert proc.returncode == 0, text
    caller_wav, human_wav = workdir / "caller.wav", workdir / "human.wav"
    picture, data_path = workdir / "timeline.png", workdir / "timeline.json"
    for path in (caller_wav, human_wav, picture, data_path):
        assert str(path) in text, f"the demo did not print {path}"
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and picture.stat().st_size > 20_000
    data: dict[str, Any] = json.loads(data_path.read_text())
    to_caller, to_human = wav_frames(caller_wav), wav_frames(human_wav)
    # Both on the call's wall clock: as long as the recording ran, and long enough to
    # hold a greeting, a hold, a brief and the bridged call.
    assert len(to_caller) == len(to_human)
    assert abs(len(to_caller) * 0.02 - data["seconds"]) < 0.05, data["seconds"]
    assert len(to_caller) * 0.02 > 12
    marks = {m["label"]: m["at_s"] for m in reversed(data["marks"])}
    assert {"holding", "briefing", "bridging", "done", "hold_started", "leave"} <= set(marks)
    human_hz, caller_hz = data["tones"]["human"], data["tones"]["caller"]
    assert human_hz != caller_hz
    bridged, end = marks["bridging"], len(to_caller) * 0.02
    caller_until, human_until = heard_until(to_caller), heard_until(to_human)
    assert end - caller_until < 0.5, f"the end of the call is missing: {caller_until} of {end}"
    on_hold = window(to_caller, marks["hold_started"], bridged - 0.3)
    music = window(to_caller, marks["hold_started"] + 1.5, bridged - 0.3)  # faded in
    after = window(to_caller, bridged + 1.0, caller_until)
    measured = {
        "hold_s": bridged - marks["hold_started"],
        "hold_heard": loud_share(music, 30.0),
        "hold_human": tone_frames_share(on_hold, human_hz, TONE),
        "bridged_s": end - bridged,
        "bridged_human": tone_frames_share(after, human_hz, TONE),
        "human_hears_caller": tone_frames_share(
            window(to_human, marks["leave"] + 1.0, human_until), caller_hz, TONE
        ),
    }
    print("measured: " + ", ".join(f"{k} {v:.2f}" for k, v in measured.items()))
    assert len(music) > 50 and len(after) > 50, measured
    # On hold: the voice agent's music, never the human (who is only being briefed).
    assert measured["hold_heard"] > 0.9, measured
    assert measured["hold_human"] < 0.02, measured
    # Bridged: the caller hears the human's tone, the human the caller's.
    assert measured["bridged_human"] > 0.5, measured
    assert measured["human_hears_caller"] > 0.5, measured
