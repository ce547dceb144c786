"""The people and agents around a transfer, played against the LiveKit stand-in.

On a real deployment a LiveKit Agents briefing agent joins the consultation room,
tells the human the summary and hears them press 1 (accept) or 2 (decline). Here the
stand-in simulates the human (see `warm_transfer.livekit_sim.scenarios`) and
`SimulatedBriefingAgent` plays the agent: it follows the stand-in's events, finds the
dispatches made for it, joins the dispatch's room with a voice only the human may hear
(its track's subscribers restricted to the human, as the real briefers do) and turns
the human's DTMF into the engine's signals, exactly as the real briefing agent does;
it leaves once the human has decided or gone. `place_call` puts a caller and a voice agent in a
room, as a SIP inbound call and LiveKit Agents would.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog
from temporalio.client import Client
from temporalio.service import RPCError

from warm_transfer.config import DEFAULT_BRIEFING_AGENT
from warm_transfer.livekit_sim import SimControl, SimControlError, SimEvent
from warm_transfer.models import HumanAccepted, HumanAnswered, HumanDeclined
from warm_transfer.wire import ATTR_ROLE, ATTR_STATE, ATTR_WORKFLOW_ID, BRIDGED

log = structlog.get_logger(__name__)


@dataclass
class SimulatedBriefingAgent:
    """Plays the briefing agent (and, optionally, the answer half of the webhook bridge).

    Args:
        control: the stand-in's control client.
        client: Temporal client with the engine's data converter.
        agent_name: the agent name dispatches are made for.
        signal_answered: also send ``human_answered`` when a leg becomes active.
        on_event: called with each stand-in event seen (the demo prints a timeline).
    """

    control: SimControl
    client: Client
    agent_name: str = DEFAULT_BRIEFING_AGENT
    signal_answered: bool = True
    on_event: Callable[[SimEvent], None] | None = None
    on_signal: Callable[[str, str], None] | None = None
    signals_sent: list[tuple[str, str]] = field(default_factory=list)
    _briefed: dict[str, str] = field(default_factory=dict)  # leg identity -> workflow id
    _briefers: dict[str, str] = field(default_factory=dict)  # leg identity -> its room
    _dialed: dict[str, str] = field(default_factory=dict)

    async def run(self, after: int = 0) -> None:
        """Follows the stand-in's events until cancelled."""
        seq = after
        while True:
            for event in await self.control.events(seq, timeout=5.0):
                seq = event["seq"]
                if self.on_event is not None:
                    self.on_event(event)
                await self._handle(event)

    async def _handle(self, event: SimEvent) -> None:
        kind = event["type"]
        identity = event.get("participant_identity", "")
        attributes = event.get("attributes", {})
        if kind == "participant_joined" and attributes.get(ATTR_ROLE) == "human":
            self._dialed[identity] = attributes[ATTR_WORKFLOW_ID]
        elif kind == "dispatch_created" and event.get("agent_name") == self.agent_name:
            brief = json.loads(event.get("metadata") or "{}")
            human = brief["human_identity"]
            self._briefed[human] = brief["workflow_id"]
            log.debug("briefing the human", leg=human)
            await self._join(event.get("room", ""), human)
        elif kind == "participant_left" and identity in self._briefers:
            await self._leave(identity)  # the human hung up, was hung up on, or moved
        elif kind == "attributes_changed" and identity in self._briefers:
            if event.get("changed", {}).get(ATTR_STATE) == BRIDGED:
                await self._leave(identity)  # accepted for them: the caller is coming
        elif kind == "call_status" and event.get("status") == "active" and self.signal_answered:
            if workflow_id := self._dialed.get(identity):
                await self._signal(
                    workflow_id, "human_answered", HumanAnswered(participant_identity=identity)
                )
        elif kind == "sip_dtmf" and identity in self._briefed:
            workflow_id = self._briefed.pop(identity)
            if event.get("digit") == "1":
                await self._signal(
                    workflow_id, "human_accepted", HumanAccepted(participant_identity=identity)
                )
            elif event.get("digit") == "2":
                declined = HumanDeclined(participant_identity=identity, reason="pressed 2")
                await self._signal(workflow_id, "human_declined", declined)
            await self._leave(identity)  # told the engine: the briefing agent's job is done

    async def _join(self, room: str, human: str) -> None:
        """Joins ``room`` to brief ``human``: its voice for the human's ears only."""
        if not room or human in self._briefers:
            return
        await self.control.add_participant(
            room, briefer_identity(human), kind="agent", track_subscribers=[human]
        )
        self._briefers[human] = room

    async def _leave(self, human: str) -> None:
        room = self._briefers.pop(human, None)
        if room is None:
            return
        try:
            await self.control.remove_participant(room, briefer_identity(human))
        except SimControlError:
            pass  # the room is gone, and the briefer with it

    async def _signal(self, workflow_id: str, name: str, payload: object) -> None:
        try:
            await self.client.get_workflow_handle(workflow_id).signal(name, payload)
            self.signals_sent.append((name, workflow_id))
            if self.on_signal is not None:
                self.on_signal(name, workflow_id)
        except RPCError as err:
            # The transfer may be over already (a late DTMF): nothing to do.
            log.info("signal not delivered", signal=name, workflow_id=workflow_id, error=str(err))


def briefer_identity(human: str) -> str:
    """The simulated briefing agent's identity in the room where it briefs ``human``."""
    return f"briefer-{human}"


@dataclass(frozen=True)
class SimulatedCall:
    """A caller on the phone with a voice agent, in one LiveKit room."""

    room_name: str
    caller_identity: str
    agent_identity: str


async def place_call(
    control: SimControl,
    room_name: str,
    caller_number: str = "+15105550123",
    agent_identity: str = "voice-agent",
) -> SimulatedCall:
    """Puts an inbound SIP caller and a voice agent in ``room_name``."""
    caller_identity = f"sip_{caller_number}"
    await control.add_participant(
        room_name,
        caller_identity,
        kind="sip",
        attributes={"sip.callStatus": "active", "sip.phoneNumber": caller_number},
    )
    await control.add_participant(room_name, agent_identity, kind="agent")
    return SimulatedCall(room_name, caller_identity, agent_identity)


async def run_briefer(agent: SimulatedBriefingAgent) -> asyncio.Task[None]:
    """Starts ``agent`` on the events from now on; cancel the task to stop it."""
    state = await agent.control.state()
    return asyncio.create_task(agent.run(after=state["last_event_seq"]))
