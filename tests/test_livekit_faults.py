"""LiveKit misbehaving under running transfers: 5xx, latency, lost connections, lost
answers, requests no retry can fix, unruly signals, and the transfer deadline, on real
processes.

The rows are the fault suite's (``python -m warm_transfer.faultsuite``) with a small N;
every transfer is judged by what the stand-in recorded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from warm_transfer.faultsuite import ROWS, Suite

N = 2
pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@pytest_asyncio.fixture(scope="module")
async def suite(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Suite]:
    async with Suite.running(tmp_path_factory.mktemp("faults")) as running:
        yield running


@pytest.mark.parametrize(
    "name",
    [
        "livekit-5xx",
        "livekit-latency",
        "livekit-drop",
        "livekit-drop-after",
        "bad-number-unknown-trunk",
        "duplicate-late-signals",
        "transfer-deadline",
    ],
)
async def test_transfers_survive_the_fault(suite: Suite, name: str) -> None:
    # Three for the unfixable row: a bad number, an unknown trunk, a bad number then
    # voicemail.
    n = 3 if name == "bad-number-unknown-trunk" else N
    result = await ROWS[name](suite, n)
    assert result.transfers == n
    assert result.ok, "\n".join(result.problems)
