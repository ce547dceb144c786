"""What a caller who phones in hears of a real LiveKit Agents voice agent, on the real stack.

The caller phones the support line (`warm_transfer.realstack.inbound`): livekit-sip takes
its INVITE, the inbound trunk and the dispatch rule put it in a room of its own and
dispatch the voice agent worker there (``python -m warm_transfer.realstack.voice_agent``,
built on ``warm_transfer.agents``). The caller presses 0 and the agent calls its transfer
tool. The RTP livekit-sip sent the phones is captured with tcpdump and measured per 20 ms
frame (`warm_transfer.realstack.audio`): the caller hears the agent's espeak-ng greeting,
its hold line, then LiveKit's hold music (``BackgroundAudioPlayer``) from ``hold_started``
until the bridge and none of the human's tone before the accept; then caller and human
hear each other's tones, and once the agent has left nothing of its voice or its music is
on the caller's line. When nobody answers and the caller is returned to the agent, the
music stops on ``hold_stopped`` and the agent speaks again. A human who declines, or
whose phone's voicemail picks up, is never heard by the caller.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.real_stack import RealEngine, open_real_engine, real_stack_or_skip
from tests.voice_audio import (
    LOUD,
    NOISE,
    NOT_SILENT,
    left_at,
    moves_participants,
    recorded_call,
    stage_times,
    wait_logged,
)
from warm_transfer.agents.espeak import espeak_available
from warm_transfer.models import BridgeStrategy, Fallback
from warm_transfer.realstack.audio import (
    Capture,
    between,
    loud_share,
    other_share,
    tone_frames_share,
)
from warm_transfer.realstack.phones import CALLER_NUMBER

pytestmark = [pytest.mark.real, pytest.mark.slow]

LISTENS = "+15105550109"  # answers, presses 1 only from 9 s on: a long hold
RINGS = "+15105550102"  # rings until CANCEL
DECLINES = "+15105550103"  # answers, presses 2
VOICEMAIL_PICKS_UP = "+15105550199"  # answers, never presses a key: a voicemail
MAILBOX = "+15105550198"  # answers: the fallback's voicemail box
# LiveKit's hold_music.ogg opens with 0.35 s of silence, then plays it (0.7 s in all).
MUSIC_STARTS_S = 0.8
BACK_LINE_S = 6.0  # the agent's welcome-back line (TransferConfig.welcome_back) has ended


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


@pytest.mark.timeout(300)
@pytest.mark.parametrize("bridge", ["move", "same_room"])
async def test_the_caller_hears_the_voice_agent_then_hold_music_then_the_human(
    engine: RealEngine, bridge: BridgeStrategy
) -> None:
    real = engine.livekit
    if bridge == "move" and not await moves_participants(real.lk):
        pytest.skip("this livekit-server has no MoveParticipant (self-hosted: not implemented)")
    async with recorded_call(engine, bridge, [LISTENS], bridge=bridge) as rec:
        call, handle, agent = rec.call, rec.handle, rec.agent
        greeting_at = await wait_logged(agent, "voice agent greeting")
        greeted_at = await wait_logged(agent, "voice agent greeted")
        asked_at = await wait_logged(agent, "voice agent transfer asked")
        music_at = await wait_logged(agent, "voice agent hold music on")
        stages = await asyncio.wait_for(stage_times(handle), 150)
        outcome = await asyncio.wait_for(handle.outcome(), 30)
        await asyncio.sleep(3)  # the bridged call without the agent, on record

    assert outcome.outcome == "connected", outcome
    assert (await handle.status()).bridge == bridge
    told = {event: at for at, event in reversed(agent.messages)}
    assert "hold_started" in told and agent.events()[-1] == "leave", agent.messages
    assert "hold_stopped" not in told
    hold_at, leave_at = told["hold_started"], told["leave"]
    # The accept: the first status past the brief (polled, so at most ~0.1 s late).
    accepted_at = stages.get("bridging", stages["done"])
    gone_at = left_at(engine, call.room_name, call.agent_identity)
    # The caller pressed 0 once greeted; the agent's tool said its hold line, then hold.
    assert greeted_at < asked_at < hold_at < accepted_at < gone_at and leave_at < gone_at
    assert asked_at < music_at < accepted_at
    # On `leave` the adapter said goodbye and ended the session: the agent left on its
    # own, within the engine's goodbye time, before the engine had to remove it.
    [over] = agent.logged("voice agent session over")
    over_at = float(str(over["at"]))
    assert over["how"] == "session closed" and leave_at < over_at < leave_at + 1.5, over

    caller_tone = real.phones[CALLER_NUMBER].tone_hz
    human_tone = real.phones[LISTENS].tone_hz
    to_caller, to_human = rec.to_caller(), rec.to_phone(LISTENS)
    end = max(f.at for f in to_caller)
    greeting = between(to_caller, greeting_at + 0.5, greeted_at - 0.3)
    hold_line = between(to_caller, asked_at + 0.3, music_at - 0.2)
    hold = between(to_caller, music_at + MUSIC_STARTS_S, accepted_at - 0.3)
    on_hold = between(to_caller, hold_at, accepted_at - 0.3)
    bridged = between(to_caller, accepted_at + 1.0, gone_at)
    after = between(to_caller, gone_at + 0.5, end)
    human_after = between(to_human, gone_at + 0.5, end)
    measured = {
        "greeting_s": greeted_at - greeting_at,
        "greeting_loud": loud_share(greeting, LOUD),
        "hold_line_s": music_at - asked_at,
        "hold_line_loud": loud_share(hold_line, LOUD),
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
    # The agent's own voice first: espeak-ng's greeting, through AgentSession; then the
    # tool's hold line ("One moment please..."), said to the end before the music.
    assert measured["greeting_loud"] > 0.3, measured
    assert measured["hold_line_loud"] > 0.3, measured
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
    back_to_agent = Fallback(kind="return_to_agent")
    async with recorded_call(engine, "return", [RINGS], fallback=back_to_agent, ring_s=9) as rec:
        agent = rec.agent
        outcome = await asyncio.wait_for(rec.handle.outcome(), 90)
        await asyncio.sleep(BACK_LINE_S + 3)  # the agent's line, then the caller with it

    assert outcome.outcome == "returned_to_agent", outcome
    told = {event: at for at, event in reversed(agent.messages)}
    assert agent.events() == ["hold_started", "hold_stopped"], agent.messages
    hold_at, back_at = told["hold_started"], told["hold_stopped"]
    music_at = await wait_logged(agent, "voice agent hold music on")
    to_caller = rec.to_caller()
    hold = between(to_caller, music_at + MUSIC_STARTS_S, back_at)
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
    async with recorded_call(engine, "decline", [DECLINES, LISTENS], bridge="same_room") as rec:
        agent = rec.agent
        stages = await asyncio.wait_for(stage_times(rec.handle), 150)
        outcome = await asyncio.wait_for(rec.handle.outcome(), 30)

    assert outcome.outcome == "connected" and outcome.destination == LISTENS, outcome
    assert [a.result for a in outcome.attempts] == ["declined", "answered"], outcome.attempts
    hold_at = next(at for at, event in agent.messages if event == "hold_started")
    music_at = await wait_logged(agent, "voice agent hold music on")
    accepted_at = stages.get("bridging", stages["done"])
    to_caller, to_decliner = rec.to_caller(), rec.to_phone(DECLINES)
    on_hold = between(to_caller, hold_at, accepted_at - 0.3)
    measured = {
        "hold_s": accepted_at - hold_at,
        "hold_heard": loud_share(
            between(to_caller, music_at + MUSIC_STARTS_S, accepted_at - 0.3), NOT_SILENT
        ),
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


@pytest.mark.timeout(300)
async def test_the_caller_never_hears_a_voicemail_that_picks_up_then_leaves_a_message(
    engine: RealEngine,
) -> None:
    real = engine.livekit
    box = Fallback(kind="voicemail", sip_call_to=MAILBOX)
    options = {"fallback": box, "bridge": "same_room", "accept_timeout_s": 8}
    async with recorded_call(engine, "voicemail", [VOICEMAIL_PICKS_UP], **options) as rec:
        agent = rec.agent
        outcome = await asyncio.wait_for(rec.handle.outcome(), 120)
        await asyncio.sleep(3)  # the caller on the mailbox, on record

    assert outcome.outcome == "voicemail" and outcome.destination == MAILBOX, outcome
    [attempt] = outcome.attempts
    assert attempt.result == "declined" and "accept_timeout" in (attempt.reason or ""), attempt
    told = {event: at for at, event in reversed(agent.messages)}
    hold_at, leave_at = told["hold_started"], told["leave"]
    music_at = await wait_logged(agent, "voice agent hold music on")
    to_caller, to_answering = rec.to_caller(), rec.to_phone(VOICEMAIL_PICKS_UP)
    picked_up = real.phones[VOICEMAIL_PICKS_UP].tone_hz
    on_hold = between(to_caller, hold_at, leave_at)
    on_mailbox = between(to_caller, leave_at + 2.0, max(f.at for f in to_caller))
    measured = {
        "hold_s": leave_at - hold_at,
        "hold_heard": loud_share(
            between(to_caller, music_at + MUSIC_STARTS_S, leave_at), NOT_SILENT
        ),
        "hold_voicemail_greeting": tone_frames_share(on_hold, picked_up, LOUD),
        "mailbox_heard": tone_frames_share(on_mailbox, real.phones[MAILBOX].tone_hz, LOUD),
        "answering_heard_caller": tone_frames_share(
            to_answering, real.phones[CALLER_NUMBER].tone_hz, LOUD
        ),
    }
    print("\nvoicemail: " + ", ".join(f"{k} {v:.2f}" for k, v in measured.items()))
    assert len(on_hold) > 200, "the hold was too short to measure"
    # The human's voicemail answered and spoke for the whole accept wait: the caller
    # heard hold music, never that greeting; the voicemail never heard the caller.
    assert measured["hold_heard"] > 0.9, measured
    assert measured["hold_voicemail_greeting"] < 0.02, measured
    assert measured["answering_heard_caller"] < 0.02, measured
    # Then the fallback: the caller is on the mailbox, leaving a message.
    assert measured["mailbox_heard"] > 0.8, measured
