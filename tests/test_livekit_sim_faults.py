"""Fault injection of the LiveKit stand-in: 503s, dropped connections, latency."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from livekit import api

from warm_transfer.livekit_sim import Faults, SimConfig
from warm_transfer.livekit_sim.testing import SimHarness, sim_harness

SECRET = "a-test-secret-that-is-at-least-32-bytes-long"


@pytest.fixture
async def h() -> AsyncIterator[SimHarness]:
    async with sim_harness(SimConfig(api_secret=SECRET, time_scale=0.01)) as harness:
        yield harness


async def rooms(h: SimHarness) -> list[str]:
    return sorted((await h.control.state())["rooms"])


async def test_fail_first_n_then_success() -> None:
    config = SimConfig(api_secret=SECRET, faults=Faults(fail_first_n=2))
    async with sim_harness(config) as h:
        for _ in range(2):
            with pytest.raises(api.ServerError) as err:
                await h.api.room.create_room(api.CreateRoomRequest(name="r"))
            assert (err.value.code, err.value.status) == ("unavailable", 503)
            assert await rooms(h) == []
        await h.api.room.create_room(api.CreateRoomRequest(name="r"))
        assert await rooms(h) == ["r"]
        calls = await h.control.calls()
        assert [(c["fault"], c["status"]) for c in calls] == [
            ("fail_first_n", 503),
            ("fail_first_n", 503),
            (None, 200),
        ]
        assert (await h.control.state())["faults_injected"] == {"fail_first_n": 2}


async def test_drop_closes_the_connection_before_acting(h: SimHarness) -> None:
    await h.control.set_faults(drop_rate=1.0, methods=["CreateRoom"])
    with pytest.raises(aiohttp.ClientError):
        await h.api.room.create_room(api.CreateRoomRequest(name="r"))
    assert await rooms(h) == []
    # Other methods are not affected by a method-filtered fault.
    assert len((await h.api.room.list_rooms(api.ListRoomsRequest())).rooms) == 0
    [dropped, listed] = await h.control.calls()
    assert (dropped["method"], dropped["fault"], dropped["status"]) == ("CreateRoom", "drop", None)
    assert dropped["request"] is None
    assert (listed["fault"], listed["status"]) == (None, 200)


async def test_drop_after_performs_the_call(h: SimHarness) -> None:
    await h.control.set_faults(drop_after_rate=1.0, methods=["CreateRoom", "CreateSIPParticipant"])
    with pytest.raises(aiohttp.ClientError):
        await h.api.room.create_room(api.CreateRoomRequest(name="r"))
    assert await rooms(h) == ["r"]
    dial = api.CreateSIPParticipantRequest(
        sip_trunk_id="ST_x", sip_call_to="+15105550100", room_name="r", participant_identity="leg"
    )
    with pytest.raises(aiohttp.ClientError):
        await h.api.sip.create_sip_participant(dial)
    # The leg exists although the client never heard back: a blind retry redials it.
    await h.control.set_faults(Faults())
    await h.api.sip.create_sip_participant(dial)
    left = await h.control.wait_for_event(lambda e: e["type"] == "participant_left")
    assert (left["participant_identity"], left["reason"]) == ("leg", "DUPLICATE_IDENTITY")
    faults = [c["fault"] for c in await h.control.calls()]
    assert faults == ["drop_after", "drop_after", None]
    results = [c["result"] for c in await h.control.calls()]
    assert results[0] == {"ok": True}


async def test_latency_is_added(h: SimHarness) -> None:
    await h.control.set_faults(latency_ms=120)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await h.api.room.list_rooms(api.ListRoomsRequest())
    assert loop.time() - started >= 0.12
    [call] = await h.control.calls()
    assert call["latency_ms"] == 120.0 and call["fault"] is None
    # The /sim endpoints never suffer faults.
    started = loop.time()
    await h.control.state()
    assert loop.time() - started < 0.1


async def outcomes(h: SimHarness, n: int) -> list[bool]:
    out = []
    for _ in range(n):
        try:
            await h.api.room.list_rooms(api.ListRoomsRequest())
            out.append(True)
        except api.ServerError as err:
            assert err.code == "unavailable"
            out.append(False)
    return out


async def test_fail_rate_is_reproducible_with_a_seed(h: SimHarness) -> None:
    await h.control.set_faults(fail_rate=0.5, seed=7)
    first = await outcomes(h, 30)
    await h.control.set_faults(fail_rate=0.5, seed=7)
    assert await outcomes(h, 30) == first
    assert 5 < first.count(False) < 25
    await h.control.reset()
    assert await outcomes(h, 5) == [True] * 5
    assert len(await h.control.calls()) == 5
