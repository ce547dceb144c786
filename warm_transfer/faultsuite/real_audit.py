"""Judging a transfer on the real stack by what the phones and LiveKit saw.

Every INVITE the harness causes carries ``X-WT-Tag: <transfer tag>:<attempt index>``
(``:caller`` for the caller's own call), so each phone's message log says which
transfer dialed it, how many times, whether it picked up and whether its call was
ended. From those logs, livekit-server's rooms and participants, the SFU's own
subscriptions and the AI agent's data messages, per transfer:

* **right outcome**: the outcome the plan expects (or one of the degraded outcomes it
  documents), and the phones and LiveKit in the state that outcome promises;
* **duplicate INVITEs**: a second call (a new Call-ID) to the same phone for one
  attempt. Retransmissions share their Call-ID and do not count;
* **legs left up**: a call a phone received and never saw end (no CANCEL, no BYE
  either way, no final rejection). A call that was up when its livekit-sip was
  SIGKILLed cannot be ended by anyone: it is counted, and also counted as
  ``stranded``, which the row may allow;
* **rooms left**: a room the engine made (its name or metadata names the workflow)
  still open at the end;
* **hold**: from the agent's ``hold_started`` to its ``hold_stopped`` or ``leave``, or
  to the caller leaving, or to the end of the transfer.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from warm_transfer.faultsuite.real_hearing import SAMPLE_S, heard_early
from warm_transfer.models import Fallback, OutcomeKind, TransferOutcome
from warm_transfer.realstack.phonelog import PhoneLog

TAG_HEADER = "X-WT-Tag"
CALLER_ATTEMPT = "caller"
# LiveKit cannot create a participant unsubscribed: a ringing leg's track can reach
# the caller for a moment before the engine's unsubscribe lands (docs/real-livekit.md).
# Longer than this, the caller heard a human who had not accepted.
EARLY_LIMIT_S = 1.5


@dataclass(frozen=True)
class RealPlan:
    """One transfer of a real fault row: whom it dials and what must come of it.

    Attributes:
        numbers: the hunt list (phone book numbers).
        expect: the outcome the fault must not change.
        expect_number: who takes the call when ``connected`` (default: the last).
        degraded: outcomes the row documents as what this fault makes of the transfer
            when ``expect`` cannot be had (the caller's own call died with the fault...).
        ring_s: each destination's ring timeout.
        webrtc_caller: the caller is a WebRTC participant, not a SIP leg.
        fallback: what runs when nobody takes the call.
        strands: calls up at the strike may be left up (the fault killed the process
            that holds their SIP dialogs).
        agent_stays: the AI agent ignores ``leave``: only the engine's removal takes it
            out of the room.
        struck_while: where the strike must have landed, by the first phone's log:
            ``holding`` (before its INVITE), ``ringing`` (after the INVITE, before its
            answer) or ``answered`` (after the answer); None: anywhere.
    """

    numbers: tuple[str, ...]
    expect: OutcomeKind = "connected"
    expect_number: str | None = None
    degraded: tuple[OutcomeKind, ...] = ()
    ring_s: float = 20.0
    webrtc_caller: bool = False
    fallback: Fallback = field(default_factory=Fallback)
    strands: bool = False
    agent_stays: bool = False
    struck_while: Literal["holding", "ringing", "answered"] | None = None


@dataclass
class Observed:
    """What the harness recorded of one transfer.

    Attributes:
        tag: the transfer's tag (INVITE header value prefix).
        workflow_id: its workflow id (leg identities derive from it).
        room: the caller's room.
        caller_identity: the caller's participant identity.
        agent_identity: the AI agent's.
        plan: what it dialed and expected.
        outcome: the workflow's result, or None.
        error: why there is none.
        outcome_at: wall clock of the result.
        struck_at: wall clock of the fault's strike on this transfer's wave.
        messages: the agent's ``(wall clock, event)`` data messages.
        others_left: identity -> when it left the caller's room (the agent's view).
        people: room -> identities in it, before the harness ended the calls.
        heard: publisher -> listeners in the caller's room, from the SFU, then.
        teardown_at: when the harness started ending the calls.
        rooms_after: rooms still open at the end, name -> metadata.
        hearing: ``(wall clock, human legs the caller is subscribed to)``, sampled from
            the SFU every `SAMPLE_S` while the transfer ran.
        accepted_at: leg identity -> when its ``human_accepted`` reached the workflow.
    """

    tag: str
    workflow_id: str
    room: str
    caller_identity: str
    agent_identity: str
    plan: RealPlan
    outcome: TransferOutcome | None = None
    error: str | None = None
    outcome_at: float | None = None
    struck_at: float | None = None
    messages: list[tuple[float, str]] = field(default_factory=list)
    others_left: dict[str, float] = field(default_factory=dict)
    people: dict[str, set[str]] = field(default_factory=dict)
    heard: dict[str, set[str]] = field(default_factory=dict)
    teardown_at: float | None = None
    rooms_after: dict[str, str] = field(default_factory=dict)
    hearing: list[tuple[float, set[str]]] = field(default_factory=list)
    accepted_at: dict[str, float] = field(default_factory=dict)


@dataclass
class RealVerdict:
    """How one transfer fared on the real stack."""

    right: bool
    degraded: bool = False
    duplicates: int = 0
    legs_left: int = 0
    stranded: int = 0
    rooms_left: int = 0
    hold_s: float = 0.0
    problems: list[str] = field(default_factory=list)


def calls_of(tag: str, logs: Mapping[str, PhoneLog]) -> dict[str, dict[str, list[str]]]:
    """number -> attempt ("0", "1", ..., "caller") -> Call-IDs of this transfer's calls."""
    out: dict[str, dict[str, list[str]]] = {}
    for number, log in logs.items():
        for call_id, value in log.tagged(TAG_HEADER, f"{tag}:").items():
            attempt = value[len(tag) + 1 :]
            out.setdefault(number, {}).setdefault(attempt, []).append(call_id)
    return out


