"""Auth of the LiveKit stand-in: tokens and grants, as the livekit-api client sends them."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator

import aiohttp
import pytest
from livekit import api

from warm_transfer.livekit_sim import SimConfig
from warm_transfer.livekit_sim.testing import SimHarness, sim_harness

KEY = "devkey"
SECRET = "a-test-secret-that-is-at-least-32-bytes-long"


@pytest.fixture
async def h() -> AsyncIterator[SimHarness]:
    async with sim_harness(SimConfig(api_key=KEY, api_secret=SECRET)) as harness:
        yield harness


def token(
    grants: api.VideoGrants | None = None,
    sip: api.SIPGrants | None = None,
    *,
    key: str = KEY,
    secret: str = SECRET,
    ttl: datetime.timedelta = datetime.timedelta(minutes=5),
) -> str:
    tok = api.AccessToken(key, secret).with_ttl(ttl)
    if grants is not None:
        tok.with_grants(grants)
    if sip is not None:
        tok.with_sip_grants(sip)
    return tok.to_jwt()


async def list_rooms_with(h: SimHarness, jwt: str) -> api.ListRoomsResponse:
    async with api.LiveKitAPI.with_token(jwt, h.url) as lk:
        return await lk.room.list_rooms(api.ListRoomsRequest())


async def test_valid_token_is_accepted(h: SimHarness) -> None:
    assert len((await list_rooms_with(h, token(api.VideoGrants(room_list=True)))).rooms) == 0


@pytest.mark.parametrize(
    "bad",
    [
        token(api.VideoGrants(room_list=True), secret="not-the-secret-not-the-secret-xx"),
        token(api.VideoGrants(room_list=True), key="unknown-key"),
        token(api.VideoGrants(room_list=True), ttl=datetime.timedelta(seconds=-120)),
        "not-a-jwt",
    ],
    ids=["wrong-secret", "unknown-key", "expired", "garbage"],
)
async def test_invalid_tokens_are_unauthenticated(h: SimHarness, bad: str) -> None:
    with pytest.raises(api.ServerError) as err:
        await list_rooms_with(h, bad)
    assert (err.value.code, err.value.status) == ("unauthenticated", 401)


async def test_wrong_secret_through_the_client(h: SimHarness) -> None:
    async with h.client(api_secret="wrong-secret-wrong-secret-wrong-secret") as lk:
        with pytest.raises(api.ServerError) as err:
            await lk.room.create_room(api.CreateRoomRequest(name="r"))
    assert err.value.code == "unauthenticated"
    calls = await h.control.calls()
    assert [c["result"] for c in calls][-1] == {
        "ok": False,
        "code": "unauthenticated",
        "msg": "invalid token: signature is invalid",
        "meta": {},
    }


async def test_missing_token_is_unauthenticated(h: SimHarness) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{h.url}/twirp/livekit.RoomService/ListRooms",
            data=b"",
            headers={"Content-Type": "application/protobuf"},
        ) as resp,
    ):
        assert resp.status == 401
        assert (await resp.json())["code"] == "unauthenticated"


@pytest.mark.parametrize(
    ("grants", "sip", "call"),
    [
        (api.VideoGrants(room_list=True), None, "create_room"),
        (api.VideoGrants(room_create=True), None, "list_rooms"),
        (api.VideoGrants(room_admin=True, room="other"), None, "list_participants"),
        (api.VideoGrants(room_join=True, room="r"), None, "list_participants"),
        (api.VideoGrants(room_admin=True, room="r"), None, "create_sip"),
        (api.VideoGrants(), api.SIPGrants(admin=True), "create_sip"),
        (api.VideoGrants(room_admin=True, room="r"), None, "move"),
        (api.VideoGrants(), api.SIPGrants(call=True), "transfer"),
        (api.VideoGrants(room_admin=True, room="other"), None, "dispatch"),
    ],
)
async def test_missing_grant_is_permission_denied(
    h: SimHarness, grants: api.VideoGrants, sip: api.SIPGrants | None, call: str
) -> None:
    jwt = api.AccessToken(KEY, SECRET).with_identity("someone").with_grants(grants)
    if sip is not None:
        jwt.with_sip_grants(sip)
    async with api.LiveKitAPI.with_token(jwt.to_jwt(), h.url) as lk:
        with pytest.raises(api.ServerError) as err:
            if call == "create_room":
                await lk.room.create_room(api.CreateRoomRequest(name="r"))
            elif call == "list_rooms":
                await lk.room.list_rooms(api.ListRoomsRequest())
            elif call == "list_participants":
                await lk.room.list_participants(api.ListParticipantsRequest(room="r"))
            elif call == "create_sip":
                await lk.sip.create_sip_participant(
                    api.CreateSIPParticipantRequest(
                        sip_trunk_id="ST_x", sip_call_to="+15105550100", room_name="r"
                    )
                )
            elif call == "move":
                await lk.room.move_participant(
                    api.MoveParticipantRequest(room="r", identity="a", destination_room="b")
                )
            elif call == "transfer":
                await lk.sip.transfer_sip_participant(
                    api.TransferSIPParticipantRequest(
                        room_name="r", participant_identity="a", transfer_to="tel:+1"
                    )
                )
            else:
                await lk.agent_dispatch.create_dispatch(
                    api.CreateAgentDispatchRequest(agent_name="x", room="r")
                )
    assert (err.value.code, err.value.status) == ("permission_denied", 403)
    # Refused before acting: nothing was created.
    assert (await h.control.state())["rooms"] == {}


async def test_livekit_auth_error_mode() -> None:
    config = SimConfig(api_key=KEY, api_secret=SECRET, auth_errors="livekit")
    async with sim_harness(config) as h:
        with pytest.raises(api.ServerError) as err:
            await list_rooms_with(h, token(api.VideoGrants(room_list=True), secret="x" * 32))
        # livekit-server's auth middleware answers plain text, so the client sees "unknown".
        assert (err.value.code, err.value.status) == ("unknown", 401)
        with pytest.raises(api.ServerError) as err:
            await list_rooms_with(h, token(api.VideoGrants(room_create=True)))
        assert (err.value.code, err.value.status, err.value.message) == (
            "unauthenticated",
            401,
            "permissions denied",
        )


async def test_verified_tokens_are_cached_until_expiry(h: SimHarness) -> None:
    jwt = token(api.VideoGrants(room_list=True), ttl=datetime.timedelta(seconds=-30))
    # Expired 30 s ago but within LiveKit's 60 s leeway: accepted, then served from cache.
    for _ in range(3):
        await list_rooms_with(h, jwt)
    assert h.sim.twirp.auth.cached_tokens == 1
