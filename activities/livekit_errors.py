"""How LiveKit's answers become Temporal's decisions: retry, give up, or an outcome.

Retrying is Temporal's job (a retry policy with backoff), so an activity only has to
say which failures a retry can fix: transport errors, 5xx and 429 that carry no SIP
status. Everything else is a fact about the request or the call (busy, bad number,
unknown trunk, permission denied) and fails the activity at once or becomes the
attempt's result.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from typing import Final

import aiohttp
from livekit.api import ServerError, ServerErrorCode
from temporalio.exceptions import ApplicationError

from warm_transfer.models import AttemptResult

# SIP final responses, as LiveKit reports them in the error's metadata.
_SIP_RESULTS: Final[dict[int, AttemptResult]] = {
    486: "busy",
    600: "busy",
    603: "declined",
    408: "no_answer",
    480: "no_answer",
    487: "no_answer",
}


def is_not_found(err: ServerError) -> bool:
    """True when LiveKit says the room or participant does not exist (any more)."""
    return err.code == ServerErrorCode.NOT_FOUND


def is_unsupported(err: ServerError) -> bool:
    """True when this LiveKit does not implement the call at all.

    Self-hosted livekit-server answers MoveParticipant for a participant it hosts with
    ``unknown``/500 "not implemented" (its RoomManager's ``errors.New``), not with
    ``unimplemented``; both mean the same, and no retry changes it.
    """
    return err.code == ServerErrorCode.UNIMPLEMENTED or "not implemented" in err.message.lower()


def is_unrouted(err: ServerError) -> bool:
    """True when self-hosted LiveKit found no node for the request's participant.

    livekit-server forwards participant calls over psrpc to the node hosting the
    participant; for one that exists nowhere it answers ``unavailable``/503 "no
    response from servers" after psrpc's 3 s timeout (LiveKit Cloud says not_found).
    """
    return err.code == ServerErrorCode.UNAVAILABLE and "no response from servers" in err.message


def is_retryable(err: BaseException) -> bool:
    """True for failures a later attempt can fix: transport errors, timeouts, 5xx, 429.

    A SIP final response is never retryable, whatever its HTTP status: LiveKit sends
    408 (no answer) as ``deadline_exceeded``/504 and 486 (busy) as
    ``resource_exhausted``/429, and retrying those would ring the person again.
    Authentication failures (401, which self-hosted LiveKit reports as ``unknown``)
    and every other 4xx are facts about the request: retrying cannot fix them.
    """
    if isinstance(err, aiohttp.ClientError | asyncio.TimeoutError | ConnectionError):
        return True
    if isinstance(err, ServerError):
        if sip_status_code(err) is not None or is_unsupported(err):
            return False
        return err.status >= 500 or err.status == 429
    return False


def sip_status_code(err: ServerError) -> int | None:
    """The SIP status of a failed dial or REFER, if LiveKit reported one."""
    raw = (err.metadata or {}).get("sip_status_code")
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def dial_failure(err: ServerError) -> tuple[AttemptResult, int | None, str]:
    """Classifies a dial LiveKit refused or the far end rejected.

    Returns:
        The attempt result, the SIP status code (if any) and a reason for people.
    """
    code = sip_status_code(err)
    if code is not None:
        phrase = err.metadata.get("sip_status") or err.message
        result = _SIP_RESULTS.get(code, "failed")
        if code in (404, 484, 410, 604):
            phrase = f"bad number ({phrase})"
        return result, code, f"SIP {code} {phrase}".strip()
    if is_ring_timeout(err):
        return "no_answer", None, "no answer within the ring timeout"
    return "failed", None, f"LiveKit refused the call: {err.code}: {err.message}"


def is_ring_timeout(err: ServerError) -> bool:
    """True for a dial LiveKit gave up on at its ``ringing_timeout``.

    livekit-sip reports it as ``canceled`` "sip request timed out" with no SIP status
    (it sends the CANCEL itself), for a phone that rang and for a far end that never
    answered at all: either way nobody took the call in time.
    """
    return err.code == ServerErrorCode.CANCELED and "timed out" in err.message


def non_retryable(action: str, err: ServerError) -> ApplicationError:
    """An error that tells Temporal not to retry, naming the action and LiveKit's code."""
    return ApplicationError(
        f"{action}: LiveKit answered {err.code}: {err.message}",
        type=f"LiveKit:{err.code}",
        non_retryable=True,
    )


@contextmanager
def livekit_errors(action: str) -> Iterator[None]:
    """Lets retryable failures through to Temporal's retry policy; stops the rest.

    A ``ServerError`` that a retry cannot fix becomes a non-retryable
    ``ApplicationError`` whose message names the action (e.g. ``bridge_caller``).
    """
    try:
        yield
    except ServerError as err:
        if is_retryable(err):
            raise
        raise non_retryable(action, err) from err


async def unless_not_found(action: str, call: Awaitable[object]) -> bool:
    """Runs a LiveKit call whose target may already be gone.

    Returns:
        False when LiveKit answers ``not_found`` (the leg, room or participant is
        already gone, which for a hang-up or a delete is the goal), or self-hosted
        LiveKit finds no node for it (`is_unrouted`: how it answers a room-scoped call,
        such as SendData or UpdateSubscriptions, for a room or participant that is
        gone); True otherwise.
    """
    try:
        await call
    except ServerError as err:
        if is_not_found(err) or is_unrouted(err):
            return False
        if is_retryable(err):
            raise
        raise non_retryable(action, err) from err
    return True
