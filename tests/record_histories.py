"""Re-records the replay corpus: `python -m tests.record_histories` (from the repo root).

Run it when a change to the workflow is *meant* to change the command sequence, after
guarding that change with ``workflow.patched`` (so the old histories keep replaying):
keep the old files and add the new ones under a tag naming the change
(`python -m tests.record_histories --tag local-activities`). Never re-record an old
file to make a failing replay pass.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import uuid
from pathlib import Path

from temporalio.client import WorkflowFailureError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from tests.history_catalog import CATALOG
from tests.workflow_helpers import fake_worker
from warm_transfer import search_attributes as sa
from warm_transfer.devserver import temporal_cli

HISTORIES = Path(__file__).parent / "histories"


async def record(names: list[str], tag: str = "") -> None:
    """Runs each catalog entry (all when ``names`` is empty) and writes its history.

    With a ``tag`` the files are ``<name>@<tag>.json``, beside the older ones: the
    corpus keeps every version of the workflow that may still have runs in flight.
    """
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=temporal_cli(),
        search_attributes=sa.ALL,
    )
    try:
        for name, (fake, run) in CATALOG.items():
            if names and name not in names:
                continue
            task_queue = f"record-{uuid.uuid4()}"
            async with fake_worker(env.client, task_queue, fake):
                stem = f"{name}@{tag}" if tag else name
                handle = await run(env.client, task_queue, f"replay-{stem}")
                with contextlib.suppress(WorkflowFailureError):
                    await handle.outcome()
            history = await handle.handle.fetch_history()
            path = HISTORIES / f"{stem}.json"
            path.write_text(history.to_json())
            print(f"recorded {path.relative_to(Path.cwd())} ({len(history.events)} events)")
    finally:
        await env.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m tests.record_histories")
    parser.add_argument("names", nargs="*", help="catalog entries (default: all)")
    parser.add_argument("--tag", default="", help="recorded as <name>@<tag>.json")
    args = parser.parse_args()
    asyncio.run(record(args.names, args.tag))
