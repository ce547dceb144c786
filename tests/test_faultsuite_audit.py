"""The fault suite's judge: it must see a second dial, a leg or room left behind, and a
wrong outcome, or its zeros mean nothing. Records are shaped as the stand-in's
``/sim/calls``, ``/sim/events`` and ``/sim/state`` return them."""

from __future__ import annotations

import json
from typing import Any

from warm_transfer.faultsuite.audit import Evidence, Verdict, judge, plan
from warm_transfer.faultsuite.report import FaultResult, table, to_json
from warm_transfer.livekit_sim import CallRecord, SimEvent, SimStateSnapshot
from warm_transfer.models import Attempt, TransferOutcome
from warm_transfer.sim_agents import SimulatedCall

WID = "wt-1"
CALL = SimulatedCall("call-1", "sip_+15105550123", "voice-agent")
HUMAN = f"{WID}-human-1"
NUMBER = "+15550100001"


def record(method: str, request: dict[str, Any] | None) -> CallRecord:
    return CallRecord(
        seq=0, start=0.0, end=1.0, service="x", method=method, request=request,
        request_id="", status=200, result={"ok": True}, fault=None, latency_ms=0.0,
    )  # fmt: skip


def state(rooms: dict[str, set[str]]) -> SimStateSnapshot:
    snapshot: dict[str, Any] = {
        "rooms": {name: {"participants": {p: {} for p in people}} for name, people in rooms.items()}
    }
    return snapshot  # type: ignore[return-value]


def event(kind: str, **fields: Any) -> SimEvent:
    made: dict[str, Any] = {"seq": 0, "time": 0.0, "type": kind, **fields}
    return made  # type: ignore[return-value]


def check(
    outcome: TransferOutcome | None,
    calls: list[CallRecord],
    events: list[SimEvent],
    snapshot: SimStateSnapshot,
    **expect: Any,
) -> Verdict:
    """Judges the one transfer of these tests (a plan dialing NUMBER)."""
    evidence = Evidence(calls, events, snapshot)
    return judge(WID, CALL, plan(NUMBER, **expect), outcome, "timed out", evidence)


CONNECTED = TransferOutcome(
    outcome="connected",
    destination=NUMBER,
    participant_identity=HUMAN,
    attempts=[Attempt(destination_index=0, sip_call_to=NUMBER, participant_identity=HUMAN,
                      result="answered")],
)  # fmt: skip
DIAL = record("CreateSIPParticipant", {"participant_identity": HUMAN})
CLEAN = state({CALL.room_name: {CALL.caller_identity, HUMAN}})
CONSULT_LIFE = [event("room_created", room=f"{WID}-consult"),
                event("room_deleted", room=f"{WID}-consult", reason="deleted")]  # fmt: skip


def test_a_clean_connected_transfer_is_right() -> None:
    verdict = check(CONNECTED, [DIAL], CONSULT_LIFE, CLEAN)
    assert (verdict.right, verdict.duplicates, verdict.leaks) == (True, 0, 0), verdict.problems


def test_a_second_dial_of_one_identity_is_a_duplicate() -> None:
    cut = record("CreateSIPParticipant", None)  # cut before LiveKit read it: no dial
    assert check(CONNECTED, [DIAL, cut, DIAL], CONSULT_LIFE, CLEAN).duplicates == 1


def test_legs_and_rooms_left_behind_are_leaks() -> None:
    leftover = state(
        {CALL.room_name: {CALL.caller_identity, HUMAN}, f"{WID}-consult": {f"{WID}-human-2"}}
    )
    assert check(CONNECTED, [DIAL], [], leftover).leaks == 2
    timed_out = event("room_deleted", room=f"{WID}-consult", reason="departure_timeout")
    verdict = check(CONNECTED, [DIAL], [CONSULT_LIFE[0], timed_out], CLEAN)
    assert verdict.leaks == 1 and "left to LiveKit's" in verdict.problems[0]
    # LiveKit closed it first but the engine did send its DeleteRoom: not a leak.
    deleted = record("DeleteRoom", {"room": f"{WID}-consult"})
    assert check(CONNECTED, [DIAL, deleted], [CONSULT_LIFE[0], timed_out], CLEAN).leaks == 0


def test_a_wrong_outcome_or_livekit_state_is_not_right() -> None:
    assert not check(CONNECTED, [DIAL], CONSULT_LIFE, CLEAN, expect="voicemail").right
    agent_stayed = state({CALL.room_name: {CALL.caller_identity, HUMAN, CALL.agent_identity}})
    verdict = check(CONNECTED, [DIAL], [], agent_stayed)
    assert not verdict.right and "AI agent still" in verdict.problems[0]
    moved_twice = [DIAL, *[record("MoveParticipant", {"identity": HUMAN})] * 2]
    assert not check(CONNECTED, moved_twice, [], CLEAN).right
    refused = record("MoveParticipant", {"identity": HUMAN})
    refused["result"] = {"ok": False, "code": "not_found", "msg": "not in the room"}
    assert check(CONNECTED, [*moved_twice[:2], refused], [], CLEAN).right
    assert not check(None, [DIAL], CONSULT_LIFE, CLEAN).right


def test_the_table_and_json_carry_every_row() -> None:
    rows = [FaultResult("a", "x", 3, 3), FaultResult("b", "y", 2, 1, duplicates=1)]
    text = table(rows)
    assert "duplicates dialed" in text and "| total" in text
    data = json.loads(json.dumps(to_json(rows, n=3)))
    assert data["ok"] is False and [f["ok"] for f in data["faults"]] == [True, False]
