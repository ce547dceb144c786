"""Deterministic bookkeeping of one transfer: legs, what to undo, status, visibility.

Kept apart from the workflow's control flow so the state machine reads as a call
flow. Everything here runs inside the workflow sandbox and only uses ``workflow.*``
for time, logging, search attributes and metrics.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import temporalio.common
from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from warm_transfer import search_attributes as sa
    from warm_transfer.models import (
        Attempt,
        AttemptResult,
        Bridge,
        OutcomeKind,
        Stage,
        TransferOutcome,
        TransferRequest,
        TransferStatus,
    )
    from workflows.decoding import decode_request
    from workflows.group_view import group_attempt, group_details, group_status
    from workflows.legs import (
        Ledger,
        Leg,
        RingGroup,
        consultation_room,
        leg_identity,
        member_identity,
        voicemail_identity,
    )

__all__ = [
    "Ledger",
    "Leg",
    "RingGroup",
    "Tracker",
    "consultation_room",
    "decode_request",
    "leg_identity",
    "member_identity",
    "voicemail_identity",
]

_STAGE_WORDS: dict[Stage, str] = {
    "holding": "Caller on hold",
    "dialing": "Ringing",
    "briefing": "Briefing",
    "bridging": "Bridging the caller to",
    "fallback": "Running the fallback",
    "done": "Done",
}


_UPSERTED_STAGES = frozenset({"dialing", "fallback"})


class Tracker:
    """Stage, attempts and outcome, mirrored to the query, the UI and metrics."""

    def __init__(self) -> None:
        self.stage: Stage = "holding"
        self.attempts: list[Attempt] = []
        self.outcome: TransferOutcome | None = None
        self.current: Leg | None = None
        self.group: RingGroup | None = None  # the ring group being tried, if any
        self.bridge: Bridge | None = None
        self._request: TransferRequest | None = None
        self._destinations_total = 0
        self._upsert = False
        self._started: datetime | None = None
        self._details = ""

    def begin(self, request: TransferRequest) -> None:
        """Starts tracking a validated request."""
        self._request = request
        self._destinations_total = len(request.destinations)
        self._started = workflow.now()
        # Upsert only what the starter registered: a namespace without the attributes
        # must not fail the workflow task.
        self._upsert = workflow.info().typed_search_attributes.get(sa.CALLER_ROOM) is not None
        self.set_stage("holding")

    def destinations_added(self, total: int) -> None:
        """The hunt list grew (an operator added a destination)."""
        self._destinations_total = total
        self._refresh_details()

    def set_stage(
        self, stage: Stage, leg: Leg | None = None, group: RingGroup | None = None
    ) -> None:
        """Moves to a stage; ``leg`` is the human it concerns, if any, ``group`` the
        ring group whose phones start ringing."""
        changed = stage != self.stage or leg is not self.current
        if group is not None:
            changed = changed or group is not self.group
            self.group = group
        self.stage = stage
        if leg is not None:
            self.current = leg
        self._refresh_details()
        # Upserts are billed actions: only the stages operators filter on (who is
        # ringing, who is in fallback) and the end; briefing and bridging last seconds
        # and show in the current details and the status query.
        if changed and self._upsert and stage in _UPSERTED_STAGES:
            updates: list[SearchAttributeUpdate[Any]] = [sa.TRANSFER_STAGE.value_set(stage)]
            concerned = leg or group
            if concerned is not None:
                updates.append(sa.DESTINATION_INDEX.value_set(concerned.destination_index))
            workflow.upsert_search_attributes(updates)

    def dialing(self, leg: Leg) -> None:
        """The leg is being dialed now."""
        leg.dialed_at = workflow.now()
        self.set_stage("dialing", leg)

    def group_dialing(self, group: RingGroup) -> None:
        """Every member of ``group`` is being dialed now."""
        now = workflow.now()
        for leg in group.members:
            leg.dialed_at = now
        self.current = None
        self.set_stage("dialing", group=group)

    def member_ended(self) -> None:
        """A member of the ring group stopped ringing: fewer phones ring."""
        self._refresh_details()

    def answered(self, leg: Leg) -> None:
        """The leg picked up: records how long its phone rang."""
        if leg.dialed_at is not None:
            _histogram(
                "warm_transfer_time_to_answer_seconds", "Dial to answer, per answered leg"
            ).record((workflow.now() - leg.dialed_at).total_seconds())
        self.set_stage("briefing", leg)

    def bridged(self, leg: Leg) -> None:
        """The caller and the human are together: records the handoff gap, the dead air
        between the human's accept and the bridge, on the workflow's clock."""
        if leg.accepted_at is not None:
            _histogram(
                "warm_transfer_handoff_gap_seconds", "Accept signal to caller bridged"
            ).record((workflow.now() - leg.accepted_at).total_seconds())

    def leg_done(
        self, leg: Leg, result: AttemptResult, reason: str | None, sip: int | None
    ) -> None:
        """Records how a dialed destination ended (for a ring group's member, how the
        group did)."""
        if leg.group is not None:
            self.group_done(leg.group, result, reason, sip)
            return
        self.attempts.append(
            Attempt(
                destination_index=leg.destination_index,
                sip_call_to=leg.sip_call_to,
                participant_identity=leg.identity,
                result=result,
                reason=reason,
                sip_status_code=sip,
            )
        )
        if self.current is leg:
            self.current = None
            self._refresh_details()
        workflow.logger.info(
            "destination ended",
            extra={
                "leg": leg.identity,
                "result": result,
                "reason": reason,
                "sip": sip,
                "room": self._request.room_name if self._request else None,
            },
        )

    def group_done(
        self, group: RingGroup, result: AttemptResult, reason: str | None, sip: int | None
    ) -> None:
        """Records how a ring group ended: one attempt, with every member's leg."""
        group.ended = True
        self.attempts.append(group_attempt(group, result, reason, sip))
        if self.group is group:
            self.group = None
            if self.current is None or self.current.group is group:
                self.current = None
            self._refresh_details()
        workflow.logger.info(
            "ring group ended",
            extra={
                "leg": group.identity,
                "result": result,
                "reason": reason,
                "members": [leg.outcome or "cancelled" for leg in group.members],
                "answered_by": group.winner.member_index if group.winner else None,
                "room": self._request.room_name if self._request else None,
            },
        )

    def finish(
        self,
        kind: OutcomeKind,
        *,
        destination: str | None = None,
        participant_identity: str | None = None,
        reason: str | None = None,
        fallback_error: str | None = None,
    ) -> TransferOutcome:
        """Seals the outcome and mirrors it everywhere."""
        self.outcome = TransferOutcome(
            outcome=kind,
            destination=destination,
            attempts=list(self.attempts),
            participant_identity=participant_identity,
            reason=reason,
            fallback_error=fallback_error,
        )
        self.current = None
        self.group = None
        self.stage = "done"
        self._refresh_details()
        if self._upsert:
            workflow.upsert_search_attributes(
                [sa.TRANSFER_STAGE.value_set("done"), sa.TRANSFER_OUTCOME.value_set(kind)]
            )
        self._record_metrics(kind)
        return self.outcome

    def status(self) -> TransferStatus:
        """The ``status`` query's answer."""
        leg, group = self.current, self.group
        concerned = leg or group
        return TransferStatus(
            stage=self.stage,
            destination_index=concerned.destination_index if concerned else None,
            participant_identity=leg.identity if leg else None,
            outcome=self.outcome.outcome if self.outcome else None,
            destinations_total=self._destinations_total,
            attempts=list(self.attempts),
            bridge=self.bridge,
            details=self._details,
            group=group_status(group) if group is not None else None,
        )

    def _refresh_details(self) -> None:
        words = _STAGE_WORDS[self.stage]
        leg, group = self.current, self.group
        if self.stage == "done" and self.outcome is not None:
            text = f"Done: {self.outcome.outcome.replace('_', ' ')}"
            if self.outcome.destination:
                text += f" ({self.outcome.destination})"
        elif group is not None and self.stage in ("dialing", "briefing", "bridging"):
            position = f"{group.destination_index + 1} of {self._destinations_total}"
            text = group_details(group, words, position)
        elif leg is not None and self.stage in ("dialing", "briefing", "bridging"):
            text = (
                f"{words} {leg.sip_call_to} "
                f"({leg.destination_index + 1} of {self._destinations_total})"
            )
        elif self.stage in ("dialing", "briefing", "bridging"):
            text = "Moving on to the next destination"
        else:
            text = words
        if self._request is not None:
            text += f" | caller room {self._request.room_name}"
        self._details = text
        workflow.set_current_details(text)

    def _record_metrics(self, kind: OutcomeKind) -> None:
        meter = workflow.metric_meter()
        meter.create_counter("warm_transfer_transfers", "Transfers finished, by outcome").add(
            1, {"outcome": kind}
        )
        meter.create_histogram("warm_transfer_attempts", "Destinations dialed per transfer").record(
            len(self.attempts)
        )
        if self._started is not None:
            _histogram("warm_transfer_hold_seconds", "Caller on hold: start to outcome").record(
                (workflow.now() - self._started).total_seconds(), {"outcome": kind}
            )


def _histogram(name: str, description: str) -> temporalio.common.MetricHistogramFloat:
    # Replay-safe: the workflow meter records nothing while a history is replayed.
    return workflow.metric_meter().create_histogram_float(name, description, "s")
