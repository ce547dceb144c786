"""The real-stack bench runs end to end: one engine and one direct transfer, measured at
the phone and at the SFU (the figures themselves are the bench's, never asserted on)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.real import run_real
from tests.real_stack import real_stack_or_skip

pytestmark = pytest.mark.real


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
