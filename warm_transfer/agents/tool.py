"""The voice agent's side: a tool that starts a durable warm transfer, and the wiring
that keeps the engine informed (caller left) and the agent obedient (hold, leave).

    transfer = WarmTransfer(client, config, ctx.room, session)
    transfer.attach()
    await session.start(Agent(instructions=..., tools=[transfer.tool]), room=ctx.room)

The LLM decides *that* the caller needs a human and writes the summary; who is dialed,
in what order, and what happens when nobody takes the call come from `TransferConfig`
and the engine decides everything else.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from livekit import rtc
from livekit.agents import FunctionTool, StopResponse, ToolError, function_tool
from temporalio.client import Client

from warm_transfer.agents.hold import TransferEvents
from warm_transfer.agents.ports import HoldMusic, ParticipantLike, RoomLike, SessionLike
from warm_transfer.client import TransferHandle, TransferStarter, transfer_workflow_id
from warm_transfer.config import DEFAULT_TASK_QUEUE
from warm_transfer.models import BridgeStrategy, Destination, Fallback, TransferRequest

_SUMMARY_LIMIT = 8000  # TransferRequest.summary's limit

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class TransferConfig:
    """Where transfers go and how they sound; the LLM only supplies the summary.

    Attributes:
        destinations: the hunt list, tried in order.
        fallback: what happens when nobody takes the call.
        accept_timeout_s: how long a briefed human has to decide.
        max_transfer_s: the whole transfer's deadline.
        briefing_agent: the agent name dispatched to brief humans (worker default).
        bridge: how the caller is bridged (``move`` or ``same_room``; None: the
            engine's default).
        task_queue: the engine workers' task queue.
        search_attributes: set the engine's search attributes at start (False on a
            namespace where they are not registered, or the start is refused).
        hold_line: said before the hold music starts (None: the LLM replies instead).
        goodbye: said when the engine tells the agent to leave (None: nothing).
        welcome_back: said when the caller comes back from hold (None: nothing).
        tool_name: the tool's name as the LLM sees it.
    """

    destinations: Sequence[Destination]
    fallback: Fallback = field(default_factory=Fallback)
    accept_timeout_s: float = 60.0
    max_transfer_s: float = 300.0
    briefing_agent: str | None = None
    bridge: BridgeStrategy | None = None
    task_queue: str = DEFAULT_TASK_QUEUE
    search_attributes: bool = True
    hold_line: str | None = "One moment please, I'm connecting you with a colleague."
    goodbye: str | None = "You're connected now. Goodbye!"
    welcome_back: str | None = "Sorry, nobody could take your call right now. I'm back with you."
    tool_name: str = "transfer_to_human"


class WarmTransfer:
    """One voice agent's warm transfers, in one caller room.

    Args:
        client: Temporal client with the engine's data converter.
        config: destinations, fallback, lines.
        room: the caller's room (``ctx.room``), connected.
        session: the voice agent's ``AgentSession``.
        caller_identity: the caller's identity; by default the room's SIP participant.
        hold_music: what plays on hold (see `BackgroundHoldMusic`).
    """

    def __init__(
        self,
        client: Client,
        config: TransferConfig,
        room: RoomLike,
        session: SessionLike,
        *,
        caller_identity: str | None = None,
        hold_music: HoldMusic | None = None,
    ) -> None:
        self._client = client
        self._config = config
        self._room = room
        self._session = session
        self._caller_identity = caller_identity
        self.events = TransferEvents(
            session, hold_music, goodbye=config.goodbye, welcome_back=config.welcome_back
        )
        self.starter: TransferStarter | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.tool: FunctionTool[..., Any] = function_tool(self._tool, name=config.tool_name)

    def attach(self) -> None:
        """Follows the engine's data messages and the caller leaving."""
        self.events.attach(self._room)
        self._room.on("participant_disconnected", self.on_participant_disconnected)

    def detach(self) -> None:
        """Stops following the room."""
        self.events.detach(self._room)
        self._room.off("participant_disconnected", self.on_participant_disconnected)

    async def start(self, summary: str, reason: str = "") -> TransferHandle:
        """Starts the transfer of this room's caller (idempotent while one runs).

        Raises:
            ValueError: no caller to transfer, or the request is not valid.
        """
        text = f"{summary.strip()}\nWhy a human: {reason.strip()}" if reason.strip() else summary
        request = TransferRequest(
            room_name=self._room.name,
            caller_identity=self._find_caller(),
            agent_identity=self._room.local_participant.identity,
            destinations=list(self._config.destinations),
            summary=text.strip()[:_SUMMARY_LIMIT],
            fallback=self._config.fallback,
            accept_timeout_s=self._config.accept_timeout_s,
            max_transfer_s=self._config.max_transfer_s,
            briefing_agent=self._config.briefing_agent,
            bridge=self._config.bridge,
        )
        # Set before the start is sent: a hang-up meanwhile goes through this starter.
        self.starter = starter = TransferStarter(
            self._client,
            request,
            workflow_id=transfer_workflow_id(request.room_name),
            task_queue=self._config.task_queue,
            search_attributes=self._config.search_attributes,
        )
        handle = await starter.start()
        log.info("transfer started", wid=handle.workflow_id, room=request.room_name)
        return handle

    def on_participant_disconnected(self, participant: ParticipantLike) -> None:
        """The room's ``participant_disconnected`` callback: tells the engine the
        caller left, even if the transfer's start has not reached Temporal yet."""
        starter = self.starter
        if starter is None or participant.identity != starter.request.caller_identity:
            return
        task = asyncio.create_task(starter.caller_hung_up(), name="caller_hung_up")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def idle(self) -> None:
        """Waits for signals in flight and queued data messages (tests, shutdown)."""
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.events.idle()

    async def _tool(self, summary: str, reason: str = "") -> str:
        """Transfers the caller to a human colleague, who is briefed before taking over.

        Use it when the caller asks for a person, or needs something you cannot do.
        Everything else (who is called, what happens if nobody answers) is handled.

        Args:
            summary: What the human must know to take over without asking the caller
                again: who the caller is, what they want, what was verified and tried.
            reason: Why a human is needed, in a few words.
        """
        if self.events.on_hold:
            return "A transfer is already in progress; the caller is on hold."
        hold_line = self._config.hold_line
        if hold_line:
            # Not awaited: it plays after this tool returns, and hold waits for it.
            self.events.speak_before_hold(self._session.say(hold_line, allow_interruptions=False))
        try:
            await self.start(summary, reason)
        except Exception as err:
            log.error("transfer not started", error=str(err), room=self._room.name)
            raise ToolError(
                "The transfer could not be started. Apologise and keep helping the caller."
            ) from None
        if hold_line:
            raise StopResponse()  # the hold line is the answer; the LLM says nothing more
        return "The caller is being transferred and will hear hold music. Say one short line."

    def _find_caller(self) -> str:
        if self._caller_identity:
            return self._caller_identity
        for participant in self._room.remote_participants.values():
            if participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_SIP:
                return participant.identity
        raise ValueError("no SIP caller in the room to transfer")
