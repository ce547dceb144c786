"""Hand-written fake LiveKit activities, registered under the real activity names.

For tests about the workflow's decisions only (which destination next, which
fallback, what gets cleaned up): each dialed number follows a script, and every call
is recorded so a test can assert what the workflow asked LiveKit to do. A number with
a gate rings until the test opens it (then it answers), so a test decides when, and
in which order, the phones of a ring group are picked up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from warm_transfer.models import (
    AgentLeaveRequest,
    AgentLeaveResult,
    Bridge,
    BridgeRequest,
    BridgeResult,
    BriefRequest,
    BriefResult,
    ColdTransferRequest,
    ColdTransferResult,
    ConsultationRequest,
    ConsultationResult,
    DialRequest,
    DialResult,
    HoldRequest,
    HoldResult,
    LegRequest,
    LegResult,
    RoomRequest,
    RoomResult,
    WatchRequest,
)

Script = Literal["answered", "busy", "no_answer", "declined", "failed", "ring_forever", "error"]


@dataclass
class FakeLiveKit:
    """Scripted LiveKit: ``scripts`` maps a dialed number to what its leg does."""

    scripts: dict[str, Script] = field(default_factory=dict)
    caller_present: bool = True
    # Whether the caller is still there when taken off hold (the call died unseen).
    caller_present_off_hold: bool = True
    cold_transfer_ok: bool = True
    bridge_fails: bool = False
    bridge: Bridge = "move"
    calls: list[tuple[str, BaseModel]] = field(default_factory=list)
    dial_started: asyncio.Event = field(default_factory=asyncio.Event)
    gates: dict[str, asyncio.Event] = field(default_factory=dict)
    cancelled: list[str] = field(default_factory=list)  # legs whose dial was cancelled

    def gate(self, *numbers: str) -> asyncio.Event:
        """One gate for ``numbers``: their phones ring until it opens, then answer."""
        opened = asyncio.Event()
        for number in numbers:
            self.gates[number] = opened
        return opened

    def dialed(self) -> list[str]:
        """The leg identities dialed so far, in order."""
        return [req.participant_identity for req in self.requests("dial_human")]

    def names(self) -> list[str]:
        """The activity names called so far, in order."""
        return [name for name, _ in self.calls]

    def requests(self, name: str) -> list[Any]:
        """The requests of every call to one activity."""
        return [req for called, req in self.calls if called == name]

    def activities(self) -> list[Callable[..., Awaitable[Any]]]:
        """The fakes, each under the real activity's name."""

        @activity.defn(name="start_hold")
        async def start_hold(req: HoldRequest) -> HoldResult:
            self.calls.append(("start_hold", req))
            return HoldResult(agent_notified=True, caller_present=self.caller_present)

        @activity.defn(name="stop_hold")
        async def stop_hold(req: HoldRequest) -> HoldResult:
            self.calls.append(("stop_hold", req))
            present = self.caller_present and self.caller_present_off_hold
            return HoldResult(agent_notified=True, caller_present=present)

        @activity.defn(name="open_consultation")
        async def open_consultation(req: ConsultationRequest) -> ConsultationResult:
            self.calls.append(("open_consultation", req))
            room = req.room_name if self.bridge == "move" else req.caller_room
            return ConsultationResult(bridge=self.bridge, human_room=room)

        @activity.defn(name="delete_room")
        async def delete_room(req: RoomRequest) -> RoomResult:
            self.calls.append(("delete_room", req))
            return RoomResult(room_name=req.room_name)

        @activity.defn(name="dial_human")
        async def dial_human(req: DialRequest) -> DialResult:
            self.calls.append(("dial_human", req))
            self.dial_started.set()
            script = self.scripts.get(req.sip_call_to, "answered")
            gate = self.gates.get(req.sip_call_to)
            try:
                while script == "ring_forever" or (gate is not None and not gate.is_set()):
                    activity.heartbeat()  # until the workflow cancels the dial
                    await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                self.cancelled.append(req.participant_identity)
                raise
            if script == "error":
                raise ApplicationError("permission denied", non_retryable=True)
            return DialResult(
                participant_identity=req.participant_identity,
                result=script,
                sip_status_code={"busy": 486, "declined": 603, "no_answer": 480}.get(script),
                reason=None if script == "answered" else f"scripted {script}",
            )

        @activity.defn(name="hang_up_leg")
        async def hang_up_leg(req: LegRequest) -> LegResult:
            self.calls.append(("hang_up_leg", req))
            return LegResult(hung_up=True)

        @activity.defn(name="brief_human")
        async def brief_human(req: BriefRequest) -> BriefResult:
            self.calls.append(("brief_human", req))
            return BriefResult(dispatch_id="AD_fake", agent_name="briefer")

        @activity.defn(name="watch_briefing")
        async def watch_briefing(req: WatchRequest) -> BriefResult:
            # Not in `calls`: it only watches, and the call flow never waits for it. It
            # returns at once (a watch that saw no restart): a running activity would
            # stop the time-skipping test server from skipping the decision timer.
            return BriefResult(dispatch_id="", agent_name="briefer")

        @activity.defn(name="bridge_caller")
        async def bridge_caller(req: BridgeRequest) -> BridgeResult:
            self.calls.append(("bridge_caller", req))
            if self.bridge_fails:
                raise ApplicationError("the human left before the bridge", non_retryable=True)
            return BridgeResult(already_bridged=False)

        @activity.defn(name="remove_agent")
        async def remove_agent(req: AgentLeaveRequest) -> AgentLeaveResult:
            self.calls.append(("remove_agent", req))
            return AgentLeaveResult(removed=True)

        @activity.defn(name="cold_transfer")
        async def cold_transfer(req: ColdTransferRequest) -> ColdTransferResult:
            self.calls.append(("cold_transfer", req))
            if self.cold_transfer_ok:
                return ColdTransferResult(transferred=True)
            return ColdTransferResult(transferred=False, sip_status_code=486, reason="busy")

        return [
            start_hold,
            stop_hold,
            open_consultation,
            delete_room,
            dial_human,
            watch_briefing,
            hang_up_leg,
            brief_human,
            bridge_caller,
            remove_agent,
            cold_transfer,
        ]
