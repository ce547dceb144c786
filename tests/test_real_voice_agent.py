"""What the caller hears of a real LiveKit Agents voice agent, on the real stack.

The AI agent is the voice agent worker (``python -m warm_transfer.realstack.voice_agent``:
an ``AgentServer`` registered with livekit-server, dispatched into the caller's room,
built on ``warm_transfer.agents``). The RTP livekit-sip sent the phones is captured with
tcpdump and measured per 20 ms frame (`warm_transfer.realstack.audio`): the caller hears
the agent's espeak-ng greeting, then LiveKit's hold music (``BackgroundAudioPlayer``)
from ``hold_started`` until the bridge and none of the human's tone before the accept;
then caller and human hear each other's tones, and once the agent has left nothing of
its voice or its music is on the caller's line. When nobody answers and the caller is
returned to the agent, the music stops on ``hold_stopped`` and the agent speaks again.
A human who declines is never heard by the caller, and hears the brief, not the caller.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from livekit import api
from livekit.api import ServerError

from activities.livekit_errors import is_unrouted, is_unsupported
from tests.real_stack import RealEngine, open_real_engine, real_stack_or_skip
from warm_transfer.agents.espeak import espeak_available
from warm_transfer.client import TransferHandle
from warm_transfer.models import BridgeStrategy, Fallback
from warm_transfer.realstack.audio import (
    Capture,
    between,
    frames,
    heard,
    loud_share,
    other_share,
    tone_frames_share,
)
from warm_transfer.realstack.people import DispatchedAgent
from warm_transfer.realstack.phones import CALLER_NUMBER

pytestmark = [pytest.mark.real, pytest.mark.slow]

LISTENS = "+15105550109"  # answers, presses 1 only from 9 s on: a long hold
RINGS = "+15105550102"  # rings until CANCEL
DECLINES = "+15105550103"  # answers, presses 2
BACK_LINE_S = 6.0  # the agent's welcome-back line (TransferConfig.welcome_back) has ended
LOUD = 300.0  # rms: speech or a tone, well above livekit-sip's silence (rms 3-4)
NOT_SILENT = 30.0  # rms: hold music, its quiet passages included
NOISE = 400.0  # rms of anything but a phone's tone: music or speech over it


@pytest_asyncio.fixture(scope="module")
async def engine(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RealEngine]:
    real_stack_or_skip()
    if not espeak_available():
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    if not Capture.available():
        pytest.skip("tcpdump is not installed (apt-get install tcpdump)")
    workdir = tmp_path_factory.mktemp("voice-agent")
    async for running in open_real_engine(workdir, voice_agent="worker"):
        yield running


async def moves_participants(lk: api.LiveKitAPI) -> bool:
    """Whether this livekit-server implements MoveParticipant (the engine's own probe)."""
    try:
        await lk.room.move_participant(
            api.MoveParticipantRequest(room="probe", identity="probe", destination_room="probe-2")
        )
    except ServerError as err:
        return not (is_unsupported(err) or is_unrouted(err))
    return True


async def stage_times(handle: TransferHandle) -> dict[str, float]:
    """When each stage was first seen (polled every 0.1 s) until the transfer ends."""
    seen: dict[str, float] = {}
    while True:
        status = await handle.status()
        seen.setdefault(status.stage, time.time())
        if status.stage in ("done", "failed") or status.outcome:
            return seen
        await asyncio.sleep(0.1)


async def wait_logged(agent: DispatchedAgent, message: str, timeout: float = 30.0) -> float:
    """The wall clock the voice agent logged ``message`` for its room."""
    deadline = time.monotonic() + timeout
    while (at := agent.logged_at(message)) is None:
        assert time.monotonic() < deadline, f"the voice agent never logged {message!r}"
        await asyncio.sleep(0.1)
    return at


def left_at(engine: RealEngine, room: str, identity: str) -> float:
    """When livekit-server said the agent left the caller's room (its webhook)."""
    for at, event in engine.telephony.webhooks:
        who = event.get("participant", {}).get("identity")
        if event.get("event") == "participant_left" and who == identity:
            if event.get("room", {}).get("name") == room:
                return at
    raise AssertionError(f"{identity} never left {room}")


@pytest.mark.timeout(300)
@pytest.mark.parametrize("bridge", ["move", "same_room"])
async def test_the_caller_hears_the_voice_agent_then_hold_music_then_the_human(
    engine: RealEngine, bridge: BridgeStrategy
) -> None:
    real = engine.livekit
    if bridge == "move" and not await moves_participants(real.lk):
        pytest.skip("this livekit-server has no MoveParticipant (self-hosted: not implemented)")
    capture = Capture(real.network, engine.stack.workdir / f"phones-rtp-{bridge}.pcap")
    await capture.start()
    call = await engine.call()
    agent = engine.telephony.agents[call.room_name]
    assert isinstance(agent, DispatchedAgent)
    greeting_at = await wait_logged(agent, "voice agent greeting")
    greeted_at = await wait_logged(agent, "voice agent greeted")
    handle = await engine.transfer(call, [LISTENS], bridge=bridge)
    stages = await asyncio.wait_for(stage_times(handle), 150)
    outcome = await asyncio.wait_for(handle.outcome(), 30)
    await asyncio.sleep(3)  # the bridged call without the agent, on record
    await capture.stop()
    await real.lk.room.delete_room(api.DeleteRoomRequest(room=call.room_name))

    assert outcome.outcome == "connected", outcome
    assert (await handle.status()).bridge == bridge
    told = {event: at for at, event in reversed(agent.messages)}
    assert "hold_started" in told and agent.events()[-1] == "leave", agent.messages
    assert "hold_stopped" not in told
    hold_at, leave_at = told["hold_started"], told["leave"]
    # The accept: the first status past the brief (polled, so at most ~0.1 s late).
    accepted_at = stages.get("bridging", stages["done"])
    gone_at = left_at(engine, call.room_name, call.agent_identity)
    assert greeted_at < hold_at < accepted_at < gone_at and leave_at < gone_at
    # On `leave` the adapter said goodbye and ended the session: the agent left on its
    # own, within the engine's goodbye time, before the engine had to remove it.
    [over] = agent.logged("voice agent session over")
    over_at = float(str(over["at"]))
    assert over["how"] == "session closed" and leave_at < over_at < leave_at + 1.5, over

    caller_tone = real.phones[CALLER_NUMBER].tone_hz
    human_tone = real.phones[LISTENS].tone_hz
    to_caller = frames(heard(capture.path, real.phones[CALLER_NUMBER].media_port))
    to_human = frames(heard(capture.path, real.phones[LISTENS].media_port))
    end = max(f.at for f in to_caller)
    greeting = between(to_caller, greeting_at + 0.5, greeted_at - 0.3)
    hold = between(to_caller, hold_at + 1.5, accepted_at - 0.3)
    on_hold = between(to_caller, hold_at, accepted_at - 0.3)
    bridged = between(to_caller, accepted_at + 1.0, gone_at)
    after = between(to_caller, gone_at + 0.5, end)
    human_after = between(to_human, gone_at + 0.5, end)
    measured = {
        "greeting_s": greeted_at - greeting_at,
        "greeting_loud": loud_share(greeting, LOUD),
        "hold_s": accepted_at - hold_at,
        "hold_heard": loud_share(hold, NOT_SILENT),
        "hold_loud": loud_share(hold, LOUD),
        "hold_human": tone_frames_share(on_hold, human_tone, LOUD),
        "agent_gone_after_accept_s": gone_at - accepted_at,
        "bridged_human": tone_frames_share(bridged, human_tone, LOUD),
        "after_human": tone_frames_share(after, human_tone, LOUD),
        "after_other": other_share(after, human_tone, NOISE),
        "human_hears_caller": tone_frames_share(human_after, caller_tone, LOUD),
    }
    print(f"\n{bridge}: " + ", ".join(f"{k} {v:.2f}" for k, v in measured.items()))
    # The agent's own voice first: espeak-ng's greeting, through AgentSession.
    assert measured["greeting_loud"] > 0.3, measured
    # Hold music, all through the hold (BackgroundAudioPlayer), and not the human.
    assert len(hold) > 100, "the hold was too short to measure"
    assert measured["hold_heard"] > 0.9, measured
    assert measured["hold_loud"] > 0.6, measured
    assert measured["hold_human"] < 0.02, measured
    # Bridged: caller and human hear each other.
    assert measured["bridged_human"] > 0.5, measured
    assert measured["after_human"] > 0.9, measured
    assert measured["human_hears_caller"] > 0.9, measured
    # The agent gone: nothing but the human's tone on the caller's line.
    assert measured["after_other"] < 0.1, measured


@pytest.mark.timeout(240)
async def test_nobody_answers_and_the_hold_music_stops_when_the_caller_is_back(
    engine: RealEngine,
) -> None:
    real = engine.livekit
    capture = Capture(real.network, engine.stack.workdir / "phones-rtp-return.pcap")
    await capture.start()
    call = await engine.call()
    agent = engine.telephony.agents[call.room_name]
    assert isinstance(agent, DispatchedAgent)
    await wait_logged(agent, "voice agent greeted")
    handle = await engine.transfer(
        call, [RINGS], fallback=Fallback(kind="return_to_agent"), ring_s=6
    )
    outcome = await asyncio.wait_for(handle.outcome(), 90)
    await asyncio.sleep(BACK_LINE_S + 3)  # the agent's line, then the caller with it
    await capture.stop()
    await real.lk.room.delete_room(api.DeleteRoomRequest(room=call.room_name))

    assert outcome.outcome == "returned_to_agent", outcome
    told = {event: at for at, event in reversed(agent.messages)}
    assert agent.events() == ["hold_started", "hold_stopped"], agent.messages
    hold_at, back_at = told["hold_started"], told["hold_stopped"]
    to_caller = frames(heard(capture.path, real.phones[CALLER_NUMBER].media_port))
    hold = between(to_caller, hold_at + 1.5, back_at)
    back = between(to_caller, back_at + 0.3, back_at + 2.0)
    with_agent = between(to_caller, back_at + BACK_LINE_S, back_at + BACK_LINE_S + 2.5)
    measured = {
        "hold_s": back_at - hold_at,
        "hold_heard": loud_share(hold, NOT_SILENT),
        "back_line_loud": loud_share(back, LOUD),
        "with_agent_heard": loud_share(with_agent, NOT_SILENT),
    }
    print("\nreturned: " + ", ".join(f"{k} {v:.2f}" for k, v in measured.items()))
    assert len(hold) > 100, "the hold was too short to measure"
    assert measured["hold_heard"] > 0.9, measured
    # hold_stopped: the agent speaks again ("Sorry, nobody could take your call")...
    assert measured["back_line_loud"] > 0.3, measured
    # ...and once it has said it, the music is gone: the line is quiet.
    assert measured["with_agent_heard"] < 0.1, measured


@pytest.mark.timeout(300)
async def test_the_caller_never_hears_a_human_who_declines(engine: RealEngine) -> None:
    real = engine.livekit
    capture = Capture(real.network, engine.stack.workdir / "phones-rtp-decline.pcap")
    await capture.start()
    call = await engine.call()
    agent = engine.telephony.agents[call.room_name]
    assert isinstance(agent, DispatchedAgent)
    await wait_logged(agent, "voice agent greeted")
    handle = await engine.transfer(call, [DECLINES, LISTENS], bridge="same_room")
    stages = await asyncio.wait_for(stage_times(handle), 150)
    outcome = await asyncio.wait_for(handle.outcome(), 30)
    await capture.stop()
    await real.lk.room.delete_room(api.DeleteRoomRequest(room=call.room_name))

    assert outcome.outcome == "connected" and outcome.destination == LISTENS, outcome
    assert [a.result for a in outcome.attempts] == ["declined", "answered"], outcome.attempts
    hold_at = next(at for at, event in agent.messages if event == "hold_started")
    accepted_at = stages.get("bridging", stages["done"])
    to_caller = frames(heard(capture.path, real.phones[CALLER_NUMBER].media_port))
    to_decliner = frames(heard(capture.path, real.phones[DECLINES].media_port))
    on_hold = between(to_caller, hold_at, accepted_at - 0.3)
    measured = {
        "hold_s": accepted_at - hold_at,
        "hold_heard": loud_share(between(to_caller, hold_at + 1.5, accepted_at - 0.3), NOT_SILENT),
        "hold_decliner": tone_frames_share(on_hold, real.phones[DECLINES].tone_hz, LOUD),
        "hold_human": tone_frames_share(on_hold, real.phones[LISTENS].tone_hz, LOUD),
        "decliner_heard_speech": loud_share(to_decliner, LOUD),
        "decliner_caller": tone_frames_share(to_decliner, real.phones[CALLER_NUMBER].tone_hz, LOUD),
    }
    print("\ndeclined: " + ", ".join(f"{k} {v:.2f}" for k, v in measured.items()))
    assert len(on_hold) > 100, "the hold was too short to measure"
    # Hold music all through, the declining human never on the caller's line (nor the
    # next human before the accept), and the decliner heard the brief, not the caller.
    assert measured["hold_heard"] > 0.9, measured
    assert measured["hold_decliner"] < 0.02, measured
    assert measured["hold_human"] < 0.02, measured
    assert measured["decliner_heard_speech"] > 0.1, measured
    assert measured["decliner_caller"] < 0.02, measured
