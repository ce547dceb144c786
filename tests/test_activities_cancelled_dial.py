"""A dial the workflow cancels (another ring-group member answered, the caller left)
hangs up the leg it placed, even one LiveKit was still creating when the workflow's own
hang-up looked for it; a dial cancelled because its worker stops leaves the leg ringing
for the retry to follow. Real activities and `livekit-api` against the stand-in."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import pytest
from temporalio.activity import ActivityCancellationDetails
from temporalio.testing import ActivityEnvironment

from tests.livekit_rig import CONSULT, SLOW, Rig, dial, livekit_rig
from warm_transfer.livekit_sim import SimEvent
from warm_transfer.models import DialRequest, DialResult

LEG = "wt-1-human-1-2"


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with livekit_rig() as running:
        yield running


def ringing(e: SimEvent) -> bool:
    return e["type"] == "call_status" and e.get("status") == "ringing"


async def cancel_dial(
    rig: Rig, req: DialRequest, details: ActivityCancellationDetails, once: object
) -> None:
    """Runs the dial, cancels it with ``details`` once ``once`` (a coroutine) returns."""
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, heartbeat_timeout=None)
    running: asyncio.Task[DialResult] = asyncio.create_task(env.run(rig.acts.dial_human, req))
    await once  # type: ignore[misc]
    env.cancel(cancellation_details=details)
    with pytest.raises(asyncio.CancelledError):
        await running


async def legs_in_consult(rig: Rig) -> set[str]:
    rooms = (await rig.h.control.state())["rooms"]
    return set(rooms[CONSULT]["participants"]) if CONSULT in rooms else set()


async def test_a_dial_the_workflow_cancels_hangs_up_its_ringing_leg(rig: Rig) -> None:
    await cancel_dial(
        rig,
        dial(SLOW, LEG),
        ActivityCancellationDetails(cancel_requested=True),
        rig.h.control.wait_for_event(ringing),
    )
    assert LEG not in await legs_in_consult(rig)
    requests = [e.get("method") for e in await rig.h.control.events() if e["type"] == "sip_request"]
    assert requests == ["INVITE", "CANCEL"]


async def test_a_dial_cancelled_by_its_worker_stopping_leaves_the_leg_for_the_retry(
    rig: Rig,
) -> None:
    cases = {
        f"{LEG}-shutdown": ActivityCancellationDetails(worker_shutdown=True),
        f"{LEG}-timeout": ActivityCancellationDetails(timed_out=True),
    }
    for identity, details in cases.items():
        after = (await rig.h.control.state())["last_event_seq"]
        await cancel_dial(
            rig, dial(SLOW, identity), details, rig.h.control.wait_for_event(ringing, after=after)
        )
        assert identity in await legs_in_consult(rig)


async def test_a_dial_cancelled_while_its_create_is_on_the_way_still_hangs_up(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # LiveKit got the CreateSIPParticipant but creates the leg 300 ms later, after the
    # cancel: the workflow's own hang-up of the leg (at the cancel) found nothing.
    sip = rig.acts._lk.sip
    create = sip.create_sip_participant
    landed: list[asyncio.Task[object]] = []

    async def slow_create(*args: object, **kwargs: object) -> object:
        async def later() -> object:
            await asyncio.sleep(0.3)
            return await create(*args, **kwargs)  # type: ignore[arg-type]

        landed.append(asyncio.create_task(later()))
        return await asyncio.shield(landed[0])

    monkeypatch.setattr(sip, "create_sip_participant", slow_create)
    await cancel_dial(
        rig,
        dial(SLOW, LEG),
        ActivityCancellationDetails(cancel_requested=True),
        asyncio.sleep(0.05),
    )
    assert LEG not in await legs_in_consult(rig)
    methods = [e.get("method") for e in await rig.h.control.events() if e["type"] == "sip_request"]
    assert methods == ["INVITE", "CANCEL"]  # placed after the cancel, hung up all the same
    landed[0].cancel()
    await asyncio.gather(*landed, return_exceptions=True)
