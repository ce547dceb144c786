"""Whom each caller heard, and when: the SFU sampled during a row, judged against the
accepts in the workflow's history (a caller must not hear a human before the accept)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Mapping, Sequence
from datetime import UTC
from typing import TYPE_CHECKING, Protocol

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from warm_transfer.realstack.sfu import subscribers

if TYPE_CHECKING:
    from warm_transfer.faultsuite.real_audit import Observed

# How often the SFU is asked whom each caller hears.
SAMPLE_S = 0.25


class Heard(Protocol):
    """A transfer under way: what the harness has observed of it."""

    @property
    def seen(self) -> Observed: ...


async def sample_sfu(
    lk_ip: str, transfers: Sequence[Heard], out: dict[str, list[tuple[float, set[str]]]]
) -> None:
    """Samples, until cancelled, which of its human legs each caller hears (the SFU's
    own subscriptions); a sample the SFU cannot give (it restarts) is skipped."""
    while True:
        for t in transfers:
            with contextlib.suppress(Exception):
                heard = await subscribers(lk_ip, t.seen.room)
                legs = {
                    leg
                    for leg, listeners in heard.items()
                    if leg.startswith(f"{t.seen.workflow_id}-human-")
                    and t.seen.caller_identity in listeners
                }
                out[t.seen.tag].append((time.time(), legs))
        await asyncio.sleep(SAMPLE_S)


async def accepted_at(client: Client, workflow_id: str) -> dict[str, float]:
    """Leg identity -> wall clock of its first ``human_accepted`` (the history's)."""
    accepted: dict[str, float] = {}
    with contextlib.suppress(Exception):  # no history: every sample counts as early
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        for event in history.events:
            if event.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
                continue
            signaled = event.workflow_execution_signaled_event_attributes
            if signaled.signal_name != "human_accepted" or not signaled.input.payloads:
                continue
            leg = str(json.loads(signaled.input.payloads[0].data).get("participant_identity"))
            accepted.setdefault(leg, event.event_time.ToDatetime(tzinfo=UTC).timestamp())
    return accepted


def heard_early(
    samples: Sequence[tuple[float, set[str]]],
    accepted_at: Mapping[str, float],
    every_s: float,
    *,
    since: float = float("-inf"),
) -> float:
    """The longest run of SFU samples that had the caller hearing a human leg before
    that leg's accept (never accepted: at any time), in seconds. Only samples from
    ``since`` count: a phone sends no audio before it picks up, so a caller subscribed
    to a leg still ringing hears nothing of it."""
    longest, run_start, last = 0.0, None, None
    for at, legs in samples:
        early = at >= since and any(at < accepted_at.get(leg, float("inf")) for leg in legs)
        if early:
            run_start = at if run_start is None else run_start
            last = at
            longest = max(longest, last - run_start + every_s)
        else:
            run_start = None
    return longest