def longest_hold(o: Observed, now: float | None = None) -> float:
    """Seconds the caller spent on hold (see the module docstring); 0 if never held."""
    start = next((t for t, event in o.messages if event == "hold_started"), None)
    if start is None:
        return 0.0
    ends = [t for t, event in o.messages if event in ("hold_stopped", "leave") and t >= start]
    if o.caller_identity in o.others_left:
        ends.append(o.others_left[o.caller_identity])
    if o.outcome_at is not None:
        ends.append(o.outcome_at)
    end = min(ends) if ends else (now or time.time())
    return max(0.0, end - start)


def judge_real(o: Observed, logs: Mapping[str, PhoneLog]) -> RealVerdict:
    """Judges one observed transfer against the phones' logs."""
    v = RealVerdict(right=False, hold_s=longest_hold(o))
    calls = calls_of(o.tag, logs)
    for number, attempts in calls.items():
        for attempt, ids in attempts.items():
            if len(ids) > 1:
                v.duplicates += len(ids) - 1
                v.problems.append(f"{o.tag}: {number} got {len(ids)} INVITEs for attempt {attempt}")
            for call_id in ids:
                if logs[number].ended(call_id):
                    continue
                v.legs_left += 1
                invited = logs[number].invited_at.get(call_id, 0.0)
                if o.plan.strands and o.struck_at is not None and invited <= o.struck_at:
                    v.stranded += 1
                else:
                    v.problems.append(f"{o.tag}: {number}'s call {call_id} never ended")
    for name, metadata in o.rooms_after.items():
        if name.startswith(o.workflow_id) or o.workflow_id in metadata:
            v.rooms_left += 1
            v.problems.append(f"{o.tag}: room {name} left open")
    if o.outcome is None:
        v.problems.append(f"{o.tag}: no outcome ({o.error})")
        return v
    before = len(v.problems)
    _check_strike(o, calls, logs, v.problems)
    early_s = heard_early(o.hearing, o.accepted_at, SAMPLE_S, since=_first_answer(o, calls, logs))
    if early_s > EARLY_LIMIT_S:
        v.problems.append(f"{o.tag}: the caller heard a human {early_s:.1f} s before the accept")
    kind = o.outcome.outcome
    if kind != o.plan.expect and kind not in o.plan.degraded:
        tried = [(a.sip_call_to, a.result, a.reason) for a in o.outcome.attempts]
        v.problems.append(f"{o.tag}: {kind} ({o.outcome.reason}), not {o.plan.expect}; {tried}")
    else:
        cut = _caller_cut_unacked(o, calls, logs)
        v.degraded = kind != o.plan.expect or cut
        _check_state(o, calls, logs, v.problems, caller_cut=cut)
    v.right = len(v.problems) == before
    return v


