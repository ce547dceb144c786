"""``python -m bench --quick`` runs end to end and writes every figure it promises.

Only the shape of the results is checked: the figures themselves depend on the machine
and are read from the printed table (docs/benchmark.md), never asserted here.
"""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FLOAT_KEYS = (
    "handoff_gap_ms_p50",
    "handoff_gap_ms_p99",
    "time_to_dial_ms_p50",
    "time_to_dial_ms_p99",
    "direct_handoff_gap_ms_p99",
    "direct_time_to_dial_ms_p99",
    "throughput_tps",
    "inflight_worker_rss_mb",
    "actions_per_success",
    "history_events_per_success",
    "actions_per_three_failures",
    "actions_per_group_of_three",
)
INT_KEYS = ("inflight_transfers", "inflight_lost")


def run_quick_bench(out: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """Runs the quick bench; on timeout, SIGTERM lets it stop the processes it started."""
    cmd = [sys.executable, "-m", "bench", "--quick", "--out", str(out)]
    with subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)
            stdout, stderr = proc.communicate(timeout=60)
            pytest.fail(f"python -m bench --quick took over {timeout} s: {stderr[-2000:]}")
        return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)


@pytest.mark.slow
@pytest.mark.timeout(360)
def test_quick_bench_writes_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    run = run_quick_bench(out, timeout=240)
    assert run.returncode == 0, run.stderr[-4000:]
    assert "handoff gap" in run.stdout  # the table was printed
    results = json.loads(out.read_text())

    assert results["mode"] == "quick"
    machine = results["machine"]
    assert isinstance(machine["cores"], int) and machine["cores"] > 0
    assert isinstance(machine["memory_mb"], int) and machine["memory_mb"] > 0
    for key in FLOAT_KEYS:
        value = results[key]
        assert isinstance(value, int | float) and not isinstance(value, bool), key
        assert math.isfinite(value) and value >= 0, (key, value)
    for key in INT_KEYS:
        assert isinstance(results[key], int) and not isinstance(results[key], bool), key
    assert 0 <= results["inflight_lost"] <= results["inflight_transfers"]
    assert results["inflight_transfers"] > 0
    assert results["handoff_gap_ms_p50"] <= results["handoff_gap_ms_p99"]
    assert results["time_to_dial_ms_p50"] <= results["time_to_dial_ms_p99"]
