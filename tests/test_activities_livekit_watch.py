"""`watch_briefing` through the real `livekit-api` client against the stand-in: a
``same_room`` briefing kept whole when its participants come back as new ones (what a
livekit-server restart does), and the watch's own end once the human is bridged."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from activities import livekit_watch
from tests.livekit_rig import (
    AGENT,
    CALLER,
    CALLER_ROOM,
    LEG,
    Rig,
    bridge_request,
    brief_request,
    dial,
    livekit_rig,
)
from warm_transfer.models import BriefRequest, WatchRequest


@pytest.fixture
async def rig(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Rig]:
    monkeypatch.setattr(livekit_watch, "SETTLE_S", 0.2)
    async with livekit_rig() as running:
        running.acts.watch_poll_s = 0.05
        yield running


def same_room_brief() -> BriefRequest:
    return brief_request(CALLER_ROOM)


async def briefed(rig: Rig) -> WatchRequest:
    """The human dialed into the caller's room, answered and briefed there."""
    leg = dial(isolate=True).model_copy(update={"room_name": CALLER_ROOM})
    await rig.run(rig.acts.dial_human, leg)
    brief = same_room_brief()
    result = await rig.run(rig.acts.brief_human, brief)
    assert set(result.participant_sids) == {LEG, CALLER, AGENT}
    return WatchRequest(brief=brief, participant_sids=result.participant_sids)


async def test_a_caller_back_as_a_new_participant_is_kept_from_the_brief(rig: Rig) -> None:
    watch = asyncio.create_task(rig.run(rig.acts.watch_briefing, await briefed(rig)))
    try:
        assert LEG not in (await rig.h.control.audibility(CALLER_ROOM))[CALLER]
        # The caller rejoins (new SID), auto-subscribed to everyone, the human included.
        await rig.h.control.remove_participant(CALLER_ROOM, CALLER)
        await rig.h.control.add_participant(CALLER_ROOM, CALLER, kind="sip")
        dispatches = await rig.count("CreateDispatch")
        for _ in range(100):
            heard = await rig.h.control.audibility(CALLER_ROOM)
            if LEG not in heard[CALLER] and await rig.count("CreateDispatch") > dispatches:
                break
            await asyncio.sleep(0.05)
        assert LEG not in heard[CALLER], "the rejoined caller hears the human being briefed"
        assert CALLER not in heard[LEG]
        assert await rig.count("CreateDispatch") == dispatches + 1  # briefed again, once
    finally:
        watch.cancel()
        await asyncio.gather(watch, return_exceptions=True)


async def test_the_watch_ends_once_the_human_is_bridged(rig: Rig) -> None:
    watch = asyncio.create_task(rig.run(rig.acts.watch_briefing, await briefed(rig)))
    bridge = bridge_request(CALLER_ROOM)
    await rig.run(rig.acts.bridge_caller, bridge)
    # Not cancelled: it must see the bridge itself, or it could isolate the human again.
    result = await asyncio.wait_for(watch, timeout=5)
    assert result.agent_name
    assert LEG in (await rig.h.control.audibility(CALLER_ROOM))[CALLER]
