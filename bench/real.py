"""``python -m bench --livekit real``: latency and cost on real LiveKit and real phones.

The same stack the real tier tests run (`warm_transfer.stack.Stack(livekit="real")`):
livekit-server, livekit-sip, sipp phones, the keypad briefing agent and
``python worker.py``. Every figure is read where the thing happens, not from the
engine:

* time to dial: the phone's own log of the INVITE it received, minus the wall clock
  just before ``start_workflow`` (the direct script: just before its first call);
* handoff gap: the accept (the workflow's ``human_accepted`` signal event; the direct
  script: the wall clock of its in-process accept) to the first moment the SFU itself
  (``/debug/rooms``) reports the caller subscribed to the human's track;
* handoff gap on audio (`bench.real_audio`): the accept keypress in the phones' RTP
  (the direct script: its in-process accept) to the first frame of the other side's
  tone each phone received, both ways;
* actions per transfer: the real histories, costed as the stand-in's bench does
  (`bench.cost.history_actions`).

The human is the phone at +15105550100: it answers after 0.6 s and presses 1 from
3 s on, so the keypad briefing agent accepts. One machine's clock reads both ends.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from livekit import api
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from bench.cost import history_actions
from bench.real_audio import audio_gap, recording, stop_recording
from bench.real_direct import direct_transfer
from bench.stats import percentile
from warm_transfer.client import TransferHandle, start_transfer
from warm_transfer.config import TemporalSettings
from warm_transfer.models import TransferRequest
from warm_transfer.realstack.audio import Capture
from warm_transfer.realstack.phones import CALLER_NUMBER
from warm_transfer.realstack.sfu import subscribers
from warm_transfer.realstack.telephony import RealTelephony
from warm_transfer.stack import Stack
from warm_transfer.telephony import Call
from warm_transfer.temporal_connect import connect

HUMAN = "+15105550100"
POLL_S = 0.01
SUMMARY = "Caller disputes a $42 charge on the May invoice; identity verified."


@dataclass
class Samples:
    """Per-transfer figures in seconds, and how many transfers did not connect."""

    time_to_dial_s: list[float] = field(default_factory=list)
    handoff_gap_s: list[float] = field(default_factory=list)
    actions: list[int] = field(default_factory=list)
    # Seconds the SFU had the caller subscribed to the human before the accept (the
    # auto-subscription to a ringing leg's track, before the isolation lands).
    exposed_s: list[float] = field(default_factory=list)
    # The handoff gap on audio, each way, and (engine) the keypress to the signal.
    human_hears_caller_s: list[float] = field(default_factory=list)
    caller_hears_human_s: list[float] = field(default_factory=list)
    press_to_signal_s: list[float] = field(default_factory=list)
    not_connected: int = 0
    # Connected transfers recorded without both gaps on it (none recorded: no tcpdump).
    audio_missing: int = 0

    def add_audio(
        self, telephony: RealTelephony, capture: Capture | None, accept: float, by_key: bool
    ) -> None:
        """Measures the recorded transfer; drops a recording that served."""
        if capture is None:
            return
        phones = telephony.real.phones
        gap = audio_gap(capture.path, phones[CALLER_NUMBER], phones[HUMAN], accept, by_key)
        if gap is None:
            self.audio_missing += 1  # the recording stays in the workdir, to look at
            return
        self.human_hears_caller_s.append(gap.human_hears_caller_s)
        self.caller_hears_human_s.append(gap.caller_hears_human_s)
        if gap.press_to_signal_s is not None:
            self.press_to_signal_s.append(gap.press_to_signal_s)
        capture.path.unlink(missing_ok=True)


@dataclass
class SubscriptionWatch:
    """Polls the SFU: when was ``caller`` subscribed to ``human``'s track, and when not."""

    lk_ip: str
    room: str
    caller: str
    human: str
    samples: list[tuple[float, bool]] = field(default_factory=list)

    async def run(self) -> None:
        """Polls until cancelled."""
        while True:
            heard = (await subscribers(self.lk_ip, self.room)).get(self.human, set())
            self.samples.append((time.time(), self.caller in heard))
            await asyncio.sleep(POLL_S)

    def first_after(self, t: float) -> float | None:
        """The first poll after ``t`` that found the caller subscribed."""
        return next((at for at, on in self.samples if at >= t and on), None)

    def exposed_before(self, t: float) -> float:
        """Seconds (by poll) the caller was subscribed to the human before ``t``."""
        total, prev = 0.0, None
        for at, on in self.samples:
            if at >= t:
                break
            if prev is not None and prev[1]:
                total += at - prev[0]
            prev = (at, on)
        return total


async def watching(watch: SubscriptionWatch, until: float, done: asyncio.Future[None]) -> None:
    """Runs ``watch`` until ``done``, then on until it sees the caller subscribed."""
    task = asyncio.create_task(watch.run())
    try:
        await done
        deadline = time.monotonic() + until
        while time.monotonic() < deadline and not (watch.samples and watch.samples[-1][1]):
            await asyncio.sleep(POLL_S)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def invite_after(telephony: RealTelephony, number: str, after: float) -> float | None:
    """The first INVITE the phone at ``number`` received after ``after`` (wall clock)."""
    times = sorted(telephony.real.phones[number].read_log().invited_at.values())
    return next((t for t in times if t >= after), None)


async def accepted_at(client: Client, handle: TransferHandle) -> float | None:
    """When the workflow received ``human_accepted`` (its history's signal event)."""
    history = await client.get_workflow_handle(handle.workflow_id).fetch_history()
    for event in history.events:
        if event.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            continue
        if event.workflow_execution_signaled_event_attributes.signal_name == "human_accepted":
            return event.event_time.ToDatetime().timestamp() + _utc_offset()
    return None


