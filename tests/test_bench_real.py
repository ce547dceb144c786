"""The real-stack bench runs end to end: one engine and one direct transfer, measured at
the phone, at the SFU and on the phones' RTP (the figures themselves are the bench's,
never asserted on as targets: only that they were measured, and are causally sane)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.real import run_real
from bench.real_audio import AFTER_ACCEPT_S
from tests.real_stack import real_stack_or_skip
from warm_transfer.realstack.audio import Capture
from warm_transfer.realstack.phones import _PRESS_AT

pytestmark = pytest.mark.real

AUDIO = ("audio_caller_hears_human", "audio_human_hears_caller")


@pytest.mark.timeout(240)
async def test_the_real_bench_measures_both_scripts(tmp_path: Path) -> None:
    real_stack_or_skip()
    figures = await run_real(tmp_path, samples=1)
    assert (figures["not_connected"], figures["direct_not_connected"]) == (0, 0)
    for name in ("time_to_dial", "handoff_gap"):
        for who in ("", "direct_"):
            # Read at the phone and the SFU, after the start and after the accept.
            assert figures[f"{who}{name}_ms_p50"] > 0, (who, name)
    assert figures["actions_per_success"] > 0

    assert figures["audio_recorded"] == Capture.available()
    if not figures["audio_recorded"]:  # no tcpdump: the audio figures say so
        assert all(figures[f"{who}{n}_ms_p50"] is None for who in ("", "direct_") for n in AUDIO)
        return
    # Both transfers recorded, and both phones heard the other side on each.
    assert (figures["audio_missing"], figures["direct_audio_missing"]) == (0, 0)
    for who in ("", "direct_"):
        for name in AUDIO:
            gap = figures[f"{who}{name}_ms_p50"]
            # After the accept, inside what the bench recorded after it.
            assert 0 < gap < AFTER_ACCEPT_S * 1000, (who, name, figures)
    # The engine's accept came from a keypress, the last before the signal (the phone
    # presses every 2 s), and nobody heard the other before the workflow had it.
    press_to_signal = figures["keypress_to_accept_signal_ms_p50"]
    assert 0 < press_to_signal < (_PRESS_AT[1] - _PRESS_AT[0]), figures
    for name in AUDIO:
        assert figures[f"{name}_ms_p50"] > press_to_signal, (name, figures)
    assert "direct_keypress_to_accept_signal_ms_p50" not in figures
