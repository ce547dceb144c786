"""`WarmTransferWorkflow`: hold the caller, hunt for a human, brief, bridge, or fall back.

The call flow, as a state machine (stages are what the ``status`` query reports):

    holding ──► dialing ──► briefing ──► bridging ──► done (connected)
                  ▲  │          │
                  └──┴──────────┘  no answer / busy / declined: next destination
                        │
                        ▼ hunt list exhausted, deadline, operator cancel
                     fallback ──► done (voicemail | cold_transferred | returned_to_agent)

``caller_hung_up`` at any point ends the transfer with no fallback. Whatever the
engine creates in LiveKit is written into a ledger before it is created and undone on
every exit path, cancellation from the UI or CLI included.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.livekit import LiveKitActivities
    from warm_transfer.models import (
        AddDestination,
        Bridge,
        BriefRequest,
        CallerHungUp,
        CancelTransfer,
        ConsultationRequest,
        Destination,
        DialRequest,
        HoldRequest,
        HumanAccepted,
        HumanAnswered,
        HumanDeclined,
        LegRequest,
        RoomRequest,
        SkipDestination,
        TransferOutcome,
        TransferRequest,
        TransferStatus,
    )
    from workflows import policies
    from workflows.bridge import connect_caller
    from workflows.fallback import run_fallback
    from workflows.transfer_state import (
        Ledger,
        Leg,
        Tracker,
        consultation_room,
        decode_request,
        leg_identity,
    )


@workflow.defn(name="WarmTransferWorkflow")
class WarmTransferWorkflow:
    """One warm transfer of one caller, as described in CONTRACT.md."""

    def __init__(self) -> None:
        # Everything handlers touch exists before the first signal can arrive.
        self.track = Tracker()
        self.ledger = Ledger()
        self.request: TransferRequest | None = None
        self.destinations: list[Destination] = []
        self.caller_hung_up = False
        self.stop_reason: str | None = None
        self.bridge: Bridge = "move"
        self._next_index = 0

    @workflow.run
    async def run(self, raw: RawValue) -> TransferOutcome:
        """Runs the transfer; the input is decoded here so bad input fails the run
        with a message naming the field instead of retrying a workflow task forever."""
        self.request = req = decode_request(raw)
        self.destinations = list(req.destinations)
        self.track.begin(req)
        self._deadline = workflow.now() + timedelta(seconds=req.max_transfer_s)
        try:
            outcome = await self._transfer(req)
        except asyncio.CancelledError:
            workflow.logger.info("transfer cancelled, releasing the call")
            await self._abandon("cancelled from Temporal")
            raise
        except BaseException:
            await self._abandon("engine error")
            raise
        await workflow.wait_condition(workflow.all_handlers_finished)
        return outcome

    # -- the call flow ----------------------------------------------------------------

    async def _transfer(self, req: TransferRequest) -> TransferOutcome:
        if self.caller_hung_up:
            return self.track.finish("caller_hung_up", reason="caller left before the transfer")
        wid = workflow.info().workflow_id
        hold = HoldRequest(
            workflow_id=wid,
            room_name=req.room_name,
            caller_identity=req.caller_identity,
            agent_identity=req.agent_identity,
        )
        self.ledger.on_hold = True
        consult = consultation_room(wid)
        # Into the ledger before it may exist: an abnormal end still deletes it.
        self.ledger.rooms.append(consult)
        held, consultation = await asyncio.gather(
            policies.run(LiveKitActivities.start_hold, hold, "hold the caller"),
            policies.run(
                LiveKitActivities.open_consultation,
                ConsultationRequest(
                    workflow_id=wid, room_name=consult, caller_room=req.room_name, bridge=req.bridge
                ),
                "choose the bridge, open the consultation room",
            ),
        )
        self.bridge = consultation.bridge
        self.track.bridge = consultation.bridge
        if consultation.bridge == "same_room":
            self.ledger.rooms.remove(consult)  # humans are dialed into the caller's room
        if not held.caller_present:
            self.caller_hung_up = True
        while not self._stopped():
            leg = self._next_leg(consultation.human_room)
            if leg is None:
                break
            if await self._try_human(req, leg) and await connect_caller(self, req, leg):
                return self.track.finish(
                    "connected", destination=leg.sip_call_to, participant_identity=leg.identity
                )
        # The last calls of the run when the caller left; the fallback follows otherwise.
        await self.release_all(local=not self.caller_hung_up)
        if self.caller_hung_up:
            return self.track.finish("caller_hung_up")
        reason = self.stop_reason or "no destination took the call"
        return await run_fallback(self, req, reason)

    def _next_leg(self, room: str) -> Leg | None:
        if self._next_index >= len(self.destinations):
            return None
        index = self._next_index
        self._next_index += 1
        dest = self.destinations[index]
        identity = leg_identity(workflow.info().workflow_id, len(self.track.attempts) + 1)
        return Leg(
            identity=identity, room=room, destination_index=index, sip_call_to=dest.sip_call_to
        )

    async def _try_human(self, req: TransferRequest, leg: Leg) -> bool:
        """Dials, waits for the answer, briefs, waits for the decision. True = accepted."""
        dest = self.destinations[leg.destination_index]
        self.track.dialing(leg)
        # Into the ledger before the dial: a crash mid-dial still hangs the leg up.
        self.ledger.legs[leg.identity] = leg.room
        dial = policies.start_dial(
            DialRequest(
                workflow_id=workflow.info().workflow_id,
                room_name=leg.room,
                participant_identity=leg.identity,
                sip_call_to=dest.sip_call_to,
                sip_trunk_id=dest.sip_trunk_id,
                ring_timeout_s=dest.ring_timeout_s,
                sip_number=dest.sip_number,
                headers=dest.headers,
                dtmf=dest.dtmf,
                destination_index=leg.destination_index,
                isolate=self.bridge == "same_room",
            ),
            f"dial {dest.sip_call_to}",
        )
        await self.wait_for(
            lambda: dial.done() or leg.answered or leg.decision is not None,
            "transfer deadline",
            lambda: self._interrupted(leg),
            bounded_s=policies.dial_window_s(dest.ring_timeout_s),
        )
        if dial.done() and not leg.answered:
            try:
                result = dial.result()
            except ActivityError as err:
                return await self.give_up(leg, *policies.dial_error(err))
            if result.result != "answered":
                return await self.give_up(leg, result.result, result.reason, result.sip_status_code)
            leg.answered = True
        if not leg.answered and leg.decision is None:
            # Only an unanswered dial is cancelled: the leg is hung up right after.
            dial.cancel()
            return await self.give_up(leg, "no_answer", self._why_stopped(leg) or "ring timeout")
        self.track.answered(leg)
        if leg.decision is None and not self._interrupted(leg):
            try:
                await policies.run(
                    LiveKitActivities.brief_human,
                    BriefRequest(
                        workflow_id=workflow.info().workflow_id,
                        room_name=leg.room,
                        human_identity=leg.identity,
                        caller_room=req.room_name,
                        summary=req.summary,
                        briefing_agent=req.briefing_agent,
                        bridge=self.bridge,
                        caller_identity=req.caller_identity,
                        agent_identity=req.agent_identity,
                    ),
                    "brief the human",
                )
            except ActivityError as err:
                return await self.give_up(leg, "failed", f"briefing failed: {err.cause or err}")
            await self.wait_for(
                lambda: leg.decision is not None,
                "accept timeout",
                lambda: self._interrupted(leg),
                timeout_s=req.accept_timeout_s,
            )
        if leg.decision == "accepted" and not self._interrupted(leg):
            return True
        if leg.decision == "declined":
            return await self.give_up(leg, "declined", leg.decline_reason or "declined")
        return await self.give_up(
            leg, "declined", self._why_stopped(leg) or "no decision within accept_timeout_s"
        )

    # -- waiting, giving up, releasing ------------------------------------------------

    async def wait_for(
        self,
        done: policies.Condition,
        what: str,
        interrupted: policies.Condition,
        *,
        timeout_s: float | None = None,
        bounded_s: float | None = None,
    ) -> None:
        """Waits for ``done`` or ``interrupted``, within ``timeout_s`` and the deadline.

        A wait that something else already ends within ``bounded_s`` (a dial, which the
        server times out) starts a timer only when the transfer deadline comes sooner:
        timers are billed actions, and most calls never need that one.
        """
        remaining = (self._deadline - workflow.now()).total_seconds()
        timeout: float | None = remaining
        if timeout_s is not None:
            timeout = min(timeout_s, remaining)
        elif bounded_s is not None and bounded_s < remaining:
            timeout = None
        try:
            await workflow.wait_condition(
                lambda: done() or interrupted(),
                timeout=None if timeout is None else max(0.001, timeout),
                timeout_summary=what,
            )
        except TimeoutError:
            if workflow.now() >= self._deadline and self.stop_reason is None:
                self.stop_reason = "the transfer deadline (max_transfer_s) passed"

    def _interrupted(self, leg: Leg | None = None) -> bool:
        return self._stopped() or (leg is not None and leg.skip_reason is not None)

    def _stopped(self) -> bool:
        return self.caller_hung_up or self.stop_reason is not None

    def _why_stopped(self, leg: Leg) -> str | None:
        if self.caller_hung_up:
            return "caller hung up"
        return self.stop_reason or leg.skip_reason

    async def give_up(
        self, leg: Leg, result: policies.Result, reason: str | None, sip: int | None = None
    ) -> bool:
        """Ends an attempt: hang the leg up and record why. Always False."""
        self.track.leg_done(leg, result, reason, sip)
        await self.hang_up(leg.identity)
        return False

    async def hang_up(self, identity: str, *, local: bool = True) -> None:
        """Hangs up a leg still in the ledger and strikes it out."""
        room = self.ledger.legs.get(identity)
        if room is None:
            return
        await policies.run_cleanup(
            LiveKitActivities.hang_up_leg,
            LegRequest(room_name=room, participant_identity=identity),
            "hang up a leg",
            local=local,
        )
        self.ledger.legs.pop(identity, None)

    async def release_all(self, *, local: bool = True) -> None:
        """Hangs up every leg and deletes every room still in the ledger.

        ``local=False`` when these are the run's last calls (see `policies.run`).
        """
        legs = list(self.ledger.legs)
        await asyncio.gather(*(self.hang_up(identity, local=local) for identity in legs))
        wid = workflow.info().workflow_id
        rooms, self.ledger.rooms = self.ledger.rooms, []
        await asyncio.gather(
            *(
                policies.run_cleanup(
                    LiveKitActivities.delete_room,
                    RoomRequest(room_name=room, workflow_id=wid),
                    "delete a room",
                    local=local,
                )
                for room in rooms
            )
        )

    async def _abandon(self, reason: str) -> None:
        """Leaves LiveKit clean when the run ends abnormally; the caller goes back to
        the AI agent rather than sitting on hold."""
        await self.release_all(local=False)
        if self.ledger.on_hold and self.request is not None and not self.caller_hung_up:
            await policies.run_cleanup(
                LiveKitActivities.stop_hold,
                HoldRequest(
                    workflow_id=workflow.info().workflow_id,
                    room_name=self.request.room_name,
                    caller_identity=self.request.caller_identity,
                    agent_identity=self.request.agent_identity,
                ),
                "take the caller off hold",
                local=False,
            )
            self.ledger.on_hold = False
        if self.track.outcome is None:
            self.track.finish("returned_to_agent", reason=reason)

    # -- signals, query, updates ------------------------------------------------------

    def _leg_named(self, identity: str, signal: str) -> Leg | None:
        leg = self.track.current
        if leg is None or leg.identity != identity:
            workflow.logger.info(
                "signal ignored: not the leg being waited on",
                extra={"signal": signal, "leg": identity, "current": leg and leg.identity},
            )
            return None
        return leg

    @workflow.signal(name="human_answered")
    def human_answered(self, payload: HumanAnswered) -> None:
        """The dialed human picked up."""
        if leg := self._leg_named(payload.participant_identity, "human_answered"):
            leg.answered = True

    @workflow.signal(name="human_accepted")
    def human_accepted(self, payload: HumanAccepted) -> None:
        """The human heard the brief and takes the call."""
        leg = self._leg_named(payload.participant_identity, "human_accepted")
        if leg is not None and leg.decision is None:
            leg.answered = True
            leg.decision = "accepted"
            leg.accepted_at = workflow.now()

    @workflow.signal(name="human_declined")
    def human_declined(self, payload: HumanDeclined) -> None:
        """The human refuses; the next destination is tried."""
        leg = self._leg_named(payload.participant_identity, "human_declined")
        if leg is not None and leg.decision is None:
            leg.decision = "declined"
            leg.decline_reason = payload.reason

    @workflow.signal(name="caller_hung_up")
    def caller_hung_up_signal(self, payload: CallerHungUp) -> None:
        """The caller left: stop everything and clean up."""
        self.caller_hung_up = True

    @workflow.query(name="status")
    def status(self) -> TransferStatus:
        """Stage, current destination and leg, attempts so far, outcome when done."""
        return self.track.status()

    @workflow.update(name="cancel_transfer")
    async def cancel_transfer(self, payload: CancelTransfer) -> TransferStatus:
        """Operator: stop hunting, hang up, run the fallback."""
        self.stop_reason = f"cancelled by operator: {payload.reason}"
        await workflow.wait_condition(lambda: self.track.stage in ("fallback", "done"))
        return self.track.status()

    @cancel_transfer.validator
    def _validate_cancel(self, payload: CancelTransfer) -> None:
        policies.refuse_unless(self.track.stage, ("holding", "dialing", "briefing"), "cancel")

    @workflow.update(name="skip_destination")
    async def skip_destination(self, payload: SkipDestination) -> TransferStatus:
        """Operator: give up on the destination ringing or being briefed now."""
        leg = self.track.current
        if leg is not None:
            leg.skip_reason = payload.reason
            await workflow.wait_condition(lambda: self.track.current is not leg)
        return self.track.status()

    @skip_destination.validator
    def _validate_skip(self, payload: SkipDestination) -> None:
        policies.refuse_unless(self.track.stage, ("dialing", "briefing"), "skip a destination")

    @workflow.update(name="add_destination")
    def add_destination(self, payload: AddDestination) -> TransferStatus:
        """Operator: append a destination to the hunt list."""
        self.destinations.append(payload.destination)
        self.track.destinations_added(len(self.destinations))
        return self.track.status()

    @add_destination.validator
    def _validate_add(self, payload: AddDestination) -> None:
        policies.refuse_unless(
            self.track.stage, ("holding", "dialing", "briefing"), "add a destination"
        )
        if len(self.destinations) >= 20:
            raise ValueError("destinations: the hunt list already has 20 entries")
