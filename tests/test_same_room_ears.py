"""``same_room``: the dial that makes a leg deaf and the brief that gives it ears run at
once (the brief starts on human_answered, while the dial may still be isolating), so
they are ordered by the leg's ``warm_transfer.state``. Real `livekit-api` client,
stand-in LiveKit, one activity attempt at a time (tests.livekit_rig).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from livekit import api

from tests.livekit_rig import (
    AGENT,
    CALLER,
    CALLER_ROOM,
    LEG,
    SLOW,
    Rig,
    bridge_request,
    brief_request,
    dial,
    livekit_rig,
)
from warm_transfer.wire import ATTR_ROLE, ATTR_STATE, BRIDGED, BRIEFING, ISOLATED

BRIEF = brief_request(CALLER_ROOM)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with livekit_rig() as running:
        yield running


async def leg(rig: Rig) -> api.ParticipantInfo:
    """The human's leg as LiveKit reports it."""
    found = await rig.acts._find(CALLER_ROOM, LEG)
    assert found is not None
    return found


async def test_a_brief_waits_for_the_dial_to_make_the_leg_deaf_before_it_opens_its_ears(
    rig: Rig,
) -> None:
    # An answered leg with its track published, which its dial has not made deaf yet.
    await rig.h.control.add_participant(
        CALLER_ROOM, LEG, kind="sip", attributes={ATTR_ROLE: "human"}
    )
    brief = asyncio.create_task(rig.run(rig.acts.brief_human, BRIEF))
    await asyncio.sleep(0.3)
    assert not brief.done()
    assert not await rig.h.control.calls(method="CreateDispatch")
    # The dial's deafness lands (as its isolation sends it: permission and mark at once).
    await rig.acts._set_permission(CALLER_ROOM, LEG, hearing=False, state=ISOLATED)
    result = await asyncio.wait_for(brief, 5)
    after = await leg(rig)
    assert after.permission.can_subscribe, "the brief's ears came after the deafness"
    assert after.attributes[ATTR_STATE] == BRIEFING
    assert set(result.participant_sids) == {LEG, CALLER, AGENT}


async def test_a_late_dial_never_makes_a_briefed_leg_deaf_again(rig: Rig) -> None:
    # The whole order on the stand-in: dial, answer, brief; then a retried dial of the
    # same leg (its worker died after the answer) follows it, and must leave its ears.
    req = dial(SLOW, isolate=True).model_copy(update={"room_name": CALLER_ROOM})
    assert (await rig.run(rig.acts.dial_human, req)).result == "answered"
    assert (await leg(rig)).attributes[ATTR_STATE] == ISOLATED
    await rig.run(rig.acts.brief_human, BRIEF)
    assert (await leg(rig)).permission.can_subscribe
    deaf_before = await deaf_updates(rig)
    assert (await rig.run(rig.acts.dial_human, req, attempt=2)).result == "answered"
    assert (await leg(rig)).permission.can_subscribe
    assert (await deaf_updates(rig), deaf_before) == (1, 1)
    # ...while the caller and the AI agent are still kept off the human's track.
    people = (await rig.h.control.state())["rooms"][CALLER_ROOM]["participants"]
    track = people[LEG]["tracks"][0]["sid"]
    assert track in people[CALLER]["unsubscribed"] and track in people[AGENT]["unsubscribed"]


async def deaf_updates(rig: Rig) -> int:
    """UpdateParticipant calls that took the leg's hearing away."""
    return sum(
        1
        for c in await rig.h.control.calls(method="UpdateParticipant")
        if (r := c["request"])
        and r.get("identity") == LEG
        and "permission" in r
        and not r["permission"].get("can_subscribe")
    )


async def test_the_bridge_marks_and_opens_the_human_before_anyone_hears_them(rig: Rig) -> None:
    req = dial(isolate=True).model_copy(update={"room_name": CALLER_ROOM})
    await rig.run(rig.acts.dial_human, req)
    await rig.run(rig.acts.brief_human, BRIEF)
    seen = len(await rig.h.control.calls())
    bridge = bridge_request(CALLER_ROOM)
    await rig.run(rig.acts.bridge_caller, bridge)
    calls = [c for c in (await rig.h.control.calls())[seen:] if c["request"]]
    kinds = [c["method"] for c in calls]
    # A briefing watch that has not seen its cancellation reads the mark: it comes first.
    assert kinds.index("UpdateParticipant") < kinds.index("UpdateSubscriptions"), kinds
    [mark] = [r for c in calls if c["method"] == "UpdateParticipant" and (r := c["request"])]
    assert mark["attributes"] == {ATTR_STATE: BRIDGED}
    assert mark["permission"].get("can_subscribe"), mark
    heard = await rig.h.control.audibility(CALLER_ROOM)
    assert LEG in heard[CALLER] and CALLER in heard[LEG], heard
    assert AGENT not in heard[LEG], "the human hears the AI agent's hold audio"
