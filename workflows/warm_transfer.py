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

from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.livekit import LiveKitActivities
    from warm_transfer.models import (
        AddDestination,
        CallerHungUp,
        CancelTransfer,
        ConsultationRequest,
        Destination,
        DestinationGroup,
        DialRequest,
        HoldRequest,
        HumanAccepted,
        HumanAnswered,
        HumanDeclined,
        SkipDestination,
        TransferOutcome,
        TransferRequest,
        TransferStatus,
    )
    from workflows import policies, ring_group
    from workflows.bridge import connect_caller
    from workflows.briefing import brief_and_decide
    from workflows.fallback import run_fallback
    from workflows.legs import Leg, RingGroup, consultation_room, leg_identity
    from workflows.transfer_core import TransferCore
    from workflows.transfer_state import decode_request


@workflow.defn(name="WarmTransferWorkflow")
class WarmTransferWorkflow(TransferCore):
    """One warm transfer of one caller, as described in CONTRACT.md (and ring groups,
    docs/ring-groups.md)."""

    @workflow.run
    async def run(self, raw: RawValue) -> TransferOutcome:
        """Runs the transfer; the input is decoded here so bad input fails the run
        with a message naming the field instead of retrying a workflow task forever."""
        self.request = req = decode_request(raw)
        # Asked once, first: a run takes this path or not from its start on.
        self.survives_faults = workflow.patched(policies.REAL_FAULTS)
        self.destinations = list(req.destinations)
        self.track.begin(req)
        self.set_deadline(req.max_transfer_s)
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
            entry = self._next_entry(consultation.human_room)
            if entry is None:
                break
            if isinstance(entry, RingGroup):
                accepted, leg = await ring_group.try_group(self, req, entry), entry.winner
            else:
                accepted, leg = await self._try_human(req, entry), entry
            if accepted and leg is not None and await connect_caller(self, req, leg):
                return self.track.finish(
                    "connected", destination=leg.sip_call_to, participant_identity=leg.identity
                )
        # The last calls of the run when the caller left; the fallback follows otherwise.
        await self.release_all(local=not self.caller_hung_up)
        if self.caller_hung_up:
            return self.track.finish("caller_hung_up")
        reason = self.stop_reason or "no destination took the call"
        return await run_fallback(self, req, reason)

    def _next_entry(self, room: str) -> Leg | RingGroup | None:
        """The next entry of the hunt: a leg to dial, or a ring group; None at the end."""
        if self._next_index >= len(self.destinations):
            return None
        index = self._next_index
        self._next_index += 1
        entry = self.destinations[index]
        wid, attempt = workflow.info().workflow_id, len(self.track.attempts) + 1
        if isinstance(entry, DestinationGroup):
            return RingGroup.of(wid, attempt, room, index, entry)
        return Leg(
            identity=leg_identity(wid, attempt),
            room=room,
            destination_index=index,
            sip_call_to=entry.sip_call_to,
        )

    async def _try_human(self, req: TransferRequest, leg: Leg) -> bool:
        """Dials, waits for the answer, briefs, waits for the decision. True = accepted."""
        dest = self.destinations[leg.destination_index]
        assert isinstance(dest, Destination)
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
        return await brief_and_decide(self, req, leg)

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
        if ring_group.member_answered(self, payload.participant_identity):
            return
        if leg := self._leg_named(payload.participant_identity, "human_answered"):
            leg.answered = True

    @workflow.signal(name="human_accepted")
    def human_accepted(self, payload: HumanAccepted) -> None:
        """The human heard the brief and takes the call."""
        if ring_group.member_decided(self, payload.participant_identity, accepted=True):
            return
        leg = self._leg_named(payload.participant_identity, "human_accepted")
        if leg is not None and leg.decision is None:
            leg.answered = True
            leg.decision = "accepted"
            leg.accepted_at = workflow.now()

    @workflow.signal(name="human_declined")
    def human_declined(self, payload: HumanDeclined) -> None:
        """The human refuses; the next destination is tried."""
        identity = payload.participant_identity
        if ring_group.member_decided(self, identity, accepted=False, reason=payload.reason):
            return
        leg = self._leg_named(identity, "human_declined")
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
        """Operator: give up on the destination (or ring group) ringing or being briefed."""
        target = self.track.current or self.track.group
        if target is not None:
            target.skip_reason = payload.reason
            await workflow.wait_condition(
                lambda: self.track.current is not target and self.track.group is not target
            )
        return self.track.status()

    @skip_destination.validator
    def _validate_skip(self, payload: SkipDestination) -> None:
        policies.refuse_unless(self.track.stage, ("dialing", "briefing"), "skip a destination")

    @workflow.update(name="add_destination")
    def add_destination(self, payload: AddDestination) -> TransferStatus:
        """Operator: append a destination (or a ring group) to the hunt list."""
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
