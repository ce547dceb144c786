"""Replays every recorded history against the current workflow code.

A change to ``WarmTransferWorkflow`` that alters the command sequence of a run in
flight fails here: guard it with ``workflow.patched`` (or ship a new workflow type),
then record new histories beside the old ones (`python -m tests.record_histories`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from warm_transfer.models import TransferOutcome
from workflows.warm_transfer import WarmTransferWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def outcome_of(history: WorkflowHistory) -> str:
    """The recorded outcome, or how the run ended when it has none."""
    last = history.events[-1]
    if last.HasField("workflow_execution_completed_event_attributes"):
        payload = last.workflow_execution_completed_event_attributes.result.payloads[0]
        return TransferOutcome.model_validate(json.loads(payload.data)).outcome
    return (
        "cancelled" if last.HasField("workflow_execution_canceled_event_attributes") else "failed"
    )


def load(path: Path) -> WorkflowHistory:
    # Leg identities derive from the workflow id: replay under the recorded one.
    return WorkflowHistory.from_json(f"replay-{path.stem}", path.read_text())


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays_on_current_code(path: Path) -> None:
    replayer = Replayer(workflows=[WarmTransferWorkflow], data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(load(path), raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"


def test_corpus_covers_every_outcome() -> None:
    outcomes = {outcome_of(load(path)) for path in HISTORIES}
    assert outcomes >= {
        "connected",
        "voicemail",
        "cold_transferred",
        "returned_to_agent",
        "caller_hung_up",
        "cancelled",
    }
