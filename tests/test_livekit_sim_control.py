"""The sim-only side of the LiveKit stand-in: SimControl, runtime scenarios, room lifecycle."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from livekit import api

from warm_transfer.livekit_sim import Scenario, SimConfig, SimControlError
from warm_transfer.livekit_sim.testing import SimHarness, sim_harness

SECRET = "a-test-secret-that-is-at-least-32-bytes-long"


@pytest.fixture
async def h() -> AsyncIterator[SimHarness]:
    async with sim_harness(SimConfig(api_secret=SECRET, time_scale=0.01)) as harness:
        yield harness


def dial(number: str, identity: str = "leg") -> api.CreateSIPParticipantRequest:
    return api.CreateSIPParticipantRequest(
        sip_trunk_id="ST_x",
        sip_call_to=number,
        room_name="r",
        participant_identity=identity,
        wait_until_answered=True,
    )


async def test_caller_hangs_up_on_its_own(h: SimHarness) -> None:
    joined = await h.control.add_participant(
        "r", "caller", kind="sip", attributes={"sip.callStatus": "active"}, name="Caller"
    )
    assert (joined["kind"], joined["state"], joined["name"]) == ("SIP", "ACTIVE", "Caller")
    assert len(joined["tracks"]) == 1
    await h.control.remove_participant("r", "caller")
    events = await h.control.events()
    [left] = [e for e in events if e["type"] == "participant_left"]
    assert (left["participant_identity"], left["reason"]) == ("caller", "CLIENT_INITIATED")
    [changed] = [e for e in events if e["type"] == "attributes_changed"]
    assert changed["changed"] == {"sip.callStatus": "hangup"}
    with pytest.raises(SimControlError) as err:
        await h.control.remove_participant("r", "caller")
    assert err.value.status == 404
    with pytest.raises(SimControlError) as err:
        await h.control.audibility("nowhere")
    assert err.value.status == 404


async def test_answered_leg_hangs_up_on_its_own(h: SimHarness) -> None:
    await h.api.sip.create_sip_participant(dial("+15105550100"))
    await h.control.remove_participant("r", "leg")
    statuses = [e["status"] for e in await h.control.events() if e["type"] == "call_status"]
    assert statuses == ["dialing", "ringing", "active", "hangup"]


async def test_runtime_scenarios_and_reset(h: SimHarness) -> None:
    numbers = await h.control.set_scenarios(
        {"+17775550000": Scenario(outcome="busy", ring_s=0), "+17775550001": {"outcome": "decline"}}
    )
    assert {"+17775550000", "+17775550001", "default", "+15105550100"} <= set(numbers)
    with pytest.raises(api.SipCallError) as err:
        await h.api.sip.create_sip_participant(dial("+17775550000"))
    assert err.value.sip_status_code == 486
    with pytest.raises(SimControlError) as bad:
        await h.control.set_scenarios({"+1": {"outcome": "maybe"}})
    assert bad.value.status == 400

    await h.control.reset()
    state = await h.control.state()
    assert (state["rooms"], state["counters"], await h.control.events()) == ({}, {}, [])
    # Back to the configured table: that number now gets the default scenario (answer).
    info = await h.api.sip.create_sip_participant(dial("+17775550000"))
    assert info.participant_identity == "leg"

    only = await h.control.set_scenarios({"default": Scenario(outcome="unavailable")}, True)
    assert only == ["default"]
    with pytest.raises(api.SipCallError) as err:
        await h.api.sip.create_sip_participant(dial("+15105550100", "other"))
    assert err.value.sip_status_code == 480


async def test_room_closes_after_departure_timeout(h: SimHarness) -> None:
    await h.api.room.create_room(api.CreateRoomRequest(name="r", departure_timeout=1))
    await h.control.add_participant("r", "caller")
    await h.control.remove_participant("r", "caller")
    closed = await h.control.wait_for_event(lambda e: e["type"] == "room_deleted", timeout=5)
    assert closed["reason"] == "departure_timeout"
    left = [e for e in await h.control.events() if e["type"] == "participant_left"]
    assert closed["time"] - left[0]["time"] >= 1.0


async def test_mute_and_room_metadata(h: SimHarness) -> None:
    await h.control.add_participant("r", "caller", kind="sip")
    await h.control.add_participant("r", "agent", kind="agent")
    caller = await h.api.room.get_participant(
        api.RoomParticipantIdentity(room="r", identity="caller")
    )
    muted = await h.api.room.mute_published_track(
        api.MuteRoomTrackRequest(
            room="r", identity="caller", track_sid=caller.tracks[0].sid, muted=True
        )
    )
    assert muted.track.muted
    assert (await h.control.audibility("r"))["agent"] == []
    with pytest.raises(api.ServerError) as err:
        await h.api.room.mute_published_track(
            api.MuteRoomTrackRequest(room="r", identity="caller", track_sid="TR_nope", muted=True)
        )
    assert err.value.code == "not_found"
    room = await h.api.room.update_room_metadata(
        api.UpdateRoomMetadataRequest(room="r", metadata="phase=brief")
    )
    assert room.metadata == "phase=brief" and room.num_participants == 2


async def test_events_long_poll_wakes_up_on_new_events(h: SimHarness) -> None:
    seq = (await h.control.state())["last_event_seq"]
    poll = asyncio.create_task(h.control.events(after=seq, timeout=5))
    await asyncio.sleep(0.05)
    assert not poll.done()
    await h.api.room.create_room(api.CreateRoomRequest(name="woke"))
    events = await asyncio.wait_for(poll, 2)
    assert [(e["type"], e["room"]) for e in events] == [("room_created", "woke")]
    assert events[0]["seq"] == seq + 1


async def test_answer_picks_up_ringing_phones_at_once_and_phones_see_sip_requests(
    h: SimHarness,
) -> None:
    await h.control.set_scenarios({"+15550001": Scenario(outcome="answer", ring_s=1000)})
    dials = [
        asyncio.create_task(h.api.sip.create_sip_participant(dial("+15550001", leg)))
        for leg in ("a", "b", "c")
    ]
    async with asyncio.timeout(5):
        while len(await h.control.calls(method="CreateSIPParticipant")) < 3:
            await asyncio.sleep(0.01)
        while len([e for e in await h.control.events() if e.get("status") == "ringing"]) < 3:
            await asyncio.sleep(0.01)
    assert await h.control.answer("r", "a", "b") == ["a", "b"]
    await asyncio.gather(*dials[:2])
    active = [e for e in await h.control.events() if e.get("status") == "active"]
    assert sorted(e["participant_identity"] for e in active) == ["a", "b"]
    assert active[1]["time"] - active[0]["time"] < 0.001  # the same millisecond
    assert await h.control.answer("r", "a") == []  # already answered: left as it is
    with pytest.raises(SimControlError) as err:
        await h.control.answer("r", "nobody")
    assert err.value.status == 404
    # LiveKit hangs up: a CANCEL to the phone still ringing, a BYE to one that answered.
    await h.api.room.remove_participant(api.RoomParticipantIdentity(room="r", identity="c"))
    await h.api.room.remove_participant(api.RoomParticipantIdentity(room="r", identity="b"))
    with pytest.raises(api.TwirpError):
        await dials[2]
    sent = [
        (e["participant_identity"], e["method"])
        for e in await h.control.events()
        if e["type"] == "sip_request"
    ]
    assert sorted(sent[:3]) == [("a", "INVITE"), ("b", "INVITE"), ("c", "INVITE")]
    assert sent[3:] == [("c", "CANCEL"), ("b", "BYE")]
