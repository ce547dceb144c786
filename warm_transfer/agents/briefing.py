"""The briefing agent: dispatched into the consultation room by the engine's
``brief_human`` activity (agent name ``warm-transfer-briefer`` by default), it tells the
dialed human the summary and turns their answer into the engine's signals.

The human accepts or declines by voice (the LLM calls `accept_call` / `decline_call`)
or with the keypad (1 accepts, 2 declines). The first decision wins; the engine does
the rest (bridging, the next destination). The dispatch's metadata is JSON
``{"workflow_id", "human_identity", "caller_room", "caller_identity", "bridge",
"summary"}``. Whatever speaks, only the human may subscribe to the agent's tracks
(`warm_transfer.agents.private_voice`).

    server = AgentServer()

    @server.rtc_session(agent_name="warm-transfer-briefer")
    async def brief(ctx: JobContext) -> None:
        client = await connect(TemporalSettings.from_env(os.environ))
        await run_briefing(ctx, client, AgentSession(stt=..., llm=..., tts=..., vad=...))
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import structlog
from livekit import rtc
from livekit.agents import Agent, AgentSession, JobContext, function_tool, room_io
from pydantic import BaseModel, ConfigDict, ValidationError
from temporalio.client import Client
from temporalio.service import RPCError

from warm_transfer.agents.ports import ParticipantLike, RoomLike, SignalsLike
from warm_transfer.agents.private_voice import only
from warm_transfer.client import get_transfer, is_closed_error
from warm_transfer.wire import ATTR_STATE, BRIDGED, CALL_STATUS

Decision = Literal["accepted", "declined"]

log = structlog.get_logger(__name__)


class BriefingMetadata(BaseModel):
    """The dispatch metadata ``brief_human`` writes."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    workflow_id: str
    human_identity: str
    caller_room: str = ""
    caller_identity: str = ""
    bridge: str = ""
    summary: str = ""

    @classmethod
    def parse(cls, raw: str) -> BriefingMetadata:
        """Parses the job's metadata.

        Raises:
            ValueError: not the engine's briefing metadata.
        """
        try:
            return cls.model_validate_json(raw or "{}")
        except ValidationError as err:
            raise ValueError(f"not a warm-transfer briefing dispatch: {err}") from None


class Briefing:
    """One human's briefing: their answer, sent once as the engine's signal.

    Args:
        meta: the dispatch metadata.
        signals: where signals go (a `TransferHandle` on the workflow).
    """

    def __init__(self, meta: BriefingMetadata, signals: SignalsLike) -> None:
        self.meta = meta
        self._signals = signals
        self.decision: Decision | None = None
        # Set once the decision has been sent, or the engine has bridged the human (an
        # operator accepted for them): the briefing agent's work is done.
        self.decided = asyncio.Event()
        self._answered = False
        self._tasks: set[asyncio.Task[Any]] = set()

    async def accept(self) -> bool:
        """The human takes the call. False if they had already decided."""
        if self.decision is not None:
            return False
        self.decision = "accepted"
        await self._send("human_accepted", self._signals.accepted(self.meta.human_identity))
        self.decided.set()
        return True

    async def decline(self, reason: str) -> bool:
        """The human refuses. False if they had already decided."""
        if self.decision is not None:
            return False
        self.decision = "declined"
        declined = self._signals.declined(self.meta.human_identity, reason or "declined")
        await self._send("human_declined", declined)
        self.decided.set()
        return True

    async def answered(self) -> None:
        """The human's leg is active (picked up); sent once."""
        if self._answered:
            return
        self._answered = True
        await self._send("human_answered", self._signals.answered(self.meta.human_identity))

    def attach(self, room: RoomLike) -> None:
        """Follows the human's keypad and call status in the consultation room."""
        room.on("sip_dtmf_received", self.on_dtmf)
        room.on("participant_attributes_changed", self.on_attributes_changed)
        room.on("participant_connected", self.on_participant)
        human = room.remote_participants.get(self.meta.human_identity)
        if human is not None:
            self.on_participant(human)

    def on_dtmf(self, dtmf: rtc.SipDTMF) -> None:
        """``sip_dtmf_received``: 1 accepts, 2 declines; other keys are ignored."""
        sender = dtmf.participant
        if sender is not None and sender.identity != self.meta.human_identity:
            return
        if dtmf.digit == "1":
            self._spawn(self.accept())
        elif dtmf.digit == "2":
            self._spawn(self.decline("pressed 2"))

    def on_attributes_changed(self, _: dict[str, str], participant: ParticipantLike) -> None:
        """``participant_attributes_changed``: the human's leg becoming active, or the
        human bridged to the caller."""
        self.on_participant(participant)

    def on_participant(self, participant: ParticipantLike) -> None:
        """A participant seen (connected, or already there): is it the human, answered,
        bridged?"""
        if participant.identity != self.meta.human_identity:
            return
        if participant.attributes.get(CALL_STATUS) == "active":
            self._spawn(self.answered())
        # The same_room bridge marks the human: accepted by someone else (an operator,
        # the engine's API), and the caller is about to hear the room. Time to go.
        if participant.attributes.get(ATTR_STATE) == BRIDGED:
            self.decided.set()

    async def idle(self) -> None:
        """Waits for signals in flight."""
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, name: str, signal: Any) -> None:
        try:
            await signal
            log.info("briefing signal sent", signal=name, wid=self.meta.workflow_id)
        except RPCError as err:
            if not is_closed_error(err):
                raise
            # The transfer is over (the caller hung up, a timeout): nothing to tell.
            log.info("briefing signal dropped: transfer over", signal=name)


