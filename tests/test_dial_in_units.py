"""The dial-in caller's pieces that need no real stack: its plan and its sipp scenario."""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from warm_transfer.models import Destination, Fallback
from warm_transfer.realstack.dialin import (
    CALL_TAG_HEADER,
    TRANSFER_PLAN_HEADER,
    DialIn,
    TransferPlan,
    render_dial_in_scenario,
)

PLAN = TransferPlan(
    destinations=[Destination(sip_call_to="+15105550109", sip_trunk_id="ST_a", ring_timeout_s=6)],
    fallback=Fallback(kind="voicemail", sip_call_to="+15105550198", sip_trunk_id="ST_b"),
    bridge="same_room",
    accept_timeout_s=8,
    summary='Disputes a $42 charge, "urgent"; verified.',
)


def test_a_plan_travels_in_a_header_and_comes_back_whole() -> None:
    value = PLAN.header()
    # base64url: nothing a SIP parser could split on (commas, quotes, semicolons).
    assert re.fullmatch(r"[A-Za-z0-9_=-]+", value), value
    assert TransferPlan.from_header(value) == PLAN


def test_a_header_that_is_not_a_plan_is_refused() -> None:
    with pytest.raises(ValueError):
        TransferPlan.from_header("not a plan")
    no_destinations = base64.urlsafe_b64encode(b'{"destinations": [], "summary": "x"}').decode()
    with pytest.raises(ValueError, match="destinations"):
        TransferPlan.from_header(no_destinations)


def scenario(call: DialIn) -> ET.Element:
    text = render_dial_in_scenario(call, Path("/x/tone.wav"), Path("/x/keys.pcap"))
    return ET.fromstring(text)


def messages(root: ET.Element) -> list[str]:
    return [(el.text or "").strip() for el in root.iter("send")]


def test_the_caller_calls_the_support_line_with_its_tags_and_hears_the_answer() -> None:
    call = DialIn(
        "+15105550123", 1600, headers=((CALL_TAG_HEADER, "abc"), (TRANSFER_PLAN_HEADER, "cGxhbg"))
    )
    root = scenario(call)
    sent = messages(root)
    invite = sent[0]
    assert invite.startswith("INVITE sip:[service]@")
    assert "X-Call-Tag: abc\n" in invite and "X-Transfer-Plan: cGxhbg\n" in invite
    assert "m=audio [media_port] RTP/AVP 0 101" in invite  # mu-law and RFC 2833 keys
    assert sent[1].startswith("ACK ") and "CSeq: 1 ACK" in sent[1]
    # Answered: its tone plays; it waits for LiveKit's BYE (or REFER) and answers it.
    assert any(el.get("rtp_stream") == "/x/tone.wav,-1,0" for el in root.iter("exec"))
    assert [el.get("request") for el in root.iter("recv") if el.get("request")] == [
        "REFER",
        "BYE",
        "BYE",
    ]
    assert not any(el.get("play_pcap_audio") for el in root.iter("exec"))  # no keys


def test_the_caller_presses_its_keys_and_hangs_up_when_told() -> None:
    root = scenario(DialIn("+15105550123", 1600, presses=((9000, "0"),), hangup_after_ms=20000))
    timed = [
        (int(el.get("timeout", "0")), el.get("ontimeout"))
        for el in root.iter("recv")
        if el.get("ontimeout", "").startswith("step")
    ]
    # 9 s after the answer the keys, 11 s later the hang-up (a BYE from LiveKit first
    # ends the call either way).
    assert timed == [(9000, "step0"), (11000, "step1")]
    assert [el.get("play_pcap_audio") for el in root.iter("exec") if el.get("play_pcap_audio")]
    byes = [m for m in messages(root) if m.startswith("BYE ")]
    assert len(byes) == 1 and "CSeq: 2 BYE" in byes[0]
