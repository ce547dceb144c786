"""The real fault suite's judge and tools, without a real stack: it must see a second
INVITE, a call never ended, a room left, a wrong outcome and a long hold, or its zeros
mean nothing. Phone logs are built as `read_phone_log` builds them from sipp's."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from warm_transfer.faultsuite.real_audit import (
    TAG_HEADER,
    Observed,
    RealPlan,
    judge_real,
    longest_hold,
)
from warm_transfer.faultsuite.real_hearing import heard_early
from warm_transfer.faultsuite.report import FaultResult, real_table, table
from warm_transfer.models import Attempt, TransferOutcome
from warm_transfer.realstack.impair import Impairment
from warm_transfer.realstack.nfqueue import packet_ids, verdict
from warm_transfer.realstack.phonelog import PhoneLog, PhoneLogReader, read_phone_log

HUMAN, CALLER_PHONE = "+15105550100", "+15105550123"
TAG, WID, ROOM = "rf-x-0-abc", "wt-rf-x-0-abc", "call-rf-x-0-abc"
CALLER, AGENT = "sip_caller", "voice-agent"
LEG = f"{WID}-human-1"


def phone_call(
    log: PhoneLog, call_id: str, attempt: str, at: float, *, answer: bool, end: float | None
) -> None:
    """One call as the phone logs it: INVITE, 100/180, then 200+ACK or 486, then BYE."""
    log.received.append(("INVITE", call_id))
    log.invited_at[call_id] = at
    log.headers[call_id] = {TAG_HEADER: f"{TAG}:{attempt}"}
    log.timeline += [(at, "received", "INVITE", call_id), (at, "sent", "180", call_id)]
    if answer:
        log.timeline += [(at + 1, "sent", "200", call_id), (at + 1, "received", "ACK", call_id)]
        log.received.append(("ACK", call_id))
    else:
        log.rejected[call_id] = 486
    if end is not None:
        log.received.append(("BYE", call_id))
        log.timeline.append((end, "received", "BYE", call_id))


def connected(**plan: object) -> tuple[Observed, dict[str, PhoneLog]]:
    """A transfer that connected, as the harness records it; each test spoils one thing."""
    outcome = TransferOutcome(
        outcome="connected",
        destination=HUMAN,
        participant_identity=LEG,
        attempts=[Attempt(destination_index=0, sip_call_to=HUMAN, participant_identity=LEG,
                          result="answered")],
    )  # fmt: skip
    seen = Observed(TAG, WID, ROOM, CALLER, AGENT, RealPlan((HUMAN,), **plan))  # type: ignore[arg-type]
    seen.outcome, seen.outcome_at, seen.teardown_at = outcome, 110.0, 120.0
    seen.messages = [(100.0, "hold_started"), (108.0, "leave")]
    seen.people = {ROOM: {CALLER, LEG}}
    seen.heard = {LEG: {CALLER}, CALLER: {LEG}}
    human, caller = PhoneLog(), PhoneLog()
    phone_call(human, "h1", "0", 101.0, answer=True, end=121.0)
    phone_call(caller, "c1", "caller", 90.0, answer=True, end=121.0)
    return seen, {HUMAN: human, CALLER_PHONE: caller}


def test_a_clean_connected_transfer_is_right() -> None:
    seen, logs = connected()
    v = judge_real(seen, logs)
    assert (v.right, v.duplicates, v.legs_left, v.rooms_left) == (True, 0, 0, 0), v.problems
    assert v.hold_s == 8.0


def test_a_second_invite_for_one_attempt_is_a_duplicate() -> None:
    seen, logs = connected()
    phone_call(logs[HUMAN], "h2", "0", 103.0, answer=False, end=None)
    v = judge_real(seen, logs)
    assert v.duplicates == 1 and any("2 INVITEs" in p for p in v.problems)


def test_a_call_never_ended_is_a_leg_left_up_unless_the_fault_stranded_it() -> None:
    seen, logs = connected(strands=True)
    logs[HUMAN] = PhoneLog()
    phone_call(logs[HUMAN], "h1", "0", 101.0, answer=True, end=None)
    seen.struck_at = 100.5  # before the INVITE: the fault did not strand it
    v = judge_real(seen, logs)
    assert (v.legs_left, v.stranded) == (1, 0) and any("never ended" in p for p in v.problems)
    seen.struck_at = 102.0  # the call was up when its livekit-sip died
    v = judge_real(seen, logs)
    assert (v.legs_left, v.stranded) == (1, 1)


def test_a_room_the_engine_made_left_open_is_counted() -> None:
    seen, logs = connected()
    seen.rooms_after = {f"{WID}-consult": "", "other": f'{{"workflow_id": "{WID}"}}'}
    assert judge_real(seen, logs).rooms_left == 2


def test_the_wrong_outcome_is_wrong_and_a_documented_one_is_degraded() -> None:
    seen, logs = connected()
    assert seen.outcome is not None
    seen.outcome = seen.outcome.model_copy(update={"outcome": "caller_hung_up"})
    seen.people = {ROOM: {CALLER}}
    assert not judge_real(seen, logs).right
    seen.plan = RealPlan((HUMAN,), degraded=("caller_hung_up",))
    v = judge_real(seen, logs)
    assert v.right and v.degraded


def test_connected_needs_the_phones_and_the_sfu_to_agree() -> None:
    seen, logs = connected()
    seen.heard = {}
    assert any("SFU" in p for p in judge_real(seen, logs).problems)
    seen, logs = connected()
    logs[HUMAN] = PhoneLog()
    phone_call(logs[HUMAN], "h1", "0", 101.0, answer=True, end=105.0)  # hung up early
    assert any("ended before" in p for p in judge_real(seen, logs).problems)
    seen, logs = connected()
    seen.people = {ROOM: {CALLER, LEG, AGENT}}
    assert any("AI agent still" in p for p in judge_real(seen, logs).problems)


def test_a_caller_hearing_a_human_before_the_accept_is_caught() -> None:
    seen, logs = connected()
    # Sampled every 0.5 s (the judge counts 0.25 s each, the sampler's pace): the caller
    # heard the leg from 104.0 to 105.5, accepted at 106;
    # the human's phone picked up at 102.
    heard = [(at / 2, {LEG}) for at in range(208, 212)]
    seen.hearing, seen.accepted_at = [(103.5, set()), *heard, (106.0, set())], {LEG: 106.0}
    assert heard_early(seen.hearing, seen.accepted_at, 0.5) == 2.0
    assert any("heard a human" in p for p in judge_real(seen, logs).problems)
    # After the accept the same samples are the bridge working.
    assert heard_early(seen.hearing, {LEG: 104.0}, 0.5) == 0.0
    assert heard_early([(1.0, {LEG})], {}, 0.25) == 0.25  # never accepted: always early
    # Subscribed to a leg still ringing: its phone sends nothing before it picks up.
    logs[HUMAN] = PhoneLog()
    phone_call(logs[HUMAN], "h1", "0", 104.5, answer=True, end=121.0)  # 200 OK at 105.5
    assert not any("heard a human" in p for p in judge_real(seen, logs).problems)


def test_back_with_the_agent_needs_the_caller_unless_its_livekit_sip_died() -> None:
    seen, logs = connected(expect="returned_to_agent")
    assert seen.outcome is not None
    seen.outcome = seen.outcome.model_copy(update={"outcome": "returned_to_agent"})
    seen.messages = [(100.0, "hold_started"), (108.0, "hold_stopped")]
    seen.people = {ROOM: {AGENT}}
    assert any("not back with the AI agent" in p for p in judge_real(seen, logs).problems)
    seen.plan = RealPlan((HUMAN,), expect="returned_to_agent", strands=True)
    assert not any("not back" in p for p in judge_real(seen, logs).problems)
    # A WebRTC caller's call survives livekit-sip: it must be back.
    seen.plan = RealPlan((HUMAN,), expect="returned_to_agent", strands=True, webrtc_caller=True)
    assert any("not back with the AI agent" in p for p in judge_real(seen, logs).problems)


def test_a_caller_cut_by_livekit_sip_for_a_lost_ack_is_degraded_not_wrong() -> None:
    seen, logs = connected()
    seen.people = {ROOM: {LEG}}  # the caller's call is gone before the end
    logs[CALLER_PHONE] = PhoneLog()
    phone_call(logs[CALLER_PHONE], "c1", "caller", 90.0, answer=True, end=115.0)
    assert not judge_real(seen, logs).right  # ACKed, then cut: the engine's doing
    caller = logs[CALLER_PHONE]
    caller.timeline = [e for e in caller.timeline if e[2] != "ACK"]  # never confirmed
    v = judge_real(seen, logs)
    assert v.right and v.degraded, v.problems


def test_the_strike_must_land_where_the_row_says() -> None:
    seen, logs = connected(struck_while="holding")
    seen.struck_at = 100.5
    assert judge_real(seen, logs).right
    seen.struck_at = 101.5  # the INVITE came first
    assert any("missed the holding stage" in p for p in judge_real(seen, logs).problems)
    seen.plan = RealPlan((HUMAN,), struck_while="ringing")
    assert judge_real(seen, logs).right  # after the INVITE, before the 200 at 102


def test_the_hold_ends_at_the_first_of_stop_leave_caller_gone_or_the_end() -> None:
    seen, _ = connected()
    seen.messages = [(100.0, "hold_started")]
    seen.outcome_at = 130.0
    assert longest_hold(seen) == 30.0
    seen.others_left = {CALLER: 121.0}
    assert longest_hold(seen) == 21.0
    seen.messages.append((104.0, "hold_stopped"))
    assert longest_hold(seen) == 4.0
    seen.messages = []
    assert longest_hold(seen) == 0.0


def test_the_real_table_has_the_phones_columns_and_marks_degraded_rows() -> None:
    rows = [
        FaultResult("sip-kill-ringing", "x", transfers=5, right=5, degraded=5, legs_left=10,
                    stranded=10, longest_hold_s=21.4, note="livekit-sip holds the dialogs"),
        FaultResult("worker-kill-ringing", "x", transfers=5, right=5, longest_hold_s=17.0),
    ]  # fmt: skip
    text = real_table(rows)
    assert "duplicate INVITEs" in text and "longest hold" in text
    assert "sip-kill-ringing *" in text and "10 (10 stranded)" in text and "21.4 s" in text
    assert all(r.ok for r in rows)
    rows[1].legs_left = 1
    assert not rows[1].ok
    # The stand-in's table is unchanged.
    assert table(rows).splitlines()[0].split("|")[4].strip() == "duplicates dialed"


def test_the_incremental_reader_sees_what_a_full_parse_sees(tmp_path: Path) -> None:
    path = tmp_path / "phone.log"
    block = (
        "----------------------------------------------- 2026-12-03 10:25:{s:02d}.000000\n"
        "UDP message received [100] bytes :\n\n"
        "INVITE sip:+1@x SIP/2.0\nCall-ID: c{s}\nX-WT-Tag: t:{s}\nCSeq: 1 INVITE\n\nv=0\n\n"
    )
    reader = PhoneLogReader(path)
    with open(path, "w") as f:
        f.write(block.format(s=1))
        f.flush()
        assert reader.read().headers == {"c1": {TAG_HEADER: "t:1"}}
        f.write(block.format(s=2) + block.format(s=3)[:60])  # the last one half written
        f.flush()
        assert set(reader.read().invited_at) == {"c1", "c2"}
        f.write(block.format(s=3)[60:])
    assert reader.read() == read_phone_log(path)
    assert set(reader.read().tagged(TAG_HEADER, "t:")) == {"c1", "c2", "c3"}


def test_impairments_parse_and_render_as_netem() -> None:
    both = Impairment.parse("delay 200ms loss 5%")
    assert both == Impairment(loss_pct=5, delay_ms=200)
    assert both.netem() == ["delay", "200ms", "loss", "5%"]
    with pytest.raises(ValueError, match="not an impairment"):
        Impairment.parse("jitter")


def test_the_delayer_reads_queued_packet_ids_and_answers_accept() -> None:
    def packet(packet_id: int) -> bytes:
        attr = struct.pack("=HH", 4 + 7, 1) + struct.pack("!IHB", packet_id, 0x0800, 1) + b"\0"
        body = struct.pack("=BBH", 2, 0, 0) + attr
        return struct.pack("=IHHII", 16 + len(body), (3 << 8) | 0, 0, 0, 0) + body

    assert packet_ids(packet(7) + packet(8)) == [7, 8]
    answer = verdict(7, 42)
    assert struct.unpack_from("=H", answer, 4)[0] == (3 << 8) | 1  # a verdict message
    assert answer[-8:] == struct.pack("!II", 1, 42)  # accept, packet 42
