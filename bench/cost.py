"""Figure 6: history events and Temporal Cloud billable actions per transfer.

Actions are counted from each run's real history (``fetch_history``), following the
Temporal Cloud definition (docs.temporal.io/cloud/actions), one line per rule:

==========================================  ============================================
history event                               actions
==========================================  ============================================
WorkflowExecutionStarted                    1 (workflow started; start-time search
                                            attributes are free)
ActivityTaskScheduled                       1 (activity started)
ActivityTaskStarted                         ``attempt - 1`` (activity retries)
TimerStarted                                1 (including the SDK's timers behind
                                            ``wait_condition(timeout=...)``)
WorkflowExecutionSignaled                   1 (signal sent)
UpsertWorkflowSearchAttributes              1 per command, however many attributes
                                            (free when it only sets
                                            ``TemporalChangeVersion``: versioning)
MarkerRecorded                              1 per workflow task that recorded any
                                            (local activities; also counts version
                                            markers, conservatively)
WorkflowTaskCompleted                       ``nonfirst_local_activity_execution_
                                            attempts`` (local activity retries)
WorkflowExecutionUpdateAccepted             1 (update received)
StartChildWorkflowExecutionInitiated        2
WorkflowExecutionOptionsUpdated,            1
NexusOperationScheduled/CancelRequested
==========================================  ============================================

Not in history, so taken from elsewhere: activity heartbeats that reach the server
(the dev server's ``action`` counter, ``grpc_RecordActivityTaskHeartbeat``, over the
phase, per transfer) and queries (the engine issues none; each ``status`` query a
voice agent or an operator makes is one more action). Workflow tasks, activity
completions, timer firings and workflow completion are free.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory

from bench.config import GROUP_ANSWERS, GROUP_RINGS, THREE_FAILURES, VOICEMAIL, BenchConfig
from bench.harness import Rig
from warm_transfer.client import transfer_workflow_id
from warm_transfer.models import Destination, DestinationGroup, Fallback
from workflows.transfer_state import member_identity

HEARTBEAT_ACTION = "grpc_RecordActivityTaskHeartbeat"
CHANGE_VERSION = "TemporalChangeVersion"  # set by workflow.patched(): not billed

_ONE_EACH: dict[int, str] = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED: "workflow_started",
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: "activities",
    EventType.EVENT_TYPE_TIMER_STARTED: "timers",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: "signals",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: "updates",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_OPTIONS_UPDATED: "options_updates",
    EventType.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED: "nexus",
    EventType.EVENT_TYPE_NEXUS_OPERATION_CANCEL_REQUESTED: "nexus",
}


def history_actions(history: WorkflowHistory) -> Counter[str]:
    """Billable actions recorded in one run's history, by kind (see the module doc)."""
    counts: Counter[str] = Counter()
    marker_tasks: set[int] = set()
    for event in history.events:
        kind = event.event_type
        if kind in _ONE_EACH:
            counts[_ONE_EACH[kind]] += 1
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            retries = event.activity_task_started_event_attributes.attempt - 1
            if retries > 0:
                counts["activity_retries"] += retries
        elif kind == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
            if set(fields.indexed_fields) - {CHANGE_VERSION}:
                counts["search_attribute_upserts"] += 1
        elif kind == EventType.EVENT_TYPE_MARKER_RECORDED:
            marker_tasks.add(
                event.marker_recorded_event_attributes.workflow_task_completed_event_id
            )
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            metering = event.workflow_task_completed_event_attributes.metering_metadata
            if metering.nonfirst_local_activity_execution_attempts:
                counts["local_activity_retries"] += (
                    metering.nonfirst_local_activity_execution_attempts
                )
        elif kind == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            counts["child_workflows"] += 2
    if marker_tasks:
        counts["local_activity_tasks"] = len(marker_tasks)
    return counts


@dataclass
class Cost:
    """Mean history events and actions per transfer, with the actions by kind."""

    transfers: int = 0
    history_events: float = 0.0
    actions: float = 0.0
    by_kind: dict[str, float] = field(default_factory=dict)


async def cost_of(rig: Rig, workflow_ids: list[str], heartbeats_each: float) -> Cost:
    """Costs runs from their histories, plus the server-counted heartbeats per transfer."""
    histories = await asyncio.gather(
        *(rig.client.get_workflow_handle(w).fetch_history() for w in workflow_ids)
    )
    n = len(histories)
    if n == 0:
        return Cost()
    total: Counter[str] = Counter()
    for history in histories:
        total.update(history_actions(history))
    by_kind = {k: round(v / n, 2) for k, v in sorted(total.items())}
    by_kind["heartbeats"] = round(heartbeats_each, 2)
    return Cost(
        transfers=n,
        history_events=round(sum(len(h.events) for h in histories) / n, 1),
        actions=round(sum(by_kind.values()), 2),
        by_kind=by_kind,
    )


async def heartbeat_count(rig: Rig) -> float:
    """Activity heartbeats the server has counted so far.

    The server exports its counters with a delay: read until two readings agree.
    """
    last = -1.0
    for _ in range(10):
        now = (await rig.server_actions()).get(HEARTBEAT_ACTION, 0.0)
        if now == last:
            break
        last = now
        await asyncio.sleep(1.0)
    return last


async def three_failures(rig: Rig, cfg: BenchConfig) -> list[str]:
    """Transfers whose three destinations all fail (486, 480, 603) before voicemail."""
    ids: list[str] = []
    fallback = Fallback(kind="voicemail", sip_call_to=VOICEMAIL, ring_timeout_s=30)
    for _ in range(cfg.failure_samples):
        call = await rig.call("fail")
        transfer = await rig.start(rig.request(call, THREE_FAILURES, fallback=fallback))
        outcome = await asyncio.wait_for(transfer.handle.outcome(), cfg.phase_timeout_s)
        if outcome.outcome == "voicemail" and len(outcome.attempts) == len(THREE_FAILURES):
            ids.append(transfer.handle.workflow_id)
    return ids


async def group_of_three(rig: Rig, cfg: BenchConfig) -> list[str]:
    """Transfers to a three-member ring group: one phone answers and is accepted as soon
    as it is briefed, the two others are cancelled while they ring."""
    ids: list[str] = []
    team = DestinationGroup(
        group=[Destination(sip_call_to=n) for n in (GROUP_ANSWERS, *GROUP_RINGS)],
        ring_timeout_s=30,
    )
    for _ in range(cfg.failure_samples):
        call = await rig.call("group")
        request = rig.request(call, [GROUP_ANSWERS]).model_copy(update={"destinations": [team]})
        rig.follower.accept_legs.add(member_identity(transfer_workflow_id(call.room_name), 1, 1))
        transfer = await rig.start(request)
        outcome = await asyncio.wait_for(transfer.handle.outcome(), cfg.phase_timeout_s)
        if outcome.outcome == "connected" and outcome.attempts[0].answered_by == 0:
            ids.append(transfer.handle.workflow_id)
    return ids
