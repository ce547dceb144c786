"""The one-command demo: a real warm transfer on this machine, no accounts needed.

    python -m warm_transfer.demo                 # answers, hears the brief, accepts
    python -m warm_transfer.demo --story busy    # busy, then the next human answers
    python -m warm_transfer.demo --story voicemail   # nobody takes it: voicemail
    python -m warm_transfer.demo --story hangup  # the caller hangs up on hold

Starts the Temporal dev server (with its Web UI), the LiveKit stand-in and a worker as
real processes, plays the caller, the voice agent and the briefing agent, runs one
transfer and prints its timeline, then stops everything it started (Ctrl-C too).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from warm_transfer.client import start_transfer
from warm_transfer.config import TemporalSettings
from warm_transfer.livekit_sim import SimControl, SimEvent
from warm_transfer.log_setup import configure_logging
from warm_transfer.models import Destination, Fallback, TransferOutcome, TransferRequest
from warm_transfer.process import run_main
from warm_transfer.sim_agents import SimulatedBriefingAgent, place_call, run_briefer
from warm_transfer.stack import Stack
from warm_transfer.temporal_connect import connect, ui_link


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

    def livekit(self, event: SimEvent) -> None:
        """Renders one stand-in event, if it is worth a line."""
        who = event.get("participant_identity", "")
        kind = event["type"]
        text = {
            "room_created": f"room {event.get('room')} created",
            "room_deleted": f"room {event.get('room')} deleted",
            "call_status": f"SIP leg {who}: {event.get('status')}"
            + (f" (SIP {event['sip_status_code']})" if "sip_status_code" in event else ""),
            "participant_left": f"{who} left {event.get('room')} ({event.get('reason')})",
            "moved": f"{who} moved {event.get('from_room')} -> {event.get('room')}",
            "dispatch_created": f"briefing agent dispatched to {event.get('room')}",
            "sip_dtmf": f"{who} pressed {event.get('digit')}",
            "transferred": f"caller REFERred to {event.get('transfer_to')}",
        }.get(kind)
        if kind == "data_sent":
            payload = event.get("payload")
            if isinstance(payload, dict):
                text = f"agent told: {payload.get('event')}"
        if text:
            self.say("livekit", text, event["time"])


async def run_story(stack: Stack, story: Story, timeline: Timeline) -> TransferOutcome:
    """Places a call, starts the transfer, plays the agents; returns the outcome."""
    settings = TemporalSettings(
        address=stack.temporal_address, ui_url=stack.server.ui_url or "http://localhost:8233"
    )
    client = await connect(settings)
    async with SimControl(stack.sim_url) as control:
        call = await place_call(control, f"call-demo-{uuid.uuid4().hex[:6]}")
        timeline.say("call", f"caller {call.caller_identity} talking to {call.agent_identity}")
        briefer = SimulatedBriefingAgent(
            control,
            client,
            on_event=timeline.livekit,
            on_signal=lambda name, _: timeline.say("signal", f"{name} sent to the workflow"),
        )
        follower = await run_briefer(briefer)
        try:
            request = TransferRequest(
                room_name=call.room_name,
                caller_identity=call.caller_identity,
                agent_identity=call.agent_identity,
                destinations=[
                    Destination(sip_call_to=n, ring_timeout_s=8) for n in story.destinations
                ],
                summary="Caller disputes a $42 charge on the May invoice; identity verified.",
                fallback=story.fallback,
            )
            handle = await start_transfer(client, request, task_queue=settings.task_queue)
            timeline.say("engine", f"WarmTransferWorkflow started: {handle.workflow_id}")
            print(f"             UI: {ui_link(settings, handle.workflow_id, handle.run_id)}")
            if story.caller_hangs_up_after_s is not None:
                await asyncio.sleep(story.caller_hangs_up_after_s * stack.time_scale)
                await control.remove_participant(call.room_name, call.caller_identity)
                await handle.caller_hung_up()
                timeline.say("call", "caller hung up; voice agent sent caller_hung_up")
            outcome = await handle.outcome()
            await asyncio.sleep(0.3)  # let the last LiveKit events print
        finally:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
    timeline.say(
        "engine",
        f"outcome: {outcome.outcome}"
        + (f" ({outcome.destination})" if outcome.destination else ""),
    )
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
    args = parser.parse_args(argv)
    story = STORIES[args.story]
    configure_logging("console", "WARNING")
    print(f"Warm transfer demo: {story.title}")
    print("  starting the Temporal dev server, the LiveKit stand-in and a worker ...", flush=True)
    stack = Stack(workdir=args.workdir, time_scale=args.time_scale)
    try:
        await stack.start()
        print(f"  Temporal UI: {stack.server.ui_url}   LiveKit stand-in: {stack.sim_url}")
        outcome = await run_story(stack, story, Timeline())
        if args.keep_running:
            print("  still running for the UI; Ctrl-C stops everything")
            await asyncio.Event().wait()
    finally:
        await stack.stop()
        print("  stopped every process the demo started")
    expected = {"happy": "connected", "busy": "connected", "voicemail": "voicemail"}
    return 0 if outcome.outcome == expected.get(args.story, "caller_hung_up") else 1


if __name__ == "__main__":
    run_main(main)
