"""SIP legs of the LiveKit stand-in: every scenario, with and without wait_until_answered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from livekit import api

from warm_transfer.livekit_sim import Scenario, SimConfig, SimEvent
from warm_transfer.livekit_sim.testing import SimHarness, sim_harness

SECRET = "a-test-secret-that-is-at-least-32-bytes-long"
TRUNK = "ST_test"
SCALE = 0.01
SLOW = "+19995550000"  # rings 0.25 s at this scale


@pytest.fixture
async def h() -> AsyncIterator[SimHarness]:
    config = SimConfig(
        api_secret=SECRET,
        time_scale=SCALE,
        scenarios={SLOW: Scenario(ring_s=25, decision="accept")},
    )
    async with sim_harness(config) as harness:
        yield harness


def dial(
    number: str, identity: str, *, wait: bool, room: str = "consult"
) -> api.CreateSIPParticipantRequest:
    return api.CreateSIPParticipantRequest(
        sip_trunk_id=TRUNK,
        sip_call_to=number,
        room_name=room,
        participant_identity=identity,
        wait_until_answered=wait,
    )


async def statuses(h: SimHarness, identity: str) -> list[str]:
    events = await h.control.events()
    return [e["status"] for e in events if e["type"] == "call_status" and _is(e, identity)]


def _is(event: SimEvent, identity: str) -> bool:
    return event.get("participant_identity") == identity


async def left(h: SimHarness, identity: str) -> SimEvent:
    return await h.control.wait_for_event(
        lambda e: e["type"] == "participant_left" and _is(e, identity), timeout=5
    )


@pytest.mark.parametrize("wait", [True, False])
async def test_answered_leg(h: SimHarness, wait: bool) -> None:
    req = dial("+15105550100", "leg", wait=wait)
    req.participant_attributes["warm_transfer.role"] = "agent"
    req.dtmf = "ww123"
    req.headers["X-Case"] = "42"
    req.play_ringtone = True
    req.sip_number = "+15550001111"
    info = await h.api.sip.create_sip_participant(req)
    assert (info.participant_identity, info.room_name) == ("leg", "consult")
    assert info.sip_call_id.startswith("SCL_") and info.participant_id.startswith("PA_")
    lookup = api.RoomParticipantIdentity(room="consult", identity="leg")
    if not wait:
        # Returned at once: the participant is there, still dialing, its track published
        # (livekit-sip publishes before the INVITE).
        early = await h.api.room.get_participant(lookup)
        assert early.state == api.ParticipantInfo.JOINING and len(early.tracks) == 1
        # "ringing" follows within a tenth of a (scaled) second; a loaded machine may
        # be that slow.
        assert early.attributes["sip.callStatus"] in ("dialing", "ringing")
        await h.control.wait_for_event(lambda e: e.get("status") == "active", timeout=5)
    p = await h.api.room.get_participant(lookup)
    assert p.state == api.ParticipantInfo.ACTIVE and p.kind == api.ParticipantInfo.SIP
    assert len(p.tracks) == 1
    assert dict(p.attributes) == {
        "warm_transfer.role": "agent",
        "sip.callID": info.sip_call_id,
        "sip.callStatus": "active",
        "sip.trunkID": TRUNK,
        "sip.phoneNumber": "+15105550100",
        "sip.trunkPhoneNumber": "+15550001111",
    }
    assert await statuses(h, "leg") == ["dialing", "ringing", "active"]
    joined = [e for e in await h.control.events() if e["type"] == "participant_joined"]
    assert joined[0]["attributes"]["sip.callStatus"] == "dialing"
    sip = (await h.control.state())["rooms"]["consult"]["participants"]["leg"]["sip"]
    assert sip is not None
    assert (sip["dtmf"], sip["headers"], sip["play_ringtone"]) == ("ww123", {"X-Case": "42"}, True)
    assert sip["wait_until_answered"] is wait


FAILURES = [
    # number, SIP code, Twirp code, HTTP status, disconnect reason
    ("+15105550101", 486, "resource_exhausted", 429, "USER_UNAVAILABLE"),
    ("+15105550102", 408, "deadline_exceeded", 504, "USER_UNAVAILABLE"),
    ("+15105550104", 404, "not_found", 404, "SIP_TRUNK_FAILURE"),
    ("+15105550106", 603, "permission_denied", 403, "USER_REJECTED"),
    ("+15105550107", 480, "resource_exhausted", 429, "USER_UNAVAILABLE"),
]


@pytest.mark.parametrize(("number", "sip", "code", "status", "reason"), FAILURES)
async def test_failed_leg_with_wait(
    h: SimHarness, number: str, sip: int, code: str, status: int, reason: str
) -> None:
    with pytest.raises(api.SipCallError) as err:
        await h.api.sip.create_sip_participant(dial(number, "leg", wait=True))
    assert err.value.sip_status_code == sip
    assert (err.value.code, err.value.status) == (code, status)
    assert (
        err.value.metadata["sip_status"]
        == {
            486: "Busy Here",
            408: "Request Timeout",
            404: "Not Found",
            603: "Decline",
            480: "Temporarily Unavailable",
        }[sip]
    )
    assert (await left(h, "leg"))["reason"] == reason
    expected = ["dialing", "hangup"] if sip == 404 else ["dialing", "ringing", "hangup"]
    assert await statuses(h, "leg") == expected


@pytest.mark.parametrize(("number", "sip", "code", "status", "reason"), FAILURES)
async def test_failed_leg_without_wait(
    h: SimHarness, number: str, sip: int, code: str, status: int, reason: str
) -> None:
    info = await h.api.sip.create_sip_participant(dial(number, "leg", wait=False))
    assert info.participant_identity == "leg"
    gone = await left(h, "leg")
    assert gone["reason"] == reason
    hangups = [e for e in await h.control.events() if e.get("status") == "hangup"]
    assert [e["sip_status_code"] for e in hangups] == [sip]
    with pytest.raises(api.ServerError) as err:
        await h.api.room.get_participant(
            api.RoomParticipantIdentity(room="consult", identity="leg")
        )
    assert err.value.code == "not_found"


async def test_no_answer_honours_ringing_timeout(h: SimHarness) -> None:
    req = dial(SLOW, "leg", wait=True)
    req.ringing_timeout.seconds = 10  # 0.1 s here, before the 0.25 s answer
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(api.SipCallError) as err:
        await h.api.sip.create_sip_participant(req)
    assert err.value.sip_status_code == 408
    assert 0.09 <= loop.time() - started < 0.24


async def test_decisions_start_with_the_briefing(h: SimHarness) -> None:
    await h.api.sip.create_sip_participant(dial("+15105550100", "yes", wait=True, room="a"))
    await h.api.sip.create_sip_participant(dial("+15105550103", "no", wait=True, room="b"))
    await h.api.sip.create_sip_participant(dial("+15105550199", "vm", wait=True, room="c"))
    # No dispatch yet, no briefing: nobody presses anything.
    await asyncio.sleep(0.05)
    assert not [e for e in await h.control.events() if e["type"] == "sip_dtmf"]
    for room in ("a", "b", "c"):
        await h.api.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(agent_name="briefer", room=room)
        )
    yes = await h.control.wait_for_event(lambda e: e["type"] == "sip_dtmf" and _is(e, "yes"))
    no = await h.control.wait_for_event(lambda e: e["type"] == "sip_dtmf" and _is(e, "no"))
    assert (yes["digit"], yes["room"], no["digit"]) == ("1", "a", "2")
    dispatched = {
        e["room"]: e["time"] for e in await h.control.events() if e["type"] == "dispatch_created"
    }
    assert yes["time"] - dispatched["a"] >= 1.0 * SCALE
    assert no["time"] - dispatched["b"] >= 1.5 * SCALE
    await asyncio.sleep(0.05)
    assert not [e for e in await h.control.events() if e["type"] == "sip_dtmf" and _is(e, "vm")]


async def test_dispatch_before_answer_decides_after_answer(h: SimHarness) -> None:
    await h.api.agent_dispatch.create_dispatch(
        api.CreateAgentDispatchRequest(agent_name="briefer", room="consult")
    )
    await h.api.sip.create_sip_participant(dial(SLOW, "leg", wait=False))
    dtmf = await h.control.wait_for_event(lambda e: e["type"] == "sip_dtmf")
    active = [e for e in await h.control.events() if e.get("status") == "active"]
    assert dtmf["time"] - active[0]["time"] >= 1.0 * SCALE


async def test_human_hangs_up_after_answering(h: SimHarness) -> None:
    await h.api.sip.create_sip_participant(dial("+15105550105", "leg", wait=True))
    assert (await left(h, "leg"))["reason"] == "CLIENT_INITIATED"
    assert await statuses(h, "leg") == ["dialing", "ringing", "active", "hangup"]


async def test_dial_validation(h: SimHarness) -> None:
    bad = [
        (dial("+1555@example.com", "x", wait=False), "sip_call_to"),
        (dial("", "x", wait=False), "sip_call_to"),
        (dial("+15105550100", "x", wait=False, room=""), "room_name"),
    ]
    no_trunk = dial("+15105550100", "x", wait=False)
    no_trunk.sip_trunk_id = ""
    bad.append((no_trunk, "sip_trunk_id"))
    for req, field in bad:
        with pytest.raises(api.ServerError) as err:
            await h.api.sip.create_sip_participant(req)
        assert (err.value.code, err.value.status) == ("invalid_argument", 400)
        assert field in err.value.message
    assert (await h.control.state())["rooms"] == {}


async def test_closed_trunk_list() -> None:
    config = SimConfig(api_secret=SECRET, time_scale=SCALE, trunks=["ST_known"])
    async with sim_harness(config) as h:
        with pytest.raises(api.ServerError) as err:
            await h.api.sip.create_sip_participant(dial("+15105550100", "x", wait=False))
        assert err.value.code == "not_found"
        ok = dial("+15105550100", "x", wait=True)
        ok.sip_trunk_id = "ST_known"
        assert (await h.api.sip.create_sip_participant(ok)).participant_identity == "x"


async def test_leg_continues_when_the_waiting_client_gives_up(h: SimHarness) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(h.api.sip.create_sip_participant(dial(SLOW, "leg", wait=True)), 0.1)
    await h.control.wait_for_event(lambda e: e.get("status") == "active", timeout=5)
    p = await h.api.room.get_participant(
        api.RoomParticipantIdentity(room="consult", identity="leg")
    )
    assert p.state == api.ParticipantInfo.ACTIVE


async def test_removing_a_ringing_leg_fails_the_wait(h: SimHarness) -> None:
    waiting = asyncio.create_task(h.api.sip.create_sip_participant(dial(SLOW, "leg", wait=True)))
    await h.control.wait_for_event(lambda e: e["type"] == "participant_joined")
    await h.api.room.remove_participant(api.RoomParticipantIdentity(room="consult", identity="leg"))
    with pytest.raises(api.SipCallError) as err:
        await waiting
    assert err.value.sip_status_code == 487


async def test_same_identity_replaces_the_old_leg(h: SimHarness) -> None:
    await h.api.sip.create_sip_participant(dial(SLOW, "leg", wait=False))
    await h.api.sip.create_sip_participant(dial("+15105550100", "leg", wait=True))
    assert (await left(h, "leg"))["reason"] == "DUPLICATE_IDENTITY"
    p = await h.api.room.get_participant(
        api.RoomParticipantIdentity(room="consult", identity="leg")
    )
    assert p.attributes["sip.phoneNumber"] == "+15105550100"


def refer(to: str) -> api.TransferSIPParticipantRequest:
    return api.TransferSIPParticipantRequest(
        room_name="call", participant_identity="caller", transfer_to=to
    )


async def test_transfer_success_and_failures(h: SimHarness) -> None:
    await h.control.add_participant(
        "call", "caller", kind="sip", attributes={"sip.callStatus": "active"}
    )
    with pytest.raises(api.SipCallError) as err:
        await h.api.sip.transfer_sip_participant(refer("tel:+15105550101"))
    assert (err.value.sip_status_code, err.value.sip_transfer_reason) == (486, "STR_REJECTED")
    with pytest.raises(api.SipCallError) as err:
        await h.api.sip.transfer_sip_participant(refer("sip:+15105550102@pbx.example.com"))
    assert (err.value.sip_status_code, err.value.sip_transfer_reason) == (
        408,
        "STR_RINGING_TIMEOUT",
    )
    with pytest.raises(api.ServerError) as bad:
        await h.api.sip.transfer_sip_participant(refer("+15105550100"))
    assert bad.value.code == "invalid_argument"
    # Still in the room after the failures.
    await h.api.room.get_participant(api.RoomParticipantIdentity(room="call", identity="caller"))

    done = await h.api.sip.transfer_sip_participant(refer("tel:+15105550100"))
    assert done.status == api.SIPTransferStatus.STS_TRANSFER_SUCCESSFUL
    assert done.transfer_id.startswith("ST_")
    assert (await left(h, "caller"))["reason"] == "CLIENT_INITIATED"
    [moved] = [e for e in await h.control.events() if e["type"] == "transferred"]
    assert moved["transfer_to"] == "tel:+15105550100"


async def test_transfer_needs_a_sip_participant(h: SimHarness) -> None:
    await h.control.add_participant("call", "caller", kind="standard")
    with pytest.raises(api.ServerError) as err:
        await h.api.sip.transfer_sip_participant(refer("tel:+15105550100"))
    assert err.value.code == "failed_precondition"
    with pytest.raises(api.ServerError) as err:
        await h.api.sip.transfer_sip_participant(
            api.TransferSIPParticipantRequest(
                room_name="call", participant_identity="ghost", transfer_to="tel:+1"
            )
        )
    assert err.value.code == "not_found"
