"""The one-command demo: a real warm transfer on this machine, no accounts needed.

    python -m warm_transfer.demo                 # answers, hears the brief, accepts
    python -m warm_transfer.demo --story busy    # busy, then the next human answers
    python -m warm_transfer.demo --story voicemail   # nobody takes it: voicemail
    python -m warm_transfer.demo --story hangup  # the caller hangs up on hold
    python -m warm_transfer.demo --livekit real  # real livekit-server, livekit-sip, phones
    python -m warm_transfer.demo --livekit real --voice-agent worker  # a LiveKit Agents agent
    python -m warm_transfer.demo --livekit real --audio  # + caller.wav, human.wav, timeline.png

Starts the Temporal dev server (with its Web UI), LiveKit (the stand-in, or with
``--livekit real`` the real servers and SIP phones, built on first use) and a worker as
real processes, plays the caller, the voice agent and the briefing agent, runs one
transfer and prints its timeline, then stops everything it started (Ctrl-C too).
With ``--audio`` (real LiveKit only) the AI agent is the voice agent worker and what
the caller's and the human's phones received is kept in the workdir: two WAVs and a
picture of who each phone heard, with the transfer's stages marked.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from warm_transfer.client import start_transfer
from warm_transfer.config import TemporalSettings
from warm_transfer.log_setup import configure_logging
from warm_transfer.models import Fallback, TransferOutcome, TransferRequest
from warm_transfer.process import run_main
from warm_transfer.realstack.binaries import RealStackUnavailable
from warm_transfer.realstack.build import ensure_real_stack
from warm_transfer.stack import Stack
from warm_transfer.temporal_connect import connect, ui_link

if TYPE_CHECKING:
    from warm_transfer.realstack.people import VoiceAgentKind
    from warm_transfer.realstack.recorder import AudioRecorder


@dataclass(frozen=True)
class Story:
    """Who is dialed, what happens if nobody takes the call, and what the caller does."""

    title: str
    destinations: tuple[str, ...]
    fallback: Fallback
    caller_hangs_up_after_s: float | None = None


STORIES = {
    "happy": Story("A human answers, hears the brief and accepts", ("+15105550100",), Fallback()),
    "busy": Story(
        "The first human is busy; the second answers and accepts",
        ("+15105550101", "+15105550100"),
        Fallback(),
    ),
    "voicemail": Story(
        "Nobody answers, the next human declines: the caller goes to voicemail",
        ("+15105550102", "+15105550103"),
        Fallback(kind="voicemail", sip_call_to="+15105550199"),
    ),
    "hangup": Story(
        "The caller hangs up while the human's phone rings",
        ("+15105550102",),
        Fallback(),
        caller_hangs_up_after_s=3.0,
    ),
}


class Timeline:
    """Prints what happens, as it happens, with the time since the transfer started."""

    def __init__(self) -> None:
        self.start = time.time()

    def say(self, step: str, what: str, at: float | None = None) -> None:
        """One line: seconds since start, the step, what happened."""
        print(f"  {(at or time.time()) - self.start:6.2f}s  {step:<10} {what}", flush=True)

    def narrate(self, at: float, source: str, text: str) -> None:
        """A `Telephony` narrator: LiveKit's and the phones' lines."""
        self.say(source, text, at)


async def run_story(
    stack: Stack, story: Story, timeline: Timeline, audio: AudioRecorder | None = None
) -> TransferOutcome:
    """Places a call, starts the transfer, plays the agents; returns the outcome.

    Args:
        audio: records the phones (real LiveKit): from the call until the transfer's
            end and a few seconds of the bridged call after it.
    """
    settings = TemporalSettings(
        address=stack.temporal_address, ui_url=stack.server.ui_url or "http://localhost:8233"
    )
    client = await connect(settings)
    telephony = stack.telephony()
    try:
        await telephony.start(client, narrate=timeline.narrate)
        if audio is not None:
            await audio.start_capture()
            timeline.say("audio", "recording both phones from here (the recordings' 0 s)")
        call = await telephony.place_call(
            f"call-demo-{uuid.uuid4().hex[:6]}", hang_up_after_s=story.caller_hangs_up_after_s
        )
        timeline.say("call", f"caller {call.caller_identity} talking to {call.agent_identity}")
        if audio is not None:
            # The agent talks with the caller first, as it would before it decides.
            if (greeted := await audio.follow(call, telephony)) is not None:
                timeline.say("agent", "said its greeting to the caller", greeted)
        request = TransferRequest(
            room_name=call.room_name,
            caller_identity=call.caller_identity,
            agent_identity=call.agent_identity,
            destinations=[telephony.destination(n, ring_timeout_s=8) for n in story.destinations],
            summary="Caller disputes a $42 charge on the May invoice; identity verified.",
            fallback=telephony.fallback(story.fallback),
        )
        handle = await start_transfer(client, request, task_queue=settings.task_queue)
        timeline.say("engine", f"WarmTransferWorkflow started: {handle.workflow_id}")
        print(f"             UI: {ui_link(settings, handle.workflow_id, handle.run_id)}")
        if audio is not None:
            audio.watch(handle)
        outcome = await handle.outcome()
        timeline.say(
            "engine",
            f"outcome: {outcome.outcome}"
            + (f" ({outcome.destination})" if outcome.destination else ""),
        )
        if audio is not None:
            await audio.stop()  # a few seconds of the bridged call on record
            timeline.say("audio", "recording stopped")
        await asyncio.sleep(0.5)  # let the last LiveKit events print
    finally:
        if audio is not None:
            await audio.close()  # a run that failed leaves no tcpdump behind
        await telephony.aclose()
    for attempt in outcome.attempts:
        print(
            f"             attempt {attempt.destination_index + 1}: {attempt.sip_call_to} -> "
            f"{attempt.result}{f' ({attempt.reason})' if attempt.reason else ''}"
        )
    print(f"             UI: {ui_link(settings, handle.workflow_id, handle.run_id)}")
    return outcome


async def main(argv: Sequence[str] | None = None) -> int:
    """Runs the demo; returns the process exit status."""
    parser = argparse.ArgumentParser(prog="python -m warm_transfer.demo", description=__doc__)
    parser.add_argument("--story", choices=sorted(STORIES), default="happy")
    parser.add_argument("--time-scale", type=float, default=1.0, help="speed up the humans")
    parser.add_argument("--workdir", type=Path, default=Path(".demo"), help="logs go here")
    parser.add_argument("--keep-running", action="store_true", help="stay up for the UI")
    parser.add_argument(
        "--livekit",
        choices=("sim", "real"),
        default="sim",
        help="the stand-in (default) or real livekit-server, livekit-sip and SIP phones",
    )
    parser.add_argument(
        "--voice-agent",
        choices=("webrtc", "worker"),
        default=None,
        help="with --livekit real: a bare WebRTC AI agent (default; the voice agent worker "
        "with --audio) or the LiveKit Agents voice agent worker (speaks, plays hold music)",
    )
    parser.add_argument(
        "--audio",
        action="store_true",
        help="with --livekit real: keep what the caller's and the human's phones received "
        "(caller.wav, human.wav) and a picture of who each heard (timeline.png) in --workdir",
    )
    args = parser.parse_args(argv)
    if args.audio and args.livekit != "real":
        parser.error("--audio needs --livekit real: the LiveKit stand-in carries no audio")
    if args.audio and args.voice_agent == "webrtc":
        parser.error("--audio needs the voice agent worker: drop --voice-agent webrtc")
    voice_agent: VoiceAgentKind = args.voice_agent or ("worker" if args.audio else "webrtc")
    story = STORIES[args.story]
    configure_logging("console", "WARNING")
    print(f"Warm transfer demo: {story.title}")
    if args.livekit == "real":
        try:
            ensure_real_stack()
        except RealStackUnavailable as err:
            print(f"  {err}")
            return 2
    if args.audio and (missing := audio_missing()):
        print(f"  --audio needs {missing}")
        return 2
    what = "the LiveKit stand-in" if args.livekit == "sim" else "real LiveKit and SIP phones"
    print(f"  starting the Temporal dev server, {what} and a worker ...", flush=True)
    stack = Stack(
        workdir=args.workdir,
        time_scale=args.time_scale,
        livekit=args.livekit,
        real_voice_agent=voice_agent,
    )
    audio: AudioRecorder | None = None
    if args.audio and stack.real is not None:
        from warm_transfer.realstack.recorder import AudioRecorder

        audio = AudioRecorder(stack.real, args.workdir)
    try:
        await stack.start()
        print(f"  Temporal UI: {stack.server.ui_url}   LiveKit: {stack.livekit_url}")
        outcome = await run_story(stack, story, Timeline(), audio)
        if audio is not None and args.keep_running:
            audio_report(audio, story, outcome)  # before a Ctrl-C could lose it
            audio = None
        if args.keep_running:
            print("  still running for the UI; Ctrl-C stops everything")
            await asyncio.Event().wait()
    finally:
        await stack.stop()
        print("  stopped every process the demo started")
    if audio is not None:
        audio_report(audio, story, outcome)
    expected = {"happy": "connected", "busy": "connected", "voicemail": "voicemail"}
    return 0 if outcome.outcome == expected.get(args.story, "caller_hung_up") else 1


def audio_missing() -> str | None:
    """What ``--audio`` needs and this machine lacks (None: nothing)."""
    from warm_transfer.agents.espeak import espeak_available
    from warm_transfer.realstack.audio import Capture

    if not Capture.available():
        return "tcpdump (apt-get install tcpdump)"
    if not espeak_available():
        return "espeak-ng, the voice agent's voice (apt-get install espeak-ng)"
    return None


def audio_report(audio: AudioRecorder, story: Story, outcome: TransferOutcome) -> None:
    """Writes the recordings and the picture, and prints where they are.

    The human is the one who took the call (or voicemail), else the story's last.
    """
    human = outcome.destination
    files = audio.write(human if human in audio.real.phones else story.destinations[-1])
    print(f"  what the phones heard ({files.seconds:.1f} s from the call's start):")
    print(f"    caller's phone:  {files.caller_wav}")
    print(f"    human's phone:   {files.human_wav}")
    print(f"    who was heard:   {files.picture}  (data: {files.data})")
    if files.bridged_at_s is not None and files.human_heard_at_s is not None:
        print(
            f"    the caller first heard the human at {files.human_heard_at_s:.2f} s, "
            f"{files.human_heard_at_s - files.bridged_at_s:.2f} s after the bridge began"
        )


if __name__ == "__main__":
    run_main(main)
