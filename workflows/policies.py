"""Timeouts and retry policies of the transfer's activities, in one place.

Short LiveKit calls retry with capped exponential backoff; clean-up (hang up,
delete) retries until it succeeds or ten minutes pass, because a leg left ringing is
worse than a slow clean-up; a dial heartbeats so a dead worker is noticed in seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, Final, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, FailureError
from temporalio.exceptions import TimeoutError as ActivityTimeoutError
from temporalio.types import MethodAsyncSingleParam

with workflow.unsafe.imports_passed_through():
    from activities.livekit import LiveKitActivities
    from warm_transfer.models import (
        AttemptResult,
        DialRequest,
        DialResult,
        Stage,
        WatchRequest,
    )
    from warm_transfer.timing import ring_grace_s

P = TypeVar("P")
R = TypeVar("R")
Condition = Callable[[], bool]
Result = AttemptResult

SHORT_CALL: Final = timedelta(seconds=10)
RETRY: Final = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=5),
    maximum_attempts=10,
)
CLEANUP_RETRY: Final = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=0,
)
# Bounded by the dial's schedule-to-close window, not by a count of attempts.
DIAL_RETRY: Final = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=5),
)
DIAL_HEARTBEAT: Final = timedelta(seconds=5)
# Runs started before short calls became local activities replay as regular ones.
LOCAL_ACTIVITIES: Final = "local-activities"
# Runs started before the real-stack fault fixes replay without them: the briefing
# watched through LiveKit restarts, a caller found gone when taken off hold.
REAL_FAULTS: Final = "real-faults"


def dial_window_s(ring_timeout_s: float) -> float:
    """How long a dial may take in all, retries included: the ring timeout, LiveKit's
    grace, and one heartbeat timeout to survive a worker dying mid-ring. The server
    enforces it, so waiting on a dial costs no workflow timer."""
    return ring_timeout_s + ring_grace_s(ring_timeout_s) + DIAL_HEARTBEAT.total_seconds()


async def run(
    activity: MethodAsyncSingleParam[Any, P, R],
    arg: P,
    summary: str,
    *,
    timeout: timedelta = SHORT_CALL,
    local: bool = True,
) -> R:
    """Runs a LiveKit call with the standard retry policy.

    A short call runs as a local activity: in the worker that runs the workflow task,
    recorded as a marker, with no activity task to dispatch (no server round trips,
    one billed action for every local activity of a workflow task). Calls longer than
    a few seconds (a SIP REFER that rings) pass a ``timeout`` and stay regular
    activities that heartbeat, so a dead worker is still noticed quickly.

    ``local=False`` for the wrap-up that precedes the workflow's completion: a signal
    arriving during the workflow task that completes the run makes the server refuse
    that task (UnhandledCommand), and its local activities would all run again.
    """
    if local and timeout <= SHORT_CALL and workflow.patched(LOCAL_ACTIVITIES):
        return await _local(
            activity, arg, summary, start_to_close_timeout=timeout, retry_policy=RETRY
        )
    return await workflow.execute_activity_method(
        activity,
        arg,
        start_to_close_timeout=timeout,
        heartbeat_timeout=DIAL_HEARTBEAT if timeout > SHORT_CALL else None,
        retry_policy=RETRY,
        summary=summary,
    )


async def run_cleanup(
    activity: MethodAsyncSingleParam[Any, P, R], arg: P, summary: str, *, local: bool = True
) -> R:
    """Runs a clean-up call that keeps retrying for ten minutes (see `run` on ``local``)."""
    options: dict[str, Any] = {
        "start_to_close_timeout": SHORT_CALL,
        "schedule_to_close_timeout": timedelta(minutes=10),
        "retry_policy": CLEANUP_RETRY,
    }
    if local and workflow.patched(LOCAL_ACTIVITIES):
        return await _local(activity, arg, summary, **options)
    return await workflow.execute_activity_method(activity, arg, summary=summary, **options)


async def _local(
    activity: MethodAsyncSingleParam[Any, P, R], arg: P, summary: str, **options: Any
) -> R:
    """A local activity whose failure is raised as an `ActivityError`, like a regular
    activity's: the SDK raises a local activity's failure (an `ApplicationError`, a
    `TimeoutError`) unwrapped, and the call flow catches `ActivityError`."""
    try:
        return await workflow.execute_local_activity_method(
            activity, arg, summary=summary, **options
        )
    except FailureError as err:
        if isinstance(err, ActivityError):
            raise
        raise ActivityError(
            f"local activity failed: {err}",
            scheduled_event_id=0,
            started_event_id=0,
            identity="",
            activity_type=getattr(activity, "__name__", "local activity"),
            activity_id="",
            retry_state=None,
        ) from err


def start_dial(req: DialRequest, summary: str) -> workflow.ActivityHandle[DialResult]:
    """Starts dialing a leg; the handle resolves when it is answered or has failed."""
    window = timedelta(seconds=dial_window_s(req.ring_timeout_s))
    return workflow.start_activity_method(
        LiveKitActivities.dial_human,
        req,
        start_to_close_timeout=window,
        schedule_to_close_timeout=window,
        heartbeat_timeout=DIAL_HEARTBEAT,
        retry_policy=DIAL_RETRY,
        summary=summary,
    )


def start_watch(req: WatchRequest, accept_timeout_s: float) -> workflow.ActivityHandle[Any]:
    """Starts watching a briefing (`watch_briefing`) for as long as the decision may
    take; the caller cancels it when the wait ends. It heartbeats, so a dead worker's
    watch moves to another within the heartbeat timeout."""
    return workflow.start_activity_method(
        LiveKitActivities.watch_briefing,
        req,
        start_to_close_timeout=timedelta(seconds=accept_timeout_s) + SHORT_CALL,
        heartbeat_timeout=DIAL_HEARTBEAT,
        retry_policy=RETRY,
        cancellation_type=workflow.ActivityCancellationType.TRY_CANCEL,
        summary="watch the briefing",
    )


def refuse_unless(stage: Stage, allowed: tuple[Stage, ...], action: str) -> None:
    """An update validator's refusal, naming the stage that makes it senseless."""
    if stage not in allowed:
        raise ValueError(f"cannot {action} while the transfer is {stage!r}")


def dial_error(err: ActivityError) -> tuple[Result, str]:
    """An attempt's result when its dial activity failed for good."""
    if isinstance(err.cause, ActivityTimeoutError):
        return "no_answer", "ring timeout: LiveKit never reported the call's end"
    return "failed", f"dial failed: {err.cause or err}"
