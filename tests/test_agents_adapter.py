"""The LiveKit Agents adapter without a LiveKit server: the engine's data messages
against a hand-written session, and the transfer and briefing tools against real
workflows on the dev server."""

from __future__ import annotations

import asyncio
from typing import cast

import pytest

pytest.importorskip("livekit.agents", reason="livekit-agents is not installed (extra 'agents')")

from livekit import rtc  # noqa: E402
from livekit.agents import StopResponse, ToolError  # noqa: E402
from temporalio.client import Client  # noqa: E402

from tests.agent_fakes import (  # noqa: E402
    AGENT,
    FakeHoldMusic,
    FakeParticipant,
    FakeRoom,
    FakeSession,
    PublishingRoom,
)
from tests.fakes import FakeLiveKit  # noqa: E402
from tests.workflow_helpers import (  # noqa: E402
    HUMAN_A,
    fake_worker,
    make_request,
    start,
    wait_for_stage,
)
from warm_transfer.agents import (  # noqa: E402
    BackgroundHoldMusic,
    Briefing,
    BriefingAgent,
    BriefingMetadata,
    TransferConfig,
    TransferEvents,
    WarmTransfer,
)
from warm_transfer.client import get_transfer, transfer_workflow_id  # noqa: E402
from warm_transfer.models import Destination  # noqa: E402
from warm_transfer.wire import ATTR_STATE, BRIDGED, CALL_STATUS  # noqa: E402

CALLER = "sip_+15105550123"


def events_with(session: FakeSession, music: FakeHoldMusic) -> tuple[FakeRoom, TransferEvents]:
    room = FakeRoom("call-1")
    events = TransferEvents(session, music, goodbye="Goodbye!", welcome_back="I'm back.")
    events.attach(room)
    return room, events


async def test_hold_mutes_the_agent_and_plays_music_until_resumed() -> None:
    session, music = FakeSession(), FakeHoldMusic()
    session.output.transcription_enabled = False  # the app's own choice, kept
    room, events = events_with(session, music)
    room.engine_says("hold_started")
    await events.idle()
    assert music.playing and session.muted and session.interrupts == 1
    assert events.on_hold
    room.engine_says("hold_started")  # an activity retry: changes nothing
    room.engine_says("hold_stopped")
    await events.idle()
    assert not music.playing and music.starts == 1
    assert session.input.audio_enabled and session.output.audio_enabled
    assert session.output.transcription_enabled is False
    assert session.said == ["I'm back."]
    assert events.handled == ["hold_started", "hold_started", "hold_stopped"]


async def test_hold_waits_for_the_hold_line_to_be_heard() -> None:
    session, music = FakeSession(speeches_finish=False), FakeHoldMusic()
    room, events = events_with(session, music)
    events.speak_before_hold(session.say("Please hold."))
    room.engine_says("hold_started")
    await asyncio.sleep(0.05)
    assert not music.playing and not session.muted  # still saying "please hold"
    session.speeches[0].finish()
    await events.idle()
    assert music.playing and session.muted


async def test_leave_says_goodbye_and_ends_the_session() -> None:
    session, music = FakeSession(), FakeHoldMusic()
    room, events = events_with(session, music)
    room.engine_says("hold_started")
    room.engine_says("leave")
    await events.idle()
    assert session.said == ["Goodbye!"]
    assert session.shut_down and music.closed and not music.playing
    assert not session.input.audio_enabled  # nobody left to listen to
    room.engine_says("hold_stopped")  # too late: the agent has left
    await events.idle()
    assert session.said == ["Goodbye!"]


async def test_messages_not_from_the_engine_are_ignored() -> None:
    session, music = FakeSession(), FakeHoldMusic()
    room, events = events_with(session, music)
    room.engine_says("leave", sender="sip_+15105550123")  # a participant, not the server
    room.data(b'{"event": "leave"}', topic="chat")
    room.data(b"not json")
    room.engine_says("hold_started_v2")  # a newer engine's event
    await events.idle()
    assert not session.shut_down and not music.playing and not session.muted
    assert events.handled == []


