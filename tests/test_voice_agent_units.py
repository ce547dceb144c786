"""The real stack's voice agent worker and its harness side, without a LiveKit server."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from warm_transfer.config import SettingsError, TemporalSettings
from warm_transfer.realstack.audio import Frame, loud_share, other_share, tone_frames_share
from warm_transfer.realstack.people import DispatchedAgent, dispatch_metadata
from warm_transfer.realstack.tones import RATE
from warm_transfer.realstack.voice_agent import build_server, on_request


def _frame(hz: float, level: float, noise: float = 0.0, seed: int = 0) -> Frame:
    n = np.arange(RATE // 50)
    samples = level * np.sin(2 * np.pi * hz * n / RATE)
    samples += noise * np.random.default_rng(seed).standard_normal(len(n))
    return Frame(0.0, float(np.sqrt(np.mean(samples**2))), samples)


def test_a_tone_alone_leaves_nothing_else_and_music_over_it_does() -> None:
    alone = [_frame(1600, 7000.0) for _ in range(10)]
    mixed = [_frame(1600, 7000.0, noise=1500.0, seed=i) for i in range(10)]
    assert other_share(alone, 1600, 400) == 0.0
    assert other_share(mixed, 1600, 400) == 1.0
    assert tone_frames_share(alone, 1600, 300) == 1.0
    assert tone_frames_share(alone, 400, 300) == 0.0
    assert loud_share([_frame(400, 3.0)], 30) == 0.0


def test_the_agent_s_messages_are_read_from_its_worker_log(tmp_path: Path) -> None:
    log = tmp_path / "voice-agent.log"
    lines = [
        {"event": "voice agent message", "room": "call-1", "transfer_event": "hold_started"},
        {"event": "voice agent message", "room": "call-2", "transfer_event": "leave"},
        {"event": "registered worker", "room": "call-1"},
        {"event": "voice agent message", "room": "call-1", "transfer_event": "leave"},
    ]
    text = "\n".join(json.dumps({**line, "at": 10.0 + i}) for i, line in enumerate(lines))
    log.write_text(text + "\nnot json but 'voice agent message'\n")
    agent = DispatchedAgent("call-1", "voice-agent", log)
    assert agent.messages == [(10.0, "hold_started"), (13.0, "leave")]
    assert agent.events() == ["hold_started", "leave"]
    assert agent.logged_at("voice agent message") == 10.0
    assert agent.logged_at("voice agent greeted") is None
    assert DispatchedAgent("call-3", "voice-agent", tmp_path / "none.log").events() == []


async def test_a_dispatched_job_joins_under_the_identity_its_dispatch_names() -> None:
    accepted: dict[str, Any] = {}

    async def accept(**kwargs: Any) -> None:
        accepted.update(kwargs)

    request: Any = SimpleNamespace(
        job=SimpleNamespace(metadata=dispatch_metadata("voice-agent-7")), accept=accept
    )
    await on_request(request)
    assert accepted["identity"] == "voice-agent-7"
    request.job.metadata = "not json"
    await on_request(request)
    assert accepted["identity"] == ""  # LiveKit Agents' default identity


def test_the_worker_needs_livekit_settings() -> None:
    with pytest.raises(SettingsError, match="LIVEKIT_URL"):
        build_server({}, TemporalSettings())
