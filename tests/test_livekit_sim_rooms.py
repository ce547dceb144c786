"""RoomService and AgentDispatchService of the LiveKit stand-in, through livekit-api."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from livekit import api

from warm_transfer.livekit_sim import SimConfig, SimEvent
from warm_transfer.livekit_sim.testing import SimHarness, sim_harness

SECRET = "a-test-secret-that-is-at-least-32-bytes-long"
TRUNK = "ST_test"


@pytest.fixture
async def h() -> AsyncIterator[SimHarness]:
    async with sim_harness(SimConfig(api_secret=SECRET, time_scale=0.01)) as harness:
        yield harness


@pytest.fixture
async def self_hosted() -> AsyncIterator[SimHarness]:
    async with sim_harness(SimConfig(api_secret=SECRET, self_hosted=True)) as harness:
        yield harness


def of_type(events: list[SimEvent], type_: str) -> list[SimEvent]:
    return [e for e in events if e["type"] == type_]


async def test_create_room_is_idempotent_and_listed(h: SimHarness) -> None:
    first = await h.api.room.create_room(api.CreateRoomRequest(name="r1", metadata="m"))
    again = await h.api.room.create_room(api.CreateRoomRequest(name="r1", metadata="other"))
    await h.api.room.create_room(api.CreateRoomRequest(name="r2"))
    assert first.sid.startswith("RM_") and again.sid == first.sid
    assert again.metadata == "m"
    listed = await h.api.room.list_rooms(api.ListRoomsRequest())
    assert sorted(r.name for r in listed.rooms) == ["r1", "r2"]
    only = await h.api.room.list_rooms(api.ListRoomsRequest(names=["r2", "nope"]))
    assert [r.name for r in only.rooms] == ["r2"]
    assert len(of_type(await h.control.events(), "room_created")) == 2


async def test_delete_room_disconnects_everyone_and_hangs_up_legs(h: SimHarness) -> None:
    await h.control.add_participant("r", "caller", kind="sip")
    await h.api.sip.create_sip_participant(
        api.CreateSIPParticipantRequest(
            sip_trunk_id=TRUNK,
            sip_call_to="+15105550100",
            room_name="r",
            participant_identity="leg",
        )
    )
    await h.api.room.delete_room(api.DeleteRoomRequest(room="r"))
    left = of_type(await h.control.events(), "participant_left")
    assert {(e["participant_identity"], e["reason"]) for e in left} == {
        ("caller", "ROOM_DELETED"),
        ("leg", "ROOM_DELETED"),
    }
    # A room that is gone has nobody in it (livekit-server answers an empty list).
    listed = await h.api.room.list_participants(api.ListParticipantsRequest(room="r"))
    assert list(listed.participants) == []
    with pytest.raises(api.ServerError) as err:
        await h.api.room.delete_room(api.DeleteRoomRequest(room="r"))
    assert err.value.code == "not_found"
    # The leg never gets answered once its room is gone (it would after 10 ms).
    await h.control.events(after=(await h.control.state())["last_event_seq"], timeout=0.1)
    assert "sip_answered" not in (await h.control.state())["counters"]


async def test_get_and_remove_participant(h: SimHarness) -> None:
    await h.control.add_participant("r", "agent", kind="agent", attributes={"a": "1"})
    info = await h.api.room.get_participant(api.RoomParticipantIdentity(room="r", identity="agent"))
    assert info.kind == api.ParticipantInfo.AGENT
    assert info.state == api.ParticipantInfo.ACTIVE
    assert dict(info.attributes) == {"a": "1"}
    assert len(info.tracks) == 1 and info.tracks[0].type == api.TrackType.AUDIO
    listed = await h.api.room.list_participants(api.ListParticipantsRequest(room="r"))
    assert [p.identity for p in listed.participants] == ["agent"]

    await h.api.room.remove_participant(api.RoomParticipantIdentity(room="r", identity="agent"))
    left = of_type(await h.control.events(), "participant_left")
    assert [(e["participant_identity"], e["reason"]) for e in left] == [
        ("agent", "PARTICIPANT_REMOVED")
    ]
    for call in (h.api.room.get_participant, h.api.room.remove_participant):
        with pytest.raises(api.ServerError) as err:
            await call(api.RoomParticipantIdentity(room="r", identity="agent"))
        assert (err.value.code, err.value.status) == ("not_found", 404)


async def test_move_participant_creates_destination(h: SimHarness) -> None:
    await h.control.add_participant("consult", "agent", kind="sip")
    await h.api.room.move_participant(
        api.MoveParticipantRequest(room="consult", identity="agent", destination_room="caller-room")
    )
    moved = await h.api.room.get_participant(
        api.RoomParticipantIdentity(room="caller-room", identity="agent")
    )
    assert moved.identity == "agent" and len(moved.tracks) == 1
    with pytest.raises(api.ServerError) as err:
        await h.api.room.get_participant(
            api.RoomParticipantIdentity(room="consult", identity="agent")
        )
    assert err.value.code == "not_found"
    [event] = of_type(await h.control.events(), "moved")
    assert (event["from_room"], event["room"]) == ("consult", "caller-room")
    with pytest.raises(api.ServerError) as err:
        await h.api.room.move_participant(
            api.MoveParticipantRequest(
                room="caller-room", identity="agent", destination_room="caller-room"
            )
        )
    assert err.value.code == "invalid_argument"


async def test_self_hosted_has_no_move_or_forward(self_hosted: SimHarness) -> None:
    h = self_hosted
    await h.control.add_participant("a", "agent")
    with pytest.raises(api.ServerError) as err:
        await h.api.room.move_participant(
            api.MoveParticipantRequest(room="a", identity="agent", destination_room="b")
        )
    # livekit-server's RoomManager: errors.New("not implemented"), seen as unknown.
    assert (err.value.code, err.value.status) == ("unknown", 500)
    assert "not implemented" in err.value.message
    with pytest.raises(api.ServerError) as err:
        await h.api.room.move_participant(
            api.MoveParticipantRequest(room="a", identity="ghost", destination_room="b")
        )
    # Nobody hosts "ghost": psrpc finds no node to answer.
    assert (err.value.code, err.value.status) == ("unavailable", 503)
    assert "no response from servers" in err.value.message
    with pytest.raises(api.ServerError) as err:
        await h.api.room.forward_participant(
            api.ForwardParticipantRequest(room="a", identity="agent", destination_room="b")
        )
    assert err.value.code == "unimplemented"
    state = await h.control.state()
    assert list(state["rooms"]["a"]["participants"]) == ["agent"] and "b" not in state["rooms"]


async def test_update_participant_merges_attributes(h: SimHarness) -> None:
    await h.control.add_participant(
        "r", "caller", kind="sip", attributes={"keep": "1", "drop": "x"}
    )
    info = await h.api.room.update_participant(
        api.UpdateParticipantRequest(
            room="r",
            identity="caller",
            metadata="meta",
            name="Caller",
            attributes={"drop": "", "new": "2"},
        )
    )
    assert dict(info.attributes) == {"keep": "1", "new": "2"}
    assert (info.metadata, info.name) == ("meta", "Caller")
    [changed] = of_type(await h.control.events(), "attributes_changed")
    assert changed["changed"] == {"drop": "", "new": "2"}
    # Empty metadata/name leave the old values alone, like LiveKit.
    info = await h.api.room.update_participant(
        api.UpdateParticipantRequest(room="r", identity="caller", attributes={"new": "3"})
    )
    assert (info.metadata, info.name, info.attributes["new"]) == ("meta", "Caller", "3")


async def test_audibility_follows_subscriptions_and_permissions(h: SimHarness) -> None:
    await h.control.add_participant("r", "caller", kind="sip")
    await h.control.add_participant("r", "agent", kind="agent")
    await h.control.add_participant("r", "human")
    full = await h.control.audibility("r")
    assert {k: sorted(v) for k, v in full.items()} == {
        "caller": ["agent", "human"],
        "agent": ["caller", "human"],
        "human": ["agent", "caller"],
    }
    agent = await h.api.room.get_participant(
        api.RoomParticipantIdentity(room="r", identity="agent")
    )
    off = api.UpdateSubscriptionsRequest(
        room="r", identity="caller", track_sids=[agent.tracks[0].sid], subscribe=False
    )
    await h.api.room.update_subscriptions(off)
    assert (await h.control.audibility("r"))["caller"] == ["human"]
    [event] = of_type(await h.control.events(), "subscription_changed")
    assert event["track_sids"] == [agent.tracks[0].sid] and event["subscribe"] is False
    off.subscribe = True
    await h.api.room.update_subscriptions(off)
    assert sorted((await h.control.audibility("r"))["caller"]) == ["agent", "human"]

    deaf = api.ParticipantPermission(can_subscribe=False, can_publish=True, can_publish_data=True)
    await h.api.room.update_participant(
        api.UpdateParticipantRequest(room="r", identity="human", permission=deaf)
    )
    mute = api.ParticipantPermission(can_subscribe=True, can_publish=False)
    await h.api.room.update_participant(
        api.UpdateParticipantRequest(room="r", identity="agent", permission=mute)
    )
    assert await h.control.audibility("r") == {
        "caller": ["human"],
        "agent": ["caller", "human"],
        "human": [],
    }


async def test_send_data_is_recorded(h: SimHarness) -> None:
    await h.control.add_participant("r", "agent", kind="agent")
    payload = json.dumps({"kind": "brief", "n": 1}).encode()
    await h.api.room.send_data(
        api.SendDataRequest(
            room="r",
            data=payload,
            topic="warm-transfer",
            destination_identities=["agent"],
            kind=api.DataPacket.RELIABLE,
        )
    )
    [event] = of_type(await h.control.events(), "data_sent")
    assert event["payload"] == {"kind": "brief", "n": 1}
    assert (event["topic"], event["destination_identities"]) == ("warm-transfer", ["agent"])
    assert event["data_kind"] == "RELIABLE"
    with pytest.raises(api.ServerError) as err:
        await h.api.room.send_data(api.SendDataRequest(room="missing", data=b"x"))
    assert err.value.code == "not_found"


async def test_agent_dispatch_lifecycle(h: SimHarness) -> None:
    created = await h.api.agent_dispatch.create_dispatch(
        api.CreateAgentDispatchRequest(agent_name="briefer", room="r", metadata='{"x":1}')
    )
    assert created.id.startswith("AD_") and created.room == "r"
    listed = await h.api.agent_dispatch.list_dispatch("r")
    # Beside the room's default dispatch (no agent name), as livekit-server lists it.
    assert [(d.agent_name, d.metadata) for d in listed if d.id != created.id] == [("", "")]
    assert [(d.id, d.agent_name, d.metadata) for d in listed if d.agent_name] == [
        (created.id, "briefer", '{"x":1}')
    ]
    assert (await h.api.agent_dispatch.get_dispatch(created.id, "r")) is not None
    await h.api.agent_dispatch.delete_dispatch(created.id, "r")
    assert [d.agent_name for d in await h.api.agent_dispatch.list_dispatch("r")] == [""]
    with pytest.raises(api.ServerError) as err:
        await h.api.agent_dispatch.delete_dispatch(created.id, "r")
    assert err.value.code == "not_found"
    types = [e["type"] for e in await h.control.events()]
    assert types == ["room_created", "dispatch_created", "dispatch_deleted"]


async def test_json_encoding_errors_and_bad_route(h: SimHarness) -> None:
    token = (
        api.AccessToken("devkey", SECRET)
        .with_grants(api.VideoGrants(room_create=True, room_admin=True, room="j"))
        .to_jwt()
    )
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    base = f"{h.url}/twirp/livekit.RoomService"
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/CreateRoom", data='{"name": "j"}', headers=headers) as resp:
            assert resp.status == 200 and resp.content_type == "application/json"
            assert (await resp.json())["name"] == "j"
        body = '{"room": "j", "identity": "ghost"}'
        async with http.post(f"{base}/GetParticipant", data=body, headers=headers) as resp:
            assert resp.status == 404
            assert await resp.json() == {"code": "not_found", "msg": "participant not found"}
        async with http.post(f"{base}/NoSuchMethod", data="{}", headers=headers) as resp:
            error = await resp.json()
            assert resp.status == 404 and error["code"] == "bad_route"
            assert error["meta"]["twirp_invalid_route"] == (
                "POST /twirp/livekit.RoomService/NoSuchMethod"
            )
        async with http.get(f"{base}/ListRooms", headers=headers) as resp:
            assert resp.status == 404 and (await resp.json())["code"] == "bad_route"
        async with http.post(f"{base}/CreateRoom", data="{not json", headers=headers) as resp:
            assert resp.status == 400 and (await resp.json())["code"] == "malformed"
