"""A worker SIGKILLed at every stage of a transfer, and the Temporal server restarted.

Real processes (dev server on a SQLite file, LiveKit stand-in, `python worker.py`),
driven by the fault suite's rows with a small N: each row waits until every transfer
is inside the stage (LiveKit calls in flight, phones ringing), kills the worker with
SIGKILL (or restarts the server), starts a fresh worker, and judges every transfer by
what LiveKit recorded: the right outcome, nobody dialed twice, no leg or room left.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from warm_transfer.faultsuite import ROWS, Row, Suite

N = 2
pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


@pytest_asyncio.fixture(scope="module")
async def suite(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Suite]:
    async with Suite.running(tmp_path_factory.mktemp("crash")) as running:
        yield running


@pytest.mark.parametrize(
    "name",
    [
        "worker-kill-holding",
        "worker-kill-ringing",
        "worker-kill-group-ringing",
        "worker-kill-briefing",
        "worker-kill-bridged",
    ],
)
async def test_a_worker_killed_at_any_stage_is_replaced_without_harm(
    suite: Suite, name: str
) -> None:
    killed = suite.stack.workers[-1]
    row: Row = ROWS[name]
    result = await row(suite, N)
    assert killed.returncode == -signal.SIGKILL  # it really died, mid-transfer
    assert result.transfers == N
    assert result.ok, "\n".join(result.problems)


async def test_a_server_restart_loses_no_transfer(suite: Suite) -> None:
    db = Path(suite.stack.server.db_filename or "")
    assert db.is_file()  # the state that survives the restart
    result = await ROWS["server-restart"](suite, N)
    assert result.ok, "\n".join(result.problems)
