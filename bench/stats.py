"""Percentiles and the machine the figures were measured on."""

from __future__ import annotations

import math
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (``p`` in 0..100): a value that was actually measured.

    With fewer than 100 samples the p99 is the maximum, which is what a caller
    would have heard in the worst of those transfers.

    Raises:
        ValueError: when ``values`` is empty.
    """
    if not values:
        raise ValueError("no samples")
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def summary_ms(values: Sequence[float]) -> dict[str, float]:
    """p50, p99 and max of durations in seconds, as milliseconds rounded to 0.1 ms."""
    return {
        "p50": round(percentile(values, 50) * 1000, 1),
        "p99": round(percentile(values, 99) * 1000, 1),
        "max": round(max(values) * 1000, 1),
    }


def ratio(engine: float, direct: float) -> float | None:
    """engine / direct, or None when the baseline is zero."""
    return round(engine / direct, 2) if direct > 0 else None


def rss_mb(pid: int) -> tuple[float, float]:
    """Resident memory of a process now and at its peak (VmRSS, VmHWM), in MB.

    Returns:
        ``(0.0, 0.0)`` when the process is gone.
    """
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0, 0.0
    fields: dict[str, float] = {}
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return round(fields.get("VmRSS", 0.0), 1), round(fields.get("VmHWM", 0.0), 1)


_ROLES = (("worker.py", "worker"), ("livekit_sim", "standin"), ("temporal", "server"))


def cpu_seconds() -> dict[str, float]:
    """CPU time (user + system) so far of the bench and each process it started.

    The processes are found as this process's children (the stack's dev server,
    stand-in and workers) and named by their command line; several workers add up.
    """
    tick = os.sysconf("SC_CLK_TCK")
    own = os.times()
    cpu = {"bench": own.user + own.system}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) != os.getpid():  # fields[1] is the parent's pid
                continue
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue
        role = next((name for key, name in _ROLES if key in cmdline), "other")
        cpu[role] = cpu.get(role, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return cpu


def cpu_ms_per(before: dict[str, float], after: dict[str, float], n: int) -> dict[str, float]:
    """CPU milliseconds per unit of work (``n`` transfers) by process, and in total."""
    per = {k: round((after.get(k, 0.0) - before.get(k, 0.0)) * 1000 / max(1, n), 1) for k in after}
    per["total"] = round(sum(per.values()), 1)
    return per


def machine() -> dict[str, Any]:
    """Cores, memory, load and software versions: figures mean nothing without them."""
    mem_mb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_mb = int(line.split()[1]) // 1024
    except OSError:
        pass
    from temporalio import __version__ as temporalio_version

    from warm_transfer.stack import ROOT

    # Without bytecode the workflow sandbox compiles the workflow module for every run.
    cache = ROOT / "workflows" / "__pycache__"
    tag = sys.implementation.cache_tag
    return {
        "cores": os.cpu_count() or 0,
        "memory_mb": mem_mb,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "temporalio": temporalio_version,
        "loop_10m_s": loop_10m_s(),
        "workflow_bytecode_cached": (cache / f"warm_transfer.{tag}.pyc").exists(),
        "pythondontwritebytecode": bool(os.environ.get("PYTHONDONTWRITEBYTECODE")),
    }


def loop_10m_s() -> float:
    """Seconds for ten million iterations of a pure-Python loop: a yardstick of the
    machine's single-core speed, so runs on different hosts of the same kind can be
    told apart (CPU per transfer scales with it)."""
    began = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    return round(time.perf_counter() - began, 3)