def voice_agent(
    client: Client, task_queue: str, room: FakeRoom, session: FakeSession
) -> WarmTransfer:
    config = TransferConfig(
        destinations=[Destination(sip_call_to=HUMAN_A, sip_trunk_id="ST_test")],
        task_queue=task_queue,
        bridge="same_room",
    )
    transfer = WarmTransfer(client, config, room, session, hold_music=FakeHoldMusic())
    transfer.attach()
    return transfer


def caller_room() -> FakeRoom:
    agent = FakeParticipant("other-agent", kind=AGENT)
    return FakeRoom(f"call-{id(agent)}", "voice-agent", agent, FakeParticipant(CALLER))


async def test_the_tool_starts_a_transfer_with_the_llms_summary(
    client: Client, task_queue: str
) -> None:
    fake = FakeLiveKit()
    room, session = caller_room(), FakeSession()
    transfer = voice_agent(client, task_queue, room, session)
    async with fake_worker(client, task_queue, fake):
        with pytest.raises(StopResponse):  # the hold line is the agent's whole answer
            await transfer.tool(summary="Disputes a $42 charge.", reason="refund over limit")
        handle = get_transfer(client, transfer_workflow_id(room.name))
        leg = (await wait_for_stage(handle, "briefing")).participant_identity
        assert leg is not None
        await handle.accepted(leg)
        outcome = await handle.outcome()
    assert session.said == [TransferConfig(destinations=[]).hold_line]
    assert outcome.outcome == "connected"
    hold = fake.requests("start_hold")[0]
    assert (hold.room_name, hold.caller_identity, hold.agent_identity) == (
        room.name,
        CALLER,
        "voice-agent",
    )
    brief = fake.requests("brief_human")[0]
    assert brief.summary == "Disputes a $42 charge.\nWhy a human: refund over limit"
    assert fake.requests("open_consultation")[0].bridge == "same_room"  # the config's bridge


async def test_the_caller_leaving_reaches_the_engine(client: Client, task_queue: str) -> None:
    fake = FakeLiveKit(scripts={HUMAN_A: "ring_forever"})
    room, session = caller_room(), FakeSession()
    transfer = voice_agent(client, task_queue, room, session)
    async with fake_worker(client, task_queue, fake):
        handle = await transfer.start("Wants to close the account.")
        await wait_for_stage(handle, "dialing")
        room.emit("participant_disconnected", room.remote_participants["other-agent"])
        room.emit("participant_disconnected", room.remote_participants[CALLER])
        await transfer.idle()
        outcome = await handle.outcome()
    assert outcome.outcome == "caller_hung_up"
    assert [a.reason for a in outcome.attempts] == ["caller hung up"]


async def test_a_caller_leaving_during_the_start_is_not_lost(
    client: Client, task_queue: str
) -> None:
    fake = FakeLiveKit()
    room, session = caller_room(), FakeSession()
    transfer = voice_agent(client, task_queue, room, session)
    async with fake_worker(client, task_queue, fake):
        starting = asyncio.create_task(transfer.start("Wants a human."))
        await asyncio.sleep(0)  # the start is on its way to Temporal
        room.emit("participant_disconnected", room.remote_participants[CALLER])
        handle = await starting
        await transfer.idle()
        outcome = await handle.outcome()
    assert outcome.outcome == "caller_hung_up"
    assert "bridge_caller" not in fake.names()


async def test_the_tool_refuses_when_there_is_no_caller(client: Client, task_queue: str) -> None:
    room, session = FakeRoom("web-call", "voice-agent"), FakeSession()
    transfer = voice_agent(client, task_queue, room, session)
    with pytest.raises(ToolError):
        await transfer.tool(summary="Wants a human.")


