"""The LiveKit activities' errors, through the real `livekit-api` client and the
stand-in: what the far end answered becomes the attempt's result, what a retry cannot
fix is never retried, what it can fix is left to Temporal, and a dial whose answer
was lost recovers by looking before it acts, never by ringing someone twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from livekit.api import AccessToken, LiveKitAPI, ServerError, SIPGrants, VideoGrants
from temporalio.exceptions import ApplicationError

from activities.livekit import LiveKitActivities, LiveKitDefaults
from activities.livekit_errors import is_retryable
from tests.livekit_rig import (
    AGENT,
    CALLER,
    CALLER_ROOM,
    CONSULT,
    TRUNK,
    Rig,
    dial,
    livekit_rig,
    retry_like_temporal,
)
from warm_transfer.livekit_sim import Faults, SimConfig
from warm_transfer.models import HoldRequest, LegRequest, RoomRequest


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with livekit_rig() as running:
        yield running


# -- what the far end answered --------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "result", "sip", "twirp"),
    [
        ("+15105550101", "busy", 486, "resource_exhausted"),
        ("+15105550106", "declined", 603, "permission_denied"),
        # Nobody answered within the ring timeout: livekit-sip CANCELs and answers
        # canceled "sip request timed out", with no SIP status.
        ("+15105550102", "no_answer", None, "canceled"),
        ("+15105550107", "no_answer", 480, "resource_exhausted"),
        ("+15105550104", "failed", 404, "not_found"),
    ],
)
async def test_sip_failures_end_the_attempt_without_a_retry(
    rig: Rig, number: str, result: str, sip: int | None, twirp: str
) -> None:
    # 603 comes as permission_denied and 404 as not_found: neither may be mistaken for
    # "this API key may not dial" or "already gone".
    ring = 1 if sip is None else 20
    outcome = await rig.run(rig.acts.dial_human, dial(number, ring_timeout_s=ring))
    assert (outcome.result, outcome.sip_status_code) == (result, sip)
    [call] = await rig.dials()
    assert call["result"] is not None and call["result"]["code"] == twirp
    if sip == 404:
        assert outcome.reason is not None and "bad number" in outcome.reason


# -- errors a retry cannot fix ----------------------------------------------------------


async def test_an_unknown_trunk_fails_the_attempt_at_once(rig: Rig) -> None:
    outcome = await rig.run(rig.acts.dial_human, dial(sip_trunk_id="ST_unknown"))
    assert outcome.result == "failed"
    assert outcome.reason is not None and "trunk does not exist" in outcome.reason
    assert len(await rig.dials()) == 1


async def test_no_trunk_at_all_is_refused_before_dialing(rig: Rig) -> None:
    acts = LiveKitActivities(rig.acts._lk, LiveKitDefaults(sip_trunk_id=None))
    with pytest.raises(ApplicationError) as refused:
        await rig.run(acts.dial_human, dial())
    assert refused.value.non_retryable and "sip_trunk_id" in refused.value.message
    assert await rig.dials() == []


def token(grants: VideoGrants, sip: SIPGrants | None = None) -> str:
    cfg = SimConfig()
    tok = AccessToken(cfg.api_key, cfg.api_secret).with_grants(grants)
    return (tok.with_sip_grants(sip) if sip else tok).to_jwt()


async def test_permission_denied_is_not_retried(rig: Rig) -> None:
    # A key that may manage this room but may not place calls.
    grants = VideoGrants(room_admin=True, room=CONSULT)
    lk = LiveKitAPI.with_token(token(grants, SIPGrants(call=False)), rig.h.url, failover=False)
    try:
        acts = LiveKitActivities(lk, LiveKitDefaults(sip_trunk_id=TRUNK))
        outcome = await rig.run(acts.dial_human, dial())
        assert outcome.result == "failed"
        assert outcome.reason is not None and "permission_denied" in outcome.reason
        with pytest.raises(ApplicationError) as refused:
            await rig.run(acts.hang_up_leg, LegRequest(room_name="x", participant_identity="y"))
        assert refused.value.non_retryable and "permission_denied" in refused.value.message
    finally:
        await lk.aclose()
    assert await rig.count("CreateSIPParticipant") == 1


async def test_a_wrong_secret_is_not_retried(rig: Rig) -> None:
    lk = rig.h.client(api_secret="not-the-secret-but-long-enough-0123456789")
    try:
        acts = LiveKitActivities(lk, LiveKitDefaults(sip_trunk_id=TRUNK))
        with pytest.raises(ApplicationError) as refused:
            await rig.run(acts.delete_room, RoomRequest(room_name=CONSULT, workflow_id="wt-1"))
        assert refused.value.non_retryable and "unauthenticated" in refused.value.message
    finally:
        await lk.aclose()


# -- errors Temporal retries ----------------------------------------------------------

HOLD = HoldRequest(workflow_id="wt-1", room_name=CALLER_ROOM, caller_identity=CALLER,
                   agent_identity=AGENT)  # fmt: skip


@pytest.mark.parametrize("fault", ["fail_first_n", "drop_rate"])
async def test_5xx_and_dropped_connections_are_left_to_temporal(rig: Rig, fault: str) -> None:
    setting = {"fail_first_n": 1} if fault == "fail_first_n" else {"drop_rate": 1.0}
    await rig.h.control.set_faults(Faults(methods=["UpdateParticipant"], **setting))
    with pytest.raises((ServerError, aiohttp.ClientError)) as failed:
        await rig.run(rig.acts.start_hold, HOLD)
    assert not isinstance(failed.value, ApplicationError) and is_retryable(failed.value)
    await rig.h.control.set_faults(Faults())
    assert (await rig.run(rig.acts.start_hold, HOLD, attempt=2)).caller_present is True


async def test_a_dial_answered_503_is_dialed_again(rig: Rig) -> None:
    await rig.h.control.set_faults(fail_first_n=1, methods=["CreateSIPParticipant"])
    assert (await retry_like_temporal(rig, dial())).result == "answered"
    assert len(await rig.dials()) == 1


async def test_a_503_then_a_failed_lookup_still_dials_the_human(rig: Rig) -> None:
    # Seed 22 at 50 %: the look before dialing passes, the dial answers 503 and so
    # does the look after it. LiveKit placed no call: the retry must place it.
    methods = ["GetParticipant", "CreateSIPParticipant"]
    await rig.h.control.set_faults(fail_rate=0.5, seed=22, methods=methods)
    assert (await retry_like_temporal(rig, dial())).result == "answered"
    assert len(await rig.dials()) == 1


async def test_a_dropped_answer_to_an_answered_dial_follows_the_leg(rig: Rig) -> None:
    await rig.h.control.set_faults(drop_after_rate=1.0, methods=["CreateSIPParticipant"])
    result = await rig.run(rig.acts.dial_human, dial())
    assert result.result == "answered"
    assert len(await rig.dials()) == 1


async def test_a_dropped_answer_to_a_busy_dial_never_rings_again(rig: Rig) -> None:
    # LiveKit placed the call, the human was busy, the answer was lost on the way:
    # looking finds no leg, and dialing again would ring the busy human a second time.
    await rig.h.control.set_faults(drop_after_rate=1.0, methods=["CreateSIPParticipant"])
    result = await retry_like_temporal(rig, dial("+15105550101"))
    assert result.result == "failed"
    assert result.reason is not None and "not redialing" in result.reason
    assert len(await rig.dials()) == 1


async def test_a_dial_cut_before_any_answer_is_given_up_not_redialed(rig: Rig) -> None:
    # A cut connection cannot tell "never arrived" from "placed, answer lost": the
    # engine gives the destination up (the hunt goes on) rather than risk a second ring.
    await rig.h.control.set_faults(drop_rate=1.0, methods=["CreateSIPParticipant"])
    result = await retry_like_temporal(rig, dial())
    assert result.result == "failed"
    assert result.reason is not None and "not redialing" in result.reason
    assert await rig.dials() == []


async def test_a_look_that_fails_before_dialing_leaves_no_dial_mark(rig: Rig) -> None:
    await rig.h.control.set_faults(drop_rate=1.0, methods=["GetParticipant"])
    with pytest.raises(aiohttp.ClientError):
        await rig.run(rig.acts.dial_human, dial())
    assert rig.heartbeats == []  # so the retry dials
    await rig.h.control.set_faults(Faults())
    assert (await retry_like_temporal(rig, dial())).result == "answered"