def _check_state(
    o: Observed,
    calls: Mapping[str, Mapping[str, list[str]]],
    logs: Mapping[str, PhoneLog],
    problems: list[str],
    *,
    caller_cut: bool = False,
) -> None:
    """The phones and LiveKit as the outcome reached promises them; with ``caller_cut``
    (see `_caller_cut_unacked`) nothing is asked of the caller's own call."""
    assert o.outcome is not None
    kind = o.outcome.outcome
    in_room = o.people.get(o.room, set())
    mine = {p for people in o.people.values() for p in people if p.startswith(f"{o.workflow_id}-")}
    human = o.outcome.participant_identity
    kept = {human} if kind == "connected" and human else set()
    if kind == "voicemail":
        kept = {f"{o.workflow_id}-voicemail"}
    if mine - kept:
        problems.append(f"{o.tag}: legs left in LiveKit: {sorted(mine - kept)}")
    if kind == "connected":
        wanted = o.plan.expect_number or o.plan.numbers[-1]
        if o.outcome.destination != wanted:
            problems.append(f"{o.tag}: connected to {o.outcome.destination}, not {wanted}")
        index = str(o.plan.numbers.index(wanted)) if wanted in o.plan.numbers else "?"
        ids = calls.get(wanted, {}).get(index, [])
        if not ids or not logs[wanted].answered(ids[-1]):
            problems.append(f"{o.tag}: {wanted}'s phone never picked up its call")
        elif _ended_early(logs[wanted], ids[-1], o):
            problems.append(f"{o.tag}: {wanted}'s call ended before the transfer did")
        together = {human} if caller_cut else {o.caller_identity, human}
        if human is None or not together <= in_room:
            problems.append(f"{o.tag}: caller and human not together in {o.room}")
        elif not caller_cut and o.caller_identity not in o.heard.get(human, set()):
            problems.append(f"{o.tag}: the SFU does not forward the human to the caller")
        if o.agent_identity in in_room:
            problems.append(f"{o.tag}: AI agent still in {o.room}")
    elif kind == "returned_to_agent":
        # A SIP caller whose livekit-sip died (a stranding row) has no call to come back
        # to: LiveKit lists it until its participant times out, then it is gone.
        caller_died = caller_cut or (o.plan.strands and not o.plan.webrtc_caller)
        back = {o.agent_identity} if caller_died else {o.caller_identity, o.agent_identity}
        if not back <= in_room:
            problems.append(f"{o.tag}: caller not back with the AI agent")
        if "hold_stopped" not in [event for _, event in o.messages]:
            problems.append(f"{o.tag}: the AI agent was never told hold_stopped")
    elif kind == "voicemail" and o.agent_identity in in_room:
        problems.append(f"{o.tag}: AI agent still in {o.room} after voicemail")
    if not o.plan.webrtc_caller and kind != "caller_hung_up" and not caller_cut:
        ids = calls.get(_caller_number(calls), {}).get(CALLER_ATTEMPT, [])
        number = _caller_number(calls)
        if ids and number and _ended_early(logs[number], ids[-1], o):
            problems.append(f"{o.tag}: the caller's call ended before the transfer did")


def _check_strike(
    o: Observed,
    calls: Mapping[str, Mapping[str, list[str]]],
    logs: Mapping[str, PhoneLog],
    problems: list[str],
) -> None:
    """The strike landed at the stage the row aims at, by the first phone's own log."""
    if o.plan.struck_while is None or o.struck_at is None:
        return
    number = o.plan.numbers[0]
    ids = calls.get(number, {}).get("0", [])
    log = logs[number]
    invited = log.invited_at.get(ids[0]) if ids else None
    picked_up = log.first(ids[0], "sent", "200") if ids and log.answered(ids[0]) else None
    at, where = o.struck_at, o.plan.struck_while
    landed = {
        "holding": invited is None or invited > at,
        "ringing": invited is not None and invited <= at and (picked_up is None or picked_up > at),
        "answered": picked_up is not None and picked_up <= at,
    }[where]
    if not landed:
        problems.append(f"{o.tag}: the strike missed the {where} stage (INVITE {invited}, "
                        f"answer {picked_up}, strike {at})")  # fmt: skip


def _first_answer(
    o: Observed, calls: Mapping[str, Mapping[str, list[str]]], logs: Mapping[str, PhoneLog]
) -> float:
    """When the first human's phone picked up (its 200 OK): no human audio before it."""
    answers = [
        at
        for number, attempts in calls.items()
        for attempt, ids in attempts.items()
        if attempt != CALLER_ATTEMPT
        for call_id in ids
        if (at := logs[number].first(call_id, "sent", "200")) is not None
    ]
    return min(answers, default=float("inf"))


def _caller_cut_unacked(
    o: Observed, calls: Mapping[str, Mapping[str, list[str]]], logs: Mapping[str, PhoneLog]
) -> bool:
    """The caller's phone answered, never got its ACK and its call ended before the
    harness ended it: livekit-sip's media timeout on a call it never confirmed (it sends
    one ACK, never again for the phone's retransmitted 200), not the engine's doing."""
    number = _caller_number(calls)
    ids = calls.get(number, {}).get(CALLER_ATTEMPT, [])
    if o.plan.webrtc_caller or not ids:
        return False
    log = logs[number]
    return log.first(ids[-1], "received", "ACK") is None and _ended_early(log, ids[-1], o)


def _caller_number(calls: Mapping[str, Mapping[str, list[str]]]) -> str:
    return next((n for n, attempts in calls.items() if CALLER_ATTEMPT in attempts), "")


def _ended_early(log: PhoneLog, call_id: str, o: Observed) -> bool:
    """The call ended before the harness ended the calls (so not with the transfer)."""
    if o.teardown_at is None:
        return False
    ends = [
        t
        for t, direction, what, cid in log.timeline
        if cid == call_id and what in ("BYE", "CANCEL")
    ]
    return bool(ends) and min(ends) < o.teardown_at
