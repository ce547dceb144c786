"""Judging a finished transfer by what LiveKit recorded, not by what the engine says.

The stand-in's call log shows every request LiveKit acted on (a request cut before it
was read has no body and did nothing), its event log shows which rooms were created
and who closed them, and its state shows what is left. From those, per transfer:
did it end as planned, with LiveKit as the contract promises for that outcome; was
any leg identity dialed twice; is any leg or room left behind.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from warm_transfer.livekit_sim import CallRecord, SimEvent, SimStateSnapshot
from warm_transfer.models import (
    Destination,
    DestinationGroup,
    Fallback,
    HuntEntry,
    OutcomeKind,
    TransferOutcome,
    entry_numbers,
)
from warm_transfer.sim_agents import SimulatedCall

# What the engine says when it will not redial a leg that may have rung (a lost
# connection or a dead worker after the dial was sent).
NOT_REDIALING = "not redialing"

_FALLBACK_OUTCOME: dict[str, OutcomeKind] = {
    "voicemail": "voicemail",
    "cold_transfer": "cold_transferred",
    "return_to_agent": "returned_to_agent",
}


@dataclass(frozen=True)
class Plan:
    """One transfer of a fault row: whom it dials and what must come of it.

    Attributes:
        destinations: the hunt list (destinations and ring groups).
        expect: the outcome the fault must not change.
        expect_destination: the number that takes the call when ``connected``
            (default: the last destination).
        fallback: what runs when nobody takes the call.
        reasons: text each failed or refused attempt's reason must contain, in order.
        lost_dials_ok: a dial whose connection was cut may be given up (it may have
            rung, so it is not redialed); the hunt then goes on, and if every dial was
            lost the fallback is the right outcome.
        max_transfer_s: the transfer's deadline, when not the default.
    """

    destinations: tuple[HuntEntry, ...]
    expect: OutcomeKind = "connected"
    expect_destination: str | None = None
    fallback: Fallback = field(default_factory=Fallback)
    reasons: tuple[str, ...] = ()
    lost_dials_ok: bool = False
    max_transfer_s: float | None = None


def plan(*numbers: str | Destination | DestinationGroup, **options: object) -> Plan:
    """A plan dialing ``numbers`` (strings ring 20 s at most) in order."""
    destinations = tuple(
        n if not isinstance(n, str) else Destination(sip_call_to=n, ring_timeout_s=20)
        for n in numbers
    )
    return Plan(destinations, **options)  # type: ignore[arg-type]


@dataclass
class Verdict:
    """How one transfer fared."""

    right: bool
    duplicates: int
    leaks: int
    problems: list[str]
    given_up: int = 0


class Evidence:
    """What LiveKit recorded during a fault row, indexed for judging transfers."""

    def __init__(
        self, calls: Sequence[CallRecord], events: Sequence[SimEvent], state: SimStateSnapshot
    ) -> None:
        self.dials: Counter[str] = Counter()
        self.moves: Counter[str] = Counter()
        self.briefs: Counter[str] = Counter()
        self.deletes: set[str] = set()
        for call in calls:
            req = call["request"]
            if req is None:
                continue  # cut before LiveKit read it: nothing was done
            if call["method"] == "CreateSIPParticipant":
                self.dials[str(req.get("participant_identity"))] += 1
            elif call["method"] == "MoveParticipant" and _carried_out(call):
                # Only moves LiveKit carried out: a retried bridge moves first and looks
                # after, so its refused second move (not_found) bridged nobody again.
                self.moves[str(req.get("identity"))] += 1
            elif call["method"] == "DeleteRoom":
                self.deletes.add(str(req.get("room")))
            elif call["method"] == "CreateDispatch":
                brief = json.loads(req.get("metadata") or "{}")
                self.briefs[str(brief.get("human_identity"))] += 1
        self.created = {e.get("room", "") for e in events if e["type"] == "room_created"}
        self.closed = {e.get("room", ""): e.get("reason", "") for e in events
                       if e["type"] == "room_deleted"}  # fmt: skip
        self.rooms = {name: set(room["participants"]) for name, room in state["rooms"].items()}


def _carried_out(call: CallRecord) -> bool:
    result = call["result"]
    return result is not None and result["ok"]


def judge(
    wid: str,
    call: SimulatedCall,
    plan: Plan,
    outcome: TransferOutcome | None,
    error: str | None,
    ev: Evidence,
) -> Verdict:
    """Judges the transfer ``wid`` of ``call`` that ran ``plan``."""
    problems: list[str] = []
    mine = f"{wid}-"
    duplicates = 0
    for identity, count in ev.dials.items():
        if identity.startswith(mine) and count > 1:
            duplicates += count - 1
            problems.append(f"{wid}: {identity} dialed {count} times")
    leaks = _leaks(wid, call, outcome, ev, problems)
    if outcome is None:
        problems.append(f"{wid}: no outcome ({error})")
        return Verdict(False, duplicates, leaks, problems)
    wrong = len(problems)
    _check_outcome(wid, plan, outcome, problems)
    _check_livekit(wid, call, outcome, ev, problems)
    given_up = sum(1 for a in outcome.attempts if NOT_REDIALING in (a.reason or ""))
    return Verdict(len(problems) == wrong, duplicates, leaks, problems, given_up)


def _leaks(
    wid: str,
    call: SimulatedCall,
    outcome: TransferOutcome | None,
    ev: Evidence,
    problems: list[str],
) -> int:
    consult = f"{wid}-consult"
    kept = set()
    if outcome is not None and outcome.outcome == "connected" and outcome.participant_identity:
        kept.add((call.room_name, outcome.participant_identity))
    if outcome is not None and outcome.outcome == "voicemail":
        kept.add((call.room_name, f"{wid}-voicemail"))
    leaks = 0
    for room, people in ev.rooms.items():
        if room == consult:
            leaks += 1
            problems.append(f"{wid}: consultation room {room} left open")
        for identity in people:
            if identity.startswith(f"{wid}-") and (room, identity) not in kept:
                leaks += 1
                problems.append(f"{wid}: leg {identity} left in {room}")
    reason = ev.closed.get(consult)
    if consult in ev.created and reason not in (None, "deleted") and consult not in ev.deletes:
        # LiveKit's timeout got there first: fine if the engine deleted it too (then its
        # DeleteRoom found nothing), a leak if it never tried.
        leaks += 1
        problems.append(f"{wid}: consultation room left to LiveKit's {reason}")
    return leaks


def _check_outcome(wid: str, plan: Plan, outcome: TransferOutcome, problems: list[str]) -> None:
    lost = [
        a for a in outcome.attempts if a.result == "failed" and NOT_REDIALING in (a.reason or "")
    ]
    expected_lost = any(NOT_REDIALING in text for text in plan.reasons)
    if lost and not (plan.lost_dials_ok or expected_lost):
        problems.append(f"{wid}: dial given up as possibly rung: {lost[0].reason}")
    expect = plan.expect
    if plan.lost_dials_ok and len(lost) == len(plan.destinations):
        expect = _FALLBACK_OUTCOME[plan.fallback.kind]
    if outcome.outcome != expect:
        tried = [(a.sip_call_to, a.result, a.reason) for a in outcome.attempts]
        problems.append(f"{wid}: {outcome.outcome} ({outcome.reason}), not {expect}; {tried}")
        return
    if expect == "connected" and not plan.lost_dials_ok:
        wanted = plan.expect_destination or entry_numbers(plan.destinations[-1])[0]
        if outcome.destination != wanted:
            problems.append(f"{wid}: connected to {outcome.destination}, not {wanted}")
    refused = [a for a in outcome.attempts if a.result != "answered"]
    for text, attempt in zip(plan.reasons, refused, strict=False):
        if plan.lost_dials_ok and attempt in lost:
            continue  # its answer was lost: the reason says so instead
        if text not in (attempt.reason or ""):
            problems.append(f"{wid}: attempt reason {attempt.reason!r} lacks {text!r}")
    if len(refused) < len(plan.reasons):
        problems.append(f"{wid}: {len(refused)} refused attempts, {len(plan.reasons)} expected")


def _check_livekit(
    wid: str, call: SimulatedCall, outcome: TransferOutcome, ev: Evidence, problems: list[str]
) -> None:
    """What the contract promises in LiveKit for the outcome reached."""
    people = ev.rooms.get(call.room_name, set())
    human = outcome.participant_identity
    if outcome.outcome == "connected":
        if human is None or not {call.caller_identity, human} <= people:
            problems.append(f"{wid}: caller and human not together in {call.room_name}")
        if call.agent_identity in people:
            problems.append(f"{wid}: AI agent still in {call.room_name}")
    elif outcome.outcome == "voicemail":
        if f"{wid}-voicemail" not in people or call.agent_identity in people:
            problems.append(f"{wid}: caller not alone with the voicemail box")
    elif outcome.outcome == "returned_to_agent":
        if not {call.caller_identity, call.agent_identity} <= people:
            problems.append(f"{wid}: caller not back with the AI agent")
    moved = sorted(identity for identity in ev.moves if identity.startswith(f"{wid}-"))
    if len(moved) > 1:
        problems.append(f"{wid}: {len(moved)} humans bridged to one caller: {moved}")
    for what, counts in (("bridged", ev.moves), ("briefed", ev.briefs)):
        for identity, count in counts.items():
            if identity.startswith(f"{wid}-") and count > 1:
                problems.append(f"{wid}: {identity} {what} {count} times")