async def briefing_on_a_ringing_leg(
    client: Client, task_queue: str, fake: FakeLiveKit
) -> tuple[Briefing, FakeRoom, str]:
    handle = await start(client, task_queue, make_request(HUMAN_A))
    leg = (await wait_for_stage(handle, "dialing")).participant_identity
    assert leg is not None
    meta = BriefingMetadata.parse(
        f'{{"workflow_id": "{handle.workflow_id}", "human_identity": "{leg}",'
        ' "caller_room": "call-1", "summary": "Disputes a charge.", "later": 1}'
    )
    briefing = Briefing(meta, get_transfer(client, handle.workflow_id))
    consult = FakeRoom(
        "consult", "briefer", FakeParticipant(leg, attributes={CALL_STATUS: "ringing"})
    )
    briefing.attach(consult)
    return briefing, consult, leg


async def test_briefing_reports_the_answer_and_the_keypad_accept(
    client: Client, task_queue: str
) -> None:
    fake = FakeLiveKit(scripts={HUMAN_A: "ring_forever"})
    async with fake_worker(client, task_queue, fake):
        briefing, consult, leg = await briefing_on_a_ringing_leg(client, task_queue, fake)
        human = consult.remote_participants[leg]
        human.attributes[CALL_STATUS] = "active"
        consult.emit("participant_attributes_changed", {CALL_STATUS: "active"}, human)
        await briefing.idle()
        handle = get_transfer(client, briefing.meta.workflow_id)
        await wait_for_stage(handle, "briefing")
        consult.dtmf("2", FakeParticipant("someone-else"))  # not the human: ignored
        consult.dtmf("1", human)
        consult.dtmf("2", human)  # changes nothing: the first decision wins
        await briefing.idle()
        outcome = await handle.outcome()
    assert briefing.decision == "accepted"
    assert outcome.outcome == "connected" and outcome.participant_identity == leg


async def test_briefing_is_over_once_the_engine_bridged_the_human(
    client: Client, task_queue: str
) -> None:
    fake = FakeLiveKit(scripts={HUMAN_A: "ring_forever"})
    async with fake_worker(client, task_queue, fake):
        briefing, consult, leg = await briefing_on_a_ringing_leg(client, task_queue, fake)
        human = consult.remote_participants[leg]
        consult.emit("participant_attributes_changed", {"other": "x"}, human)
        assert not briefing.decided.is_set()
        # An operator accepted for the human: the same_room bridge marks them bridged.
        human.attributes[ATTR_STATE] = BRIDGED
        consult.emit("participant_attributes_changed", {ATTR_STATE: BRIDGED}, human)
        await briefing.idle()
        await get_transfer(client, briefing.meta.workflow_id).handle.terminate("test over")
    assert briefing.decided.is_set() and briefing.decision is None


async def test_briefing_agent_decline_tool_moves_on(client: Client, task_queue: str) -> None:
    fake = FakeLiveKit()
    async with fake_worker(client, task_queue, fake):
        handle = await start(client, task_queue, make_request(HUMAN_A))
        leg = (await wait_for_stage(handle, "briefing")).participant_identity
        assert leg is not None
        meta = BriefingMetadata(workflow_id=handle.workflow_id, human_identity=leg)
        agent = BriefingAgent(Briefing(meta, handle))
        # What the LLM is offered, and what calling the tools does.
        assert {tool.id for tool in agent.tools} == {"accept_call", "decline_call"}
        said = await BriefingAgent.decline_call(agent, reason="in a meeting")
        again = await BriefingAgent.accept_call(agent)
        outcome = await handle.outcome()
    assert "goodbye" in said and "already decided" in again
    assert outcome.outcome == "returned_to_agent"
    assert [(a.result, a.reason) for a in outcome.attempts] == [("declined", "in a meeting")]


def test_briefing_metadata_must_be_the_engines() -> None:
    with pytest.raises(ValueError, match="briefing dispatch"):
        BriefingMetadata.parse('{"summary": "no workflow"}')


async def test_hold_music_is_livekits_background_audio_on_a_track_of_its_own() -> None:
    room = PublishingRoom()
    music = BackgroundHoldMusic(cast(rtc.Room, room))
    await music.start()
    await asyncio.sleep(0.2)  # the real player decodes and mixes the clip meanwhile
    await music.stop()
    await music.start()  # a second hold reuses the track
    await music.aclose()
    assert room.local_participant.published == ["background_audio"]
    assert room.local_participant.unpublished == ["TR_0"]
