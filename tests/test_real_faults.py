"""The fault suite on real LiveKit, short: every real row with one transfer.

The same rows as ``python -m warm_transfer.faultsuite --livekit real`` (the table in
README and docs/reliability.md, N = 5), on one real stack for the module: the worker
SIGKILLed at each stage, livekit-sip SIGKILLed, livekit-server, Redis and the Temporal
server restarted, a lossy and a slow SIP/RTP path, a slow LiveKit API. Each transfer
is judged by the phones' own logs and livekit-server: the right (or the documented
degraded) outcome, one INVITE per attempt, every call ended but those the fault
stranded, no room left. Skipped, with the reason, where the real tier cannot run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.real_stack import real_stack_or_skip
from warm_transfer.faultsuite.real_harness import RealSuite
from warm_transfer.faultsuite.real_rows import REAL_ROWS

N = 1
pytestmark = [pytest.mark.real, pytest.mark.slow]


@pytest_asyncio.fixture(scope="module")
async def suite(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RealSuite]:
    real_stack_or_skip()
    async with RealSuite.running(tmp_path_factory.mktemp("real-faults")) as running:
        yield running


@pytest.mark.timeout(240)
@pytest.mark.parametrize("name", list(REAL_ROWS))
async def test_a_real_fault_leaves_every_transfer_right(suite: RealSuite, name: str) -> None:
    result = await REAL_ROWS[name](suite, N)
    assert result.transfers == N
    assert result.ok, "\n".join(result.problems)
    assert result.duplicates == 0
    assert result.legs_left == result.stranded
    # Only the rows that SIGKILL livekit-sip may strand calls, and say why.
    assert not result.stranded or name.startswith("sip-kill")
    if result.degraded:
        assert result.note, "a degraded outcome the row does not explain"
