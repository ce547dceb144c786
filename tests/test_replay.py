"""Replays every recorded history against the current workflow code.

A change to ``WarmTransferWorkflow`` that alters the command sequence of a run in
flight fails here: guard it with ``workflow.patched`` (or ship a new workflow type),
then record new histories beside the old ones (`python -m tests.record_histories`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests.history_catalog import CATALOG
from warm_transfer.models import TransferOutcome
from workflows import policies
from workflows.warm_transfer import WarmTransferWorkflow

ROOT = Path(__file__).resolve().parent.parent
HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))
PATCHED_CALL = re.compile(r"workflow\.(?:patched|deprecate_patch)\(\s*([^)]+?)\s*\)")


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


def patches_in_code() -> set[str]:
    """Every patch id the workflow code checks with ``workflow.patched``."""
    ids = set()
    for source in (ROOT / "workflows").glob("*.py"):
        for arg in PATCHED_CALL.findall(source.read_text()):
            name = arg.rsplit(".", 1)[-1]
            ids.add(json.loads(arg) if arg.startswith('"') else getattr(policies, name))
    return ids


def patches_in(history: WorkflowHistory) -> set[str]:
    """The patch ids a recorded run took."""
    ids = set()
    for event in history.events:
        marker = event.marker_recorded_event_attributes
        if (
            event.HasField("marker_recorded_event_attributes")
            and marker.marker_name == "core_patch"
        ):
            ids.add(json.loads(marker.details["patch-data"].payloads[0].data)["id"])
    return ids


def test_every_path_is_recorded_on_the_current_code() -> None:
    """Replaying old histories proves in-flight runs survive a change; this proves the
    corpus also holds each path as the code runs it now, so the next change is checked
    against it. A new ``workflow.patched`` id fails here until
    ``python -m tests.record_histories --tag <id>`` has recorded every path with it."""
    current = patches_in_code()
    assert current, "no workflow.patched call found: the scan is broken"
    recorded: dict[str, set[str]] = {}
    for path in HISTORIES:
        name = path.stem.split("@", 1)[0]
        if patches_in(load(path)) >= current:
            recorded.setdefault(name, set()).add(path.name)
    assert set(CATALOG) <= set(recorded), sorted(set(CATALOG) - set(recorded))
