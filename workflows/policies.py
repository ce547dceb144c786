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
from temporalio.exceptions import ActivityError
from temporalio.exceptions import TimeoutError as ActivityTimeoutError
from temporalio.types import MethodAsyncSingleParam

with workflow.unsafe.imports_passed_through():
    from activities.livekit import LiveKitActivities
    from warm_transfer.models import AttemptResult, DialRequest, DialResult, Stage

P = TypeVar("P")
R = TypeVar("R")
Condition = Callable[[], bool]
Result = AttemptResult

# Time given to LiveKit beyond a destination's ring timeout before the engine stops
# waiting on its own clock (the trunk's dialing time, a slow 408).
RING_GRACE_S: Final = 10.0


def ring_grace_s(ring_timeout_s: float) -> float:
    """The grace beyond a ring timeout: up to ten seconds, less for short rings."""
    return min(RING_GRACE_S, 2.0 + ring_timeout_s / 3)


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
) -> R:
    """Runs a LiveKit activity with the standard retry policy.

    Calls longer than a few seconds (a SIP REFER that rings) pass a ``timeout`` and
    heartbeat, so a dead worker is still noticed quickly.
    """
    return await workflow.execute_activity_method(
        activity,
        arg,
        start_to_close_timeout=timeout,
        heartbeat_timeout=DIAL_HEARTBEAT if timeout > SHORT_CALL else None,
        retry_policy=RETRY,
        summary=summary,
    )


async def run_cleanup(activity: MethodAsyncSingleParam[Any, P, R], arg: P, summary: str) -> R:
    """Runs a clean-up activity that keeps retrying for up to ten minutes."""
    return await workflow.execute_activity_method(
        activity,
        arg,
        start_to_close_timeout=SHORT_CALL,
        schedule_to_close_timeout=timedelta(minutes=10),
        retry_policy=CLEANUP_RETRY,
        summary=summary,
    )


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


def refuse_unless(stage: Stage, allowed: tuple[Stage, ...], action: str) -> None:
    """An update validator's refusal, naming the stage that makes it senseless."""
    if stage not in allowed:
        raise ValueError(f"cannot {action} while the transfer is {stage!r}")


def dial_error(err: ActivityError) -> tuple[Result, str]:
    """An attempt's result when its dial activity failed for good."""
    if isinstance(err.cause, ActivityTimeoutError):
        return "no_answer", "ring timeout: LiveKit never reported the call's end"
    return "failed", f"dial failed: {err.cause or err}"
