"""The results: a flat JSON document (``bench/results.json``) and a table for people."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.config import TARGETS

# (key, label, unit) in the order the table shows them.
ROWS: list[tuple[str, str, str]] = [
    ("handoff_gap_ms_p50", "1. handoff gap p50 (accept -> human in caller's room)", "ms"),
    ("handoff_gap_ms_p99", "   handoff gap p99", "ms"),
    ("time_to_dial_ms_p50", "2. time to dial p50 (start -> CreateSIPParticipant)", "ms"),
    ("time_to_dial_ms_p99", "   time to dial p99", "ms"),
    ("direct_handoff_gap_ms_p50", "3. direct script: handoff gap p50", "ms"),
    ("direct_handoff_gap_ms_p99", "   direct script: handoff gap p99", "ms"),
    ("direct_time_to_dial_ms_p50", "   direct script: time to dial p50", "ms"),
    ("direct_time_to_dial_ms_p99", "   direct script: time to dial p99", "ms"),
    ("handoff_gap_ratio_p99", "   engine/direct handoff gap (p99)", "x"),
    ("time_to_dial_ratio_p99", "   engine/direct time to dial (p99)", "x"),
    ("throughput_tps", "4. throughput (completed transfers/s)", "1/s"),
    ("throughput_concurrency", "   concurrent callers", ""),
    ("throughput_latency_ms_p99", "   start -> completed p99 under that load", "ms"),
    ("throughput_not_connected", "   not connected", ""),
    ("worker_core_tps", "   one worker core's worth (1000 / worker CPU ms)", "1/s"),
    ("cpu_bound_tps", "   CPU-bound ceiling of this machine", "1/s"),
    ("ringing_transfers", "   phones ringing at once (extra phase)", ""),
    ("ringing_lost", "   ringing transfers lost", ""),
    ("ringing_probe_handoff_gap_ms_p99", "   handoff gap p99 while they ring", "ms"),
    ("ringing_probe_time_to_dial_ms_p99", "   time to dial p99 while they ring", "ms"),
    ("inflight_transfers", "5. transfers parked at once", ""),
    ("inflight_lost", "   lost (not connected at the end)", ""),
    ("inflight_worker_rss_mb", "   worker RSS, peak during the phase", "MB"),
    ("inflight_start_s", "   time to start and park them all", "s"),
    ("inflight_drain_s", "   time to finish them all once accepted", "s"),
    ("actions_per_success", "6. billable actions per first-try success", ""),
    ("history_events_per_success", "   history events per first-try success", ""),
    ("actions_per_three_failures", "   actions, 3 failed destinations + voicemail", ""),
    ("history_events_per_three_failures", "   history events, 3 failures + voicemail", ""),
    ("actions_per_group_of_three", "   actions, ring group of 3 (1 answers, 2 cancelled)", ""),
    ("history_events_per_group_of_three", "   history events, ring group of 3", ""),
]


def _audio_rows(prefix: str, since: str) -> list[tuple[str, str, str]]:
    """The handoff gap on audio, both ways (`bench.real_audio`)."""
    return [
        (f"{prefix}audio_{key}_ms_p{p}", f"   {since} -> {who} p{p}", "ms")
        for key, who in (
            ("caller_hears_human", "caller hears"),
            ("human_hears_caller", "human hears"),
        )
        for p in (50, 99)
    ]


# The real stack's figures (`bench.real`): each end read where it happens.
REAL_ROWS: list[tuple[str, str, str]] = [
    ("handoff_gap_ms_p50", "1. handoff gap p50 (accept -> SFU forwards human to caller)", "ms"),
    ("handoff_gap_ms_p99", "   handoff gap p99", "ms"),
    *_audio_rows("", "on audio: keypress 1"),
    ("keypress_to_accept_signal_ms_p50", "   of which keypress 1 -> human_accepted p50", "ms"),
    ("keypress_to_accept_signal_ms_p99", "   of which keypress 1 -> human_accepted p99", "ms"),
    ("time_to_dial_ms_p50", "2. time to dial p50 (start -> INVITE at the phone)", "ms"),
    ("time_to_dial_ms_p99", "   time to dial p99", "ms"),
    ("direct_handoff_gap_ms_p50", "3. direct script: handoff gap p50", "ms"),
    ("direct_handoff_gap_ms_p99", "   direct script: handoff gap p99", "ms"),
    *_audio_rows("direct_", "direct, audio: accept"),
    ("direct_time_to_dial_ms_p50", "   direct script: time to dial p50", "ms"),
    ("direct_time_to_dial_ms_p99", "   direct script: time to dial p99", "ms"),
    ("handoff_gap_ratio_p50", "   engine/direct handoff gap (p50)", "x"),
    ("audio_caller_hears_human_ratio_p50", "   engine/direct caller hears human, audio (p50)", "x"),
    ("audio_human_hears_caller_ratio_p50", "   engine/direct human hears caller, audio (p50)", "x"),
    ("time_to_dial_ratio_p50", "   engine/direct time to dial (p50)", "x"),
    ("exposed_before_accept_ms_p99", "   caller subscribed to ringing human, p99", "ms"),
    ("direct_exposed_before_accept_ms_p99", "   the same, direct script, p99", "ms"),
    ("not_connected", "   engine transfers not connected", ""),
    ("direct_not_connected", "   direct transfers not connected", ""),
    ("audio_missing", "   engine transfers without both gaps on audio", ""),
    ("direct_audio_missing", "   direct transfers without both gaps on audio", ""),
    ("actions_per_success", "6. billable actions per connected transfer", ""),
]

DETAILS = (
    "cpu_ms_per_transfer",
    "actions_breakdown_success",
    "actions_breakdown_three_failures",
    "actions_breakdown_group_of_three",
)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.2f}"
    return str(value)


def table(results: dict[str, Any]) -> str:
    """The figures as an aligned text table, with the targets next to them."""
    lines = [f"warm-transfer bench ({results['mode']}) on {_machine(results['machine'])}", ""]
    lines.append(f"{'figure':<58}{'value':>12}  {'unit':<5}{'target':>9}")
    lines.append("-" * 86)
    for key, label, unit in REAL_ROWS if results.get("livekit") == "real" else ROWS:
        if key not in results:
            continue
        target = TARGETS.get(key, "")
        lines.append(f"{label:<58}{_cell(results[key]):>12}  {unit:<5}{target:>9}")
    for name in DETAILS:
        if results.get(name):
            parts = ", ".join(f"{k} {v:g}" for k, v in results[name].items())
            lines.append(f"   {name.replace('actions_breakdown_', 'actions, ')}: {parts}")
    return "\n".join(lines)


def _machine(m: dict[str, Any]) -> str:
    return (
        f"{m['cores']} cores, {m['memory_mb'] / 1024:.1f} GB, load {m['load_average_1m']} "
        f"at start, 10M-iteration Python loop {m.get('loop_10m_s', '?')} s, "
        f"Python {m['python']}, temporalio {m['temporalio']}"
    )


def write(results: dict[str, Any], path: Path) -> None:
    """Writes ``results`` as indented JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")
