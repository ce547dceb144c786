"""What the caller hears in a ``same_room`` transfer, on the real stack.

The briefing agent speaks the brief (espeak-ng) in the caller's own room. The evidence
that only the human hears it is livekit-server's: its SFU report (`track_subscribers`)
lists who is subscribed to the briefing agent's track during the brief. Where tcpdump
is installed, the RTP livekit-sip sent each phone is captured too and measured per
20 ms frame (`warm_transfer.realstack.audio`): the human's phone gets the brief, the
caller's gets none of it, nor the human's tone until the accept, and then it does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import pytest_asyncio
from livekit import api

from tests.real_stack import RealEngine, open_real_engine, real_stack_or_skip
from warm_transfer.agents.espeak import espeak_available
from warm_transfer.client import TransferHandle
from warm_transfer.realstack.audio import Capture, Frame, between, frames, heard
from warm_transfer.realstack.phones import CALLER_NUMBER
from warm_transfer.realstack.sfu import track_subscribers
from warm_transfer.telephony import Call

pytestmark = [pytest.mark.real, pytest.mark.slow]

LISTENS = "+15105550109"  # answers, presses 1 only from 9 s on: the whole brief plays
LOUD = 300.0  # rms: speech or a tone, well above livekit-sip's silence


@pytest_asyncio.fixture(scope="module")
async def engine(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RealEngine]:
    real_stack_or_skip()
    if not espeak_available():
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    async for running in open_real_engine(tmp_path_factory.mktemp("brief-audio")):
        yield running


@dataclass
class BriefSamples:
    """What the SFU said during the brief, and when the brief began and ended."""

    listeners: list[set[str]] = field(default_factory=list)  # per sample of the brief track
    brief_at: float | None = None
    accepted_at: float | None = None


async def sample_brief(engine: RealEngine, call: Call, handle: TransferHandle) -> BriefSamples:
    """Samples the SFU's subscribers of the briefing agent's track while the brief lasts."""
    seen = BriefSamples()
    for _ in range(400):
        status = await handle.status()
        if status.stage in ("bridging", "done"):
            seen.accepted_at = time.time()
            break
        if status.stage == "briefing":
            rooms = await track_subscribers(engine.livekit.network.lk_ip, call.room_name)
            after = await handle.status()
            briefer = [
                tracks for who, tracks in rooms.items() if who.startswith("agent-") and tracks
            ]
            if briefer and after.stage == "briefing":
                seen.brief_at = seen.brief_at or time.time()
                for tracks in briefer:
                    seen.listeners.extend(tracks.values())
        await asyncio.sleep(0.1)
    return seen


def loud(heard_frames: list[Frame]) -> float:
    """The share of frames above `LOUD`."""
    return sum(f.rms > LOUD for f in heard_frames) / max(1, len(heard_frames))


def toned(heard_frames: list[Frame], hz: float) -> float:
    """The share of loud frames that are mostly ``hz``."""
    return sum(f.rms > LOUD and f.tone_share(hz) > 0.5 for f in heard_frames) / max(
        1, len(heard_frames)
    )


@pytest.mark.timeout(240)
async def test_only_the_human_hears_the_brief(engine: RealEngine) -> None:
    real = engine.livekit
    capture = Capture(real.network, engine.stack.workdir / "phones-rtp.pcap")
    if Capture.available():
        await capture.start()
    call = await engine.call()
    handle = await engine.transfer(call, [LISTENS], bridge="same_room")
    seen = await sample_brief(engine, call, handle)
    outcome = await asyncio.wait_for(handle.outcome(), 120)
    await asyncio.sleep(3)  # the bridged call, on record
    await capture.stop()
    await real.lk.room.delete_room(api.DeleteRoomRequest(room=call.room_name))

    assert outcome.outcome == "connected", outcome
    assert (await handle.status()).bridge == "same_room"
    human = outcome.participant_identity
    assert seen.listeners, "the briefing agent's track was never seen during the brief"
    # The SFU forwarded the brief to the human and to nobody else.
    assert any(human in listeners for listeners in seen.listeners), seen.listeners
    for listeners in seen.listeners:
        assert call.caller_identity not in listeners
        assert call.agent_identity not in listeners
        assert listeners <= {human}
    log = (engine.stack.workdir / "keypad-briefer.log").read_text(errors="replace")
    assert "brief speaking" in log

    if not Capture.available():
        pytest.skip("tcpdump is not installed: the SFU's report alone was checked")
    assert seen.brief_at is not None and seen.accepted_at is not None
    caller_tone = real.phones[CALLER_NUMBER].tone_hz
    human_tone = real.phones[LISTENS].tone_hz
    to_caller = frames(heard(capture.path, real.phones[CALLER_NUMBER].media_port))
    to_human = frames(heard(capture.path, real.phones[LISTENS].media_port))
    brief = (seen.brief_at + 0.5, seen.accepted_at - 0.5)
    bridged = (seen.accepted_at + 1.0, seen.accepted_at + 3.0)
    # The human's phone got the brief: speech, not the caller's tone.
    assert loud(between(to_human, *brief)) > 0.3
    assert toned(between(to_human, *brief), caller_tone) < 0.02
    # The caller's phone got neither the brief nor the human before the accept...
    assert loud(between(to_caller, *brief)) < 0.02
    # ...and the human once bridged (and the human the caller).
    assert toned(between(to_caller, *bridged), human_tone) > 0.5
    assert toned(between(to_human, *bridged), caller_tone) > 0.5
