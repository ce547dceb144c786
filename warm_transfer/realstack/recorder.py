"""What the caller and the human heard during a transfer on the real stack, kept.

`AudioRecorder` captures the RTP livekit-sip sends the phones (`Capture`) while a call
and its transfer run, notes when the workflow's stage changed (its ``status`` query,
polled) and what the voice agent was told (its worker's log), and then writes, into
one folder:

- ``caller.wav`` and ``human.wav``: what each phone received, as 16-bit 8 kHz mono
  PCM on the wall clock from the moment the call was placed (`recording.place`);
- ``timeline.png``: one row per phone of who was heard, with the stages and the
  voice agent's messages marked (`picture.draw`);
- ``timeline.json``: the same as data (bands, marks, tones), for a program to read.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import structlog

from warm_transfer.client import TransferHandle
from warm_transfer.realstack.audio import Capture, rtp_packets
from warm_transfer.realstack.launcher import RealLiveKit
from warm_transfer.realstack.people import AgentParticipant, DispatchedAgent, VoiceAgent
from warm_transfer.realstack.phones import CALLER_NUMBER
from warm_transfer.realstack.recording import Recording, place
from warm_transfer.realstack.telephony import RealTelephony
from warm_transfer.realstack.timeline import (
    OTHER,
    SILENCE,
    Band,
    Mark,
    bands,
    classify,
    first_heard,
    level_db,
    notes,
)
from warm_transfer.telephony import Call, Telephony

log = structlog.get_logger(__name__)

AGENT_LOG_LINES = {"voice agent greeting": "greeting", "voice agent greeted": "greeted"}
# What loud audio without a phone's tone is, on each phone, after which mark.
CONTEXT = {
    "caller": {
        "greeting": "voice agent",
        "hold_started": "hold music",
        "hold_stopped": "voice agent",
        "leave": "voice agent",
    },
    "human": {"briefing": "brief", "bridging": "voice agent"},
}


@dataclass(frozen=True)
class AudioFiles:
    """What `AudioRecorder.write` wrote, and what it found."""

    caller_wav: Path
    human_wav: Path
    picture: Path
    data: Path
    seconds: float
    human_heard_at_s: float | None = None
    bridged_at_s: float | None = None


@dataclass
class AudioRecorder:
    """Records one demo call's audio at both phones and writes it out.

    Args:
        real: the running real stack (its network and phones).
        out_dir: where the capture and everything written go.
    """

    real: RealLiveKit
    out_dir: Path
    start: float = field(init=False, default=0.0)
    end: float = field(init=False, default=0.0)
    stages: list[tuple[float, str]] = field(init=False, default_factory=list)
    call: Call | None = field(init=False, default=None)
    agent: VoiceAgent | None = field(init=False, default=None)
    agent_left_at: float | None = field(init=False, default=None)
    _telephony: RealTelephony | None = field(init=False, default=None)
    _capture: Capture | None = field(init=False, default=None)
    _watch: asyncio.Task[None] | None = field(init=False, default=None)

    @property
    def pcap(self) -> Path:
        """The capture of the phones' link."""
        return self.out_dir / "phones-rtp.pcap"

    async def start_capture(self) -> None:
        """Starts capturing (on a started stack); the recordings' 0 s is when this returns."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._capture = Capture(self.real.network, self.pcap)
        await self._capture.start()
        self.start = time.time()

    async def follow(self, call: Call, telephony: Telephony, timeout: float = 20.0) -> float | None:
        """Follows ``call``; returns when its voice agent finished its greeting (None: it
        did not say it within ``timeout``, or it is not the voice agent worker)."""
        self.call = call
        if not isinstance(telephony, RealTelephony):
            return None
        self._telephony = telephony
        self.agent = telephony.agents.get(call.room_name)
        if not isinstance(self.agent, DispatchedAgent):
            return None
        deadline = time.monotonic() + timeout
        while (at := self.agent.logged_at("voice agent greeted")) is None:
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(0.1)
        return at

    def watch(self, handle: TransferHandle) -> None:
        """Notes each change of the transfer's stage until it ends (in the background),
        from now: the transfer has just started, holding."""
        self.stages.append((time.time(), "holding"))
        self._watch = asyncio.get_running_loop().create_task(self._poll(handle))

    async def _poll(self, handle: TransferHandle) -> None:
        last = "holding"
        while True:
            try:
                status = await handle.status()
            except Exception as err:  # a lost query loses marks, not the recording
                log.warning("transfer status unavailable", error=str(err))
                return
            label: str = status.stage
            if status.stage == "dialing" and (status.destination_index or 0) > 0:
                label = f"dialing #{(status.destination_index or 0) + 1}"
            if label != last:
                self.stages.append((time.time(), label))
                last = label
            if status.stage == "done" or status.outcome:
                return
            await asyncio.sleep(0.1)

    async def stop(self, linger_s: float = 3.0) -> None:
        """Keeps recording ``linger_s`` more (the bridged call), then stops."""
        await asyncio.sleep(linger_s)
        await self.close()
        self.end = time.time()
        if self._telephony is not None and self.call is not None:
            self.agent_left_at = left_at(self._telephony, self.call)

    async def close(self) -> None:
        """Stops watching and capturing, whatever state they are in (idempotent)."""
        if self._watch is not None:
            self._watch.cancel()
        if self._capture is not None:
            await self._capture.stop()

    def marks(self) -> list[Mark]:
        """The stages and what the voice agent was told, on the recordings' clock."""
        marks = [Mark(at - self.start, label, "stage") for at, label in self.stages]
        told: list[tuple[float, str]] = []
        agent = self.agent
        if isinstance(agent, DispatchedAgent):
            for line, label in AGENT_LOG_LINES.items():
                if (at := agent.logged_at(line)) is not None:
                    told.append((at, label))
            told += agent.messages
        elif isinstance(agent, AgentParticipant):
            told += agent.messages
        if self.agent_left_at is not None:
            told.append((self.agent_left_at, "agent left"))
        marks += [Mark(at - self.start, label, "agent") for at, label in told]
        return sorted((m for m in marks if m.at_s >= 0), key=lambda m: m.at_s)

    def recording(self, number: str) -> Recording:
        """What the phone at ``number`` received, from the start to the end (the caller:
        the phone that called in, when the call came in)."""
        port = self.real.phones[number].media_port
        if number == CALLER_NUMBER and self.call is not None and self._telephony is not None:
            port = self._telephony.caller_media_port(self.call.room_name)
        packets = rtp_packets(self.pcap, port)
        return place(packets, self.start, self.end)

    def write(self, human: str) -> AudioFiles:
        """Writes the caller's and the human's WAVs, the picture and its data.

        Args:
            human: the number of the human whose phone is the second row.
        """
        tones = {
            "caller": float(self.real.phones[CALLER_NUMBER].tone_hz),
            "human": float(self.real.phones[human].tone_hz),
        }
        names = {
            "caller": f"caller's tone ({tones['caller']:.0f} Hz)",
            "human": f"human's tone ({tones['human']:.0f} Hz)",
            OTHER: "voice agent / hold music / brief",
            SILENCE: "silence",
        }
        marks = self.marks()
        rows: dict[str, tuple[str, Recording]] = {
            "caller": ("what the caller's phone received", self.recording(CALLER_NUMBER)),
            "human": ("what the human's phone received", self.recording(human)),
        }
        kinds: dict[str, list[str]] = {}
        found: dict[str, list[Band]] = {}
        levels: dict[str, list[float]] = {}
        for phone, (_, recording) in rows.items():
            heard_frames = recording.frames()
            kinds[phone] = [classify(f, tones) for f in heard_frames]
            found[phone] = bands(kinds[phone])
            levels[phone] = [level_db(f) for f in heard_frames]
            recording.write_wav(self.out_dir / f"{phone}.wav")
        from warm_transfer.realstack.picture import Row, draw

        picture = draw(
            self.out_dir / "timeline.png",
            [
                Row(title, found[phone], levels[phone], notes(found[phone], marks, CONTEXT[phone]))
                for phone, (title, _) in rows.items()
            ],
            marks,
            names,
        )
        bridged = next((m.at_s for m in marks if m.label == "bridging"), None)
        heard_at = first_heard(kinds["caller"], "human", bridged) if bridged is not None else None
        data = self.out_dir / "timeline.json"
        data.write_text(
            json.dumps(
                {
                    "room": self.call.room_name if self.call else None,
                    "start": self.start,
                    "seconds": self.end - self.start,
                    "tones": tones,
                    "names": names,
                    "marks": [asdict(m) for m in marks],
                    "bands": {p: [asdict(b) for b in found[p]] for p in rows},
                    "caller_hears_human_at_s": heard_at,
                },
                indent=1,
            )
        )
        log.info("recordings written", folder=str(self.out_dir), seconds=self.end - self.start)
        return AudioFiles(
            self.out_dir / "caller.wav",
            self.out_dir / "human.wav",
            picture,
            data,
            self.end - self.start,
            heard_at,
            bridged,
        )


def left_at(telephony: RealTelephony, call: Call) -> float | None:
    """When livekit-server said the call's AI agent left the caller's room (None: not)."""
    for at, event in telephony.webhooks:
        who = event.get("participant", {}).get("identity")
        room = event.get("room", {}).get("name")
        if event.get("event") == "participant_left" and (who, room) == (
            call.agent_identity,
            call.room_name,
        ):
            return at
    return None