def briefing_instructions(meta: BriefingMetadata) -> str:
    """What the briefing LLM is told: the summary, and to get a decision."""
    return (
        "You are briefing a human colleague on a phone call they just picked up, before "
        "a caller is connected to them. The caller is on hold and cannot hear you.\n"
        f"Summary of the caller's situation:\n{meta.summary or '(no summary given)'}\n"
        "Answer the colleague's questions about it briefly. As soon as they agree to take "
        "the call, call accept_call. If they refuse or cannot take it, call decline_call "
        "with their reason. Never invent details that are not in the summary."
    )


def briefing_greeting(meta: BriefingMetadata) -> str:
    """Said first, word for word: the summary must not depend on the LLM."""
    summary = meta.summary or "A caller needs help."
    return (
        f"Hi, I have a caller waiting for you. {summary} "
        "Will you take the call? Say yes or press 1, or say no or press 2."
    )


class BriefingAgent(Agent):
    """Reads the brief, answers questions, and records the human's decision."""

    def __init__(self, briefing: Briefing, instructions: str | None = None) -> None:
        super().__init__(instructions=instructions or briefing_instructions(briefing.meta))
        self.briefing = briefing

    async def on_enter(self) -> None:
        """Reads the summary as soon as the agent is in the session."""
        self.session.say(briefing_greeting(self.briefing.meta))

    @function_tool
    async def accept_call(self) -> str:
        """Call when the colleague agrees to take the call."""
        if await self.briefing.accept():
            return "Tell them in a few words that the caller is being connected now."
        return "They already decided; say nothing more."

    @function_tool
    async def decline_call(self, reason: str) -> str:
        """Call when the colleague refuses or cannot take the call.

        Args:
            reason: Why, in a few words (for example "in a meeting").
        """
        if await self.briefing.decline(reason):
            return "Thank them briefly and say goodbye."
        return "They already decided; say nothing more."


async def run_briefing(
    ctx: JobContext, client: Client, session: AgentSession[Any], *, instructions: str | None = None
) -> Briefing:
    """The briefing agent's entrypoint body: join, brief the human, relay the decision.

    Args:
        ctx: the job the engine's dispatch created.
        client: Temporal client with the engine's data converter.
        session: the session to brief with (STT, LLM, TTS, VAD of your choice).
        instructions: replaces `briefing_instructions`.
    """
    meta = BriefingMetadata.parse(ctx.job.metadata)
    briefing = Briefing(meta, get_transfer(client, meta.workflow_id))
    await ctx.connect()
    # Before the session publishes its voice: in ``same_room`` this is the caller's
    # room, and livekit-server would otherwise forward the brief to the caller and the
    # AI agent too. The SFU enforces it; nobody else can subscribe to our tracks.
    ctx.room.local_participant.set_track_subscription_permissions(
        allow_all_participants=False, participant_permissions=only(meta.human_identity)
    )
    briefing.attach(ctx.room)
    await session.start(
        agent=BriefingAgent(briefing, instructions),
        room=ctx.room,
        room_options=room_io.RoomOptions(participant_identity=meta.human_identity),
    )
    log.info("briefing started", wid=meta.workflow_id, leg=meta.human_identity)
    return briefing
