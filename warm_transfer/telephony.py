"""The people around a transfer, whichever LiveKit the stack runs: the seam's call side.

`Stack.telephony()` gives a `Telephony`: it places a caller on the phone with a voice
agent, makes hunt-list entries for the book's numbers, briefs the humans, narrates
what LiveKit does, and reports what is left in LiveKit and on the phones at the end.
`SimTelephony` plays all of it against the stand-in; the real stack's
(`warm_transfer.realstack.telephony.RealTelephony`) uses real SIP phones, a WebRTC
agent participant and the keypad briefing agent. The demo and the real-stack tests
are written against this class only.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from temporalio.client import Client

from warm_transfer.client import transfer_workflow_id
from warm_transfer.livekit_sim import SimControl, SimEvent
from warm_transfer.models import CallerHungUp, Destination, Fallback
from warm_transfer.sim_agents import SimulatedBriefingAgent, place_call, run_briefer

# (wall clock, source, text): one line of a timeline.
Narrator = Callable[[float, str, str], None]


@dataclass(frozen=True)
class Call:
    """A caller on the phone with an AI voice agent, in one LiveKit room."""

    room_name: str
    caller_identity: str
    agent_identity: str


@dataclass
class EndState:
    """What a set of transfers left behind, as LiveKit and the far ends report it.

    Attributes:
        rooms: room name -> identities still in it.
        dials: destination number -> times it was dialed (INVITEs at the phone on the
            real stack, CreateSIPParticipant calls on the stand-in).
        unended: dialed calls the far end never saw end (no CANCEL or BYE).
        agent_events: room -> data messages the AI agent received, in order.
    """

    rooms: dict[str, set[str]] = field(default_factory=dict)
    dials: dict[str, int] = field(default_factory=dict)
    unended: list[str] = field(default_factory=list)
    agent_events: dict[str, list[str]] = field(default_factory=dict)


class Telephony(ABC):
    """Callers, voice agents, humans' phones and the briefing agent of one stack."""

    kind: str

    @abstractmethod
    def destination(self, number: str, **fields: Any) -> Destination:
        """A hunt-list entry that reaches the phone book's ``number``."""

    def fallback(self, fallback: Fallback) -> Fallback:
        """``fallback`` made to reach the phone book's voicemail box on this LiveKit."""
        return fallback

    @abstractmethod
    async def place_call(self, room_name: str, hang_up_after_s: float | None = None) -> Call:
        """A caller talking to a voice agent; the caller hangs up after ``hang_up_after_s``
        (and the engine is told, as a voice agent or the webhook bridge tells it)."""

    @abstractmethod
    async def start(self, client: Client, narrate: Narrator | None = None) -> None:
        """Starts the briefing agent (and the narration) for transfers from now on."""

    @abstractmethod
    async def end_state(self) -> EndState:
        """What LiveKit and the phones report now."""

    @abstractmethod
    async def aclose(self) -> None:
        """Stops what `start` started."""


class SimTelephony(Telephony):
    """The stand-in's humans, its simulated briefing agent and its event log."""

    kind = "sim"

    def __init__(self, sim_url: str, time_scale: float = 1.0) -> None:
        self.control = SimControl(sim_url)
        self.time_scale = time_scale
        self._tasks: list[asyncio.Task[None]] = []
        self._client: Client | None = None
        self._agent_events: dict[str, list[str]] = {}

    def destination(self, number: str, **fields: Any) -> Destination:
        """The stand-in plays every number itself: no trunk needed."""
        return Destination(sip_call_to=number, **fields)

    async def place_call(self, room_name: str, hang_up_after_s: float | None = None) -> Call:
        """Adds a caller and a voice agent to ``room_name`` in the stand-in."""
        call = await place_call(self.control, room_name)
        if hang_up_after_s is not None:
            self._tasks.append(asyncio.create_task(self._hang_up(call, hang_up_after_s)))
        return Call(call.room_name, call.caller_identity, call.agent_identity)

    async def _hang_up(self, call: Any, after_s: float) -> None:
        await asyncio.sleep(after_s * self.time_scale)
        await self.control.remove_participant(call.room_name, call.caller_identity)
        if self._client is not None:  # the voice agent tells the engine
            handle = self._client.get_workflow_handle(transfer_workflow_id(call.room_name))
            await handle.signal("caller_hung_up", CallerHungUp())

    async def start(self, client: Client, narrate: Narrator | None = None) -> None:
        """Runs the simulated briefing agent; narrates the stand-in's events."""
        self._client = client

        def on_event(event: SimEvent) -> None:
            if event["type"] == "data_sent" and isinstance(event.get("payload"), dict):
                room = str(event.get("room", ""))
                self._agent_events.setdefault(room, []).append(str(event["payload"]["event"]))
            if narrate is not None and (text := describe_sim_event(event)):
                narrate(float(event["time"]), "livekit", text)

        briefer = SimulatedBriefingAgent(
            self.control,
            client,
            on_event=on_event,
            on_signal=(
                lambda name, _: narrate(time.time(), "signal", f"{name} sent to the workflow")
            )
            if narrate
            else None,
        )
        self._tasks.append(await run_briefer(briefer))

    async def end_state(self) -> EndState:
        """Rooms from the stand-in's state, dials from its call log."""
        state = await self.control.state()
        dials: dict[str, int] = {}
        for call in await self.control.calls(method="CreateSIPParticipant"):
            number = str((call["request"] or {}).get("sip_call_to", ""))
            dials[number] = dials.get(number, 0) + 1
        rooms = {name: set(room["participants"]) for name, room in state["rooms"].items()}
        return EndState(rooms=rooms, dials=dials, agent_events=dict(self._agent_events))

    async def aclose(self) -> None:
        """Stops the briefing agent and pending hang-ups."""
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        await self.control.aclose()


def describe_sim_event(event: SimEvent) -> str | None:
    """One stand-in event as a timeline line, if it is worth one."""
    who = event.get("participant_identity", "")
    kind = event["type"]
    if kind == "data_sent":
        payload = event.get("payload")
        return f"agent told: {payload.get('event')}" if isinstance(payload, dict) else None
    return {
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