def _utc_offset() -> float:
    # Protobuf's ToDatetime() is naive UTC; .timestamp() reads it as local time.
    return -time.timezone if time.localtime().tm_isdst == 0 else -time.altzone


async def engine_transfer(
    client: Client,
    telephony: RealTelephony,
    call: Call,
    samples: Samples,
    capture: Capture | None = None,
) -> None:
    """One warm transfer through the engine, timed at the phone, the SFU and on
    ``capture`` (the phones' RTP, being recorded)."""
    request = TransferRequest(
        room_name=call.room_name,
        caller_identity=call.caller_identity,
        agent_identity=call.agent_identity,
        destinations=[telephony.destination(HUMAN, ring_timeout_s=20)],
        summary=SUMMARY,
    )
    started = time.time()
    handle = await start_transfer(client, request)
    leg = f"{handle.workflow_id}-human-1"
    watch = SubscriptionWatch(
        telephony.real.network.lk_ip, call.room_name, call.caller_identity, leg
    )
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    watcher = asyncio.create_task(watching(watch, 10, done))
    try:
        outcome = await asyncio.wait_for(handle.outcome(), 90)
    finally:
        done.set_result(None)
        await watcher
    invite, accept = invite_after(telephony, HUMAN, started), await accepted_at(client, handle)
    if capture is not None:
        await stop_recording(capture, accept)
    bridged = None if accept is None else watch.first_after(accept)
    if outcome.outcome != "connected" or invite is None or accept is None or bridged is None:
        samples.not_connected += 1
        return
    samples.time_to_dial_s.append(invite - started)
    samples.handoff_gap_s.append(bridged - accept)
    samples.exposed_s.append(watch.exposed_before(accept))
    samples.add_audio(telephony, capture, accept, by_key=True)
    history = await client.get_workflow_handle(handle.workflow_id).fetch_history()
    samples.actions.append(sum(history_actions(history).values()))


async def direct_run(
    telephony: RealTelephony, call: Call, samples: Samples, capture: Capture | None = None
) -> None:
    """One transfer by the direct script on the same stack, timed the same way."""
    leg = f"{call.room_name}-human-1"
    started = time.time()
    watch = SubscriptionWatch(
        telephony.real.network.lk_ip, call.room_name, call.caller_identity, leg
    )
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    watcher = asyncio.create_task(watching(watch, 10, done))
    try:
        accept = await direct_transfer(telephony, call, leg, HUMAN)
    finally:
        done.set_result(None)
        await watcher
    if capture is not None:
        await stop_recording(capture, accept)
    invite, bridged = invite_after(telephony, HUMAN, started), watch.first_after(accept)
    if invite is None or bridged is None:
        samples.not_connected += 1
        return
    samples.time_to_dial_s.append(invite - started)
    samples.handoff_gap_s.append(bridged - accept)
    samples.exposed_s.append(watch.exposed_before(accept))
    samples.add_audio(telephony, capture, accept, by_key=False)


def _figures(prefix: str, s: Samples) -> dict[str, Any]:
    out: dict[str, Any] = {
        f"{prefix}not_connected": s.not_connected,
        f"{prefix}audio_missing": s.audio_missing,
    }
    series = [
        ("time_to_dial", s.time_to_dial_s),
        ("handoff_gap", s.handoff_gap_s),
        ("exposed_before_accept", s.exposed_s),
        ("audio_human_hears_caller", s.human_hears_caller_s),
        ("audio_caller_hears_human", s.caller_hears_human_s),
    ]
    if not prefix:  # the direct script listens to no key
        series.append(("keypress_to_accept_signal", s.press_to_signal_s))
    for name, values in series:
        ms = [v * 1000 for v in values]
        out[f"{prefix}{name}_ms_p50"] = round(percentile(ms, 50), 1) if ms else None
        out[f"{prefix}{name}_ms_p99"] = round(percentile(ms, 99), 1) if ms else None
    return out


async def run_real(workdir: Path, samples: int) -> dict[str, Any]:
    """Starts the real stack, runs ``samples`` engine and direct transfers; the figures."""
    engine, direct = Samples(), Samples()
    async with Stack(workdir, livekit="real", ui=False) as stack:
        client = await connect(TemporalSettings(address=stack.temporal_address))
        telephony = stack.telephony()
        assert isinstance(telephony, RealTelephony)
        await telephony.start(client)
        try:
            for i in range(samples):
                for kind, run in (("engine", engine), ("direct", direct)):
                    call = await telephony.place_call(
                        f"bench-real-{kind}-{i}-{uuid.uuid4().hex[:4]}"
                    )
                    async with recording(telephony, call.room_name) as capture:
                        if kind == "engine":
                            await engine_transfer(client, telephony, call, run, capture)
                        else:
                            await direct_run(telephony, call, run, capture)
                    # The caller's phone hangs up with its room: the next call is new.
                    await telephony.real.lk.room.delete_room(
                        api.DeleteRoomRequest(room=call.room_name)
                    )
        finally:
            await telephony.aclose()
    out: dict[str, Any] = {"livekit": "real", "samples": samples}
    out |= _figures("", engine) | _figures("direct_", direct)
    out["audio_recorded"] = Capture.available()
    for name in (
        "time_to_dial",
        "handoff_gap",
        "audio_human_hears_caller",
        "audio_caller_hears_human",
    ):
        ours, theirs = out[f"{name}_ms_p50"], out[f"direct_{name}_ms_p50"]
        out[f"{name}_ratio_p50"] = round(ours / theirs, 2) if ours and theirs else None
    out["actions_per_success"] = (
        round(sum(engine.actions) / len(engine.actions), 1) if engine.actions else None
    )
    return out
