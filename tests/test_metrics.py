"""The worker's Prometheus endpoint (``METRICS_BIND``), scraped after real transfers.

Pins the names the SDK's exporter actually produces: no ``_total`` suffix on
counters, no unit suffix, ``temporal_`` only on the SDK's own metrics, histograms as
``_bucket``/``_sum``/``_count``, labels ``namespace``, ``task_queue``,
``workflow_type`` (and ``outcome``/``activity_type`` where they apply).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from pathlib import Path

import aiohttp
import pytest

from tests.stack_helpers import ANSWERS, BUSY, finish_all, operating
from warm_transfer.devserver import free_port
from warm_transfer.stack import Stack

Labels = frozenset[tuple[str, str]]
Samples = dict[tuple[str, Labels], float]

_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][\w:]*)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
WORKFLOW = {"workflow_type": "WarmTransferWorkflow", "task_queue": "warm-transfer"}


def parse(text: str) -> tuple[Samples, dict[str, str]]:
    """Prometheus text exposition: samples by (name, labels), and each family's type."""
    samples: Samples = {}
    types: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
        elif line and not line.startswith("#"):
            match = _SAMPLE.match(line)
            assert match, f"unparseable sample line: {line!r}"
            labels = frozenset(_LABEL.findall(match["labels"] or ""))
            samples[(match["name"], labels)] = float(match["value"])
    return samples, types


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name`` over every series whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, series), v in samples.items() if n == name and wanted <= series)


async def scrape(url: str) -> str:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        return await response.text()


async def scrape_until(url: str, ready: Mapping[str, float], timeout: float = 15) -> Samples:
    """Scrapes until each named total reached its value (exporters lag a little)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        samples, _ = parse(await scrape(url))
        if all(total(samples, name) >= value for name, value in ready.items()):
            return samples
        if loop.time() > deadline:
            return samples
        await asyncio.sleep(0.2)


@pytest.mark.slow
async def test_transfers_move_the_sdk_and_engine_metrics(tmp_path: Path) -> None:
    bind = f"127.0.0.1:{free_port()}"
    url = f"http://{bind}/metrics"
    stack = Stack(tmp_path, time_scale=0.2, ui=False, worker_env={"METRICS_BIND": bind})
    async with operating(stack) as ops:
        before, _ = parse(await scrape(url))
        assert total(before, "warm_transfer_transfers") == 0
        handles = [
            await ops.transfer(BUSY, ANSWERS),
            await ops.transfer(ANSWERS),
            await ops.transfer(BUSY),
        ]
        assert await finish_all(handles) == ["connected", "connected", "returned_to_agent"]
        samples = await scrape_until(
            url, {"warm_transfer_transfers": 3, "temporal_workflow_completed": 3}
        )
        _, types = parse(await scrape(url))

    # The SDK's own worker metrics, prefixed temporal_, counters without _total.
    assert total(samples, "temporal_workflow_completed", **WORKFLOW) == 3
    assert total(samples, "temporal_workflow_endtoend_latency_count", **WORKFLOW) == 3
    dials = total(samples, "temporal_activity_execution_latency_count", activity_type="dial_human")
    assert dials == 4  # busy + answered, answered, busy: every leg dialed once
    assert total(samples, "temporal_worker_start") >= 1

    # The engine's workflow metrics (workflow.metric_meter()), unprefixed.
    assert total(samples, "warm_transfer_transfers", outcome="connected", **WORKFLOW) == 2
    assert total(samples, "warm_transfer_transfers", outcome="returned_to_agent") == 1
    assert total(samples, "warm_transfer_attempts_count") == 3
    assert total(samples, "warm_transfer_attempts_sum") == 4
    assert total(samples, "warm_transfer_hold_seconds_count", outcome="connected") == 2
    assert 0 < total(samples, "warm_transfer_hold_seconds_sum") < 60
    # One per answered leg, one per bridge: the two connected transfers.
    assert total(samples, "warm_transfer_time_to_answer_seconds_count") == 2
    assert total(samples, "warm_transfer_handoff_gap_seconds_count") == 2

    assert types["warm_transfer_transfers"] == "counter"
    assert types["temporal_workflow_completed"] == "counter"
    assert types["warm_transfer_attempts"] == "histogram"
    assert types["warm_transfer_hold_seconds"] == "histogram"
    # The exporter adds no _total suffix (the SDK's own temporal_local_activity_total
    # is named so at the source): dashboards use these names as they are.
    assert not any(
        name.endswith("_total") for name, _ in samples if name.startswith("warm_transfer")
    )
