"""Accept and overall (hold) timeouts, on the time-skipping test server.

An accept timeout of a minute and a five-minute hold pass in milliseconds here, so
the tests check the real timers without waiting for them. (The ring-timeout backstop
waits on a running dial activity, which holds the test server's clock; it is tested
on the dev server with a one-second ring in test_workflow_signals.py.)
"""

from __future__ import annotations

from temporalio.testing import WorkflowEnvironment

from tests.fakes import FakeLiveKit
from tests.workflow_helpers import HUMAN_A, fake_worker, make_request, start
from warm_transfer.models import Fallback


async def test_accept_timeout_counts_as_declined(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    client = time_skipping_env.client
    fake = FakeLiveKit()
    fallback = Fallback(kind="cold_transfer", sip_call_to="+15105550188")
    async with fake_worker(client, task_queue, fake):
        request = make_request(HUMAN_A, fallback=fallback, accept_timeout_s=90)
        handle = await start(client, task_queue, request, search_attributes=False)
        outcome = await handle.outcome()
    assert outcome.outcome == "cold_transferred"
    assert [(a.result, a.reason) for a in outcome.attempts] == [
        ("declined", "no decision within accept_timeout_s")
    ]


async def test_caller_cannot_be_held_forever(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    client = time_skipping_env.client
    fake = FakeLiveKit()
    async with fake_worker(client, task_queue, fake):
        # Ten humans who answer and never decide would hold the caller 10 minutes;
        # the default deadline ends the transfer well before that.
        request = make_request(*[f"+1510555010{i}" for i in range(10)], accept_timeout_s=60)
        handle = await start(client, task_queue, request, search_attributes=False)
        outcome = await handle.outcome()
    assert outcome.outcome == "returned_to_agent"
    assert outcome.reason == "the transfer deadline (max_transfer_s) passed"
    assert len(outcome.attempts) < 10
