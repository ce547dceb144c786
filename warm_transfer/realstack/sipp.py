"""Real SIP phones: sipp user agents, each playing one behaviour, and what they logged.

Every phone is one ``sipp`` process (Debian's ``sip-tester``) answering on its own
port with a scenario rendered from a :class:`PhoneBehaviour`: ring for a while (a
CANCEL stops it), then answer or reject with a SIP status; once answered, press keys
(RFC 2833 events, `warm_transfer.realstack.dtmf`), hang up, or take a REFER. sipp logs every
SIP message it sends and receives; :func:`read_phone_log` turns that log into the
evidence the tests assert on: one INVITE per dial, a CANCEL or BYE for every leg.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from warm_transfer.realstack.phonelog import PhoneLog, PhoneLogReader, read_phone_log

__all__ = [
    "HANGUP_HEADER",
    "REFER_ANSWER_PAUSE",
    "REPLY_HEADERS",
    "SDP",
    "PhoneBehaviour",
    "PhoneLog",
    "PhoneLogReader",
    "read_phone_log",
    "render_scenario",
    "timed_steps",
]

# The caller phone hangs up this long after answering when the INVITE carries it.
HANGUP_HEADER: Final = "X-Hangup-After-Ms"

_REASONS: Final = {
    404: "Not Found",
    408: "Request Timeout",
    480: "Temporarily Unavailable",
    486: "Busy Here",
    600: "Busy Everywhere",
    603: "Decline",
}


@dataclass(frozen=True)
class PhoneBehaviour:
    """What a phone does with each call it gets.

    Attributes:
        ring_ms: how long it rings before the final answer; None rings until CANCEL,
            0 answers at once without ringing (no 180: a carrier refusing a bad number).
        status: the final answer: 200 picks up, anything else rejects with that code.
        presses: keys pressed after answering, as (milliseconds after the answer, key).
        hangup_after_ms: hangs up (BYE) this long after answering; None never does.
        accepts_refer: answers a REFER with 202 and a NOTIFY ``200 OK`` (a transfer).
        hangup_from_header: hangs up after the INVITE's ``X-Hangup-After-Ms``, if any.
        audio_wav: a G.711 mu-law WAV it plays, looped, while the call is up.
        presses_pcap: the presses as one capture (`write_dtmf_pcap`), played from the
            first press on; without it no key is pressed.
    """

    ring_ms: int | None = 300
    status: int = 200
    presses: tuple[tuple[int, str], ...] = ()
    hangup_after_ms: int | None = None
    accepts_refer: bool = False
    hangup_from_header: bool = False
    audio_wav: Path | None = None
    presses_pcap: Path | None = None


# A reply inside the dialog: the request's own headers back, the To with its tag.
REPLY_HEADERS: Final = "[last_Via:]\n[last_From:]\n[last_To:]\n[last_Call-ID:]\n[last_CSeq:]"
# A phone takes this long to answer a REFER. sipp on the next hop answered within 0.1 ms,
# inside livekit-sip's (sipgo's) client transaction set-up: a final answer that lands
# between its write of the REFER and its start of timer K deletes the transaction at
# once, and livekit-sip then read "transaction failed to complete (0 intermediate
# responses)" instead of the 202 about half the time (the REFER failed 2 make test runs
# in ~10). Real phones are a network away.
REFER_ANSWER_PAUSE: Final = '  <pause milliseconds="20"/>\n'

_UAS_HEADERS: Final = """[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>"""

SDP: Final = """v=0
o=phone 1 1 IN IP[local_ip_type] [local_ip]
s=phone
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
a=sendrecv"""


# RFC 3261 T1: a final answer to an INVITE, and a request the phone sends, are sent
# again (T1, 2*T1, ...) until the next message arrives, as a phone does on UDP: on a
# lossy path a lost 200 OK would otherwise leave livekit-sip waiting for it forever.
_T1_MS: Final = 500


def _send(text: str, retrans: bool = False) -> str:
    if retrans:
        return f'  <send retrans="{_T1_MS}"><![CDATA[\n{text}\n]]></send>\n'
    return f"  <send><![CDATA[\n{text}\n]]></send>\n"


def _reply(status: int, reason: str, body: str = "", retrans: bool = False) -> str:
    length = "Content-Length: [len]"
    if body:
        return _send(
            f"SIP/2.0 {status} {reason}\n{_UAS_HEADERS}\nContent-Type: application/sdp\n"
            f"{length}\n\n{body}",
            retrans,
        )
    return _send(f"SIP/2.0 {status} {reason}\n{_UAS_HEADERS}\n{length}\n", retrans)


def _in_dialog_reply(status: int, reason: str) -> str:
    """The answer to a request inside the call (BYE, REFER): its To already carries the
    phone's tag, copied as it came (a second tag made the To two tags long)."""
    return _send(f"SIP/2.0 {status} {reason}\n{REPLY_HEADERS}\nContent-Length: [len]\n")


def _request(method: str, extra: str = "", body: str = "") -> str:
    """An in-dialog request from the phone (it answered, so its To is the From)."""
    head = (
        f"{method} [$target] SIP/2.0\n"
        "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n"
        "From: [$local]\nTo: [$remote]\n[last_Call-ID:]\n"
        f"CSeq: [cseq] {method}\nContact: <sip:[local_ip]:[local_port];transport=[transport]>\n"
        "Max-Forwards: 70\n"
    )
    text = f"{head}{extra}Content-Length: [len]\n\n{body}".rstrip("\n") + "\n"
    return _send(text, retrans=True)


def render_scenario(b: PhoneBehaviour) -> str:
    """The sipp XML scenario of one phone behaviour."""
    out = ['<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="phone">\n']
    # sipp refuses a scenario with a variable it sets and never reads: ask only for
    # what this behaviour uses.
    out.append(
        '  <recv request="INVITE" crlf="true"><action>\n'
        '    <ereg regexp=".*" search_in="hdr" header="CSeq:" assign_to="invite_cseq"/>\n'
    )
    if b.status == 200:
        # Where in-dialog requests from the phone (BYE, NOTIFY) go: the INVITE's Contact.
        out.append(
            '    <ereg regexp="sip:[^>;]*" search_in="hdr" header="Contact:" assign_to="target"/>\n'
        )
    if b.hangup_from_header:
        out.append(
            f'    <ereg regexp="[0-9]+" search_in="hdr" header="{HANGUP_HEADER}:" '
            'check_it="false" assign_to="hangup_header"/>\n'
            '    <todouble assign_to="hangup_ms" variable="hangup_header"/>\n'
        )
    out.append("  </action></recv>\n")
    out.append(_reply(100, "Trying"))
    if b.ring_ms != 0:
        out.append(_reply(180, "Ringing"))
    if b.ring_ms is None:
        out.append('  <recv request="CANCEL" next="cancelled"/>\n')
    else:
        out.append(
            f'  <recv request="CANCEL" timeout="{max(1, b.ring_ms)}" ontimeout="answer" '
            'next="cancelled"/>\n  <label id="answer"/>\n'
        )
    if b.status != 200:
        out.append(_reply(b.status, _REASONS.get(b.status, "Rejected"), retrans=True))
        out.append('  <recv request="ACK" next="end"/>\n')
    else:
        out.extend(_answered(b))
    out.append(_cancelled())
    out.append('  <label id="end"/>\n</scenario>\n')
    return "".join(out)


def _answered(b: PhoneBehaviour) -> list[str]:
    out = [_reply(200, "OK", SDP, retrans=True)]
    # Our dialog identity, for requests the phone sends: From is the ACK's To.
    out.append(
        '  <recv request="ACK"><action>\n'
        '    <ereg regexp=".*" search_in="hdr" header="To:" assign_to="local"/>\n'
        '    <ereg regexp=".*" search_in="hdr" header="From:" assign_to="remote"/>\n'
    )
    if b.audio_wav is not None:
        out.append(f'    <exec rtp_stream="{b.audio_wav},-1,0"/>\n')
    out.append("  </action></recv>\n")
    first_press = b.presses[0][0] if b.presses else None
    out.extend(timed_steps(first_press, b.presses_pcap, b.hangup_after_ms))
    if b.hangup_from_header:
        out.append(
            '  <nop><action><test assign_to="timed" variable="hangup_ms" '
            'compare="greater_than" value="0"/></action></nop>\n'
            '  <nop next="timed_hangup" test="timed"/>\n'
        )
    if b.accepts_refer:
        out.append('  <recv request="REFER" optional="true" next="refer"/>\n')
    out.append('  <recv request="BYE" next="bye"/>\n')
    if b.hangup_from_header:
        out.append(
            '  <label id="timed_hangup"/>\n  <pause variable="hangup_ms"/>\n'
            '  <nop next="hangup"/>\n'
        )
    if b.accepts_refer:
        out.append('  <label id="refer"/>\n')
        out.append(REFER_ANSWER_PAUSE)
        out.append(_in_dialog_reply(202, "Accepted"))
        notify = (
            "Event: refer\nSubscription-State: terminated;reason=noresource\n"
            "Content-Type: message/sipfrag\n"
        )
        out.append(_request("NOTIFY", notify, "SIP/2.0 200 OK\n"))
        out.append('  <recv response="200"/>\n')
        # A phone that took the transfer leaves this call; LiveKit may beat it to it.
        out.append('  <recv request="BYE" timeout="300" ontimeout="hangup" next="bye"/>\n')
    out.append('  <label id="hangup"/>\n')
    out.append(_request("BYE"))
    out.append('  <recv response="200" next="end"/>\n')
    out.append('  <label id="bye"/>\n')
    out.append(_in_dialog_reply(200, "OK"))
    out.append('  <nop next="end"/>\n')
    return out


def timed_steps(
    first_press_ms: int | None, presses_pcap: Path | None, hangup_after_ms: int | None
) -> list[str]:
    """What an answered phone does on its own, in time order (a BYE from the other side
    first ends the call either way): play its key presses from ``first_press_ms`` after
    the answer on, and hang up ``hangup_after_ms`` after it. Jumps to the scenario's
    ``bye`` and ``hangup`` labels."""
    steps: list[tuple[int, str]] = []
    if first_press_ms is not None and presses_pcap is not None:
        steps.append((first_press_ms, "press"))
    if hangup_after_ms is not None:
        steps.append((hangup_after_ms, "hangup"))
    out, waited = [], 0
    for index, (at, what) in enumerate(sorted(steps)):
        out.append(
            f'  <recv request="BYE" timeout="{max(1, at - waited)}" ontimeout="step{index}" '
            f'next="bye"/>\n  <label id="step{index}"/>\n'
        )
        waited = max(waited, at)
        if what == "hangup":
            out.append('  <nop next="hangup"/>\n')
        else:
            out.append(f'  <nop><action><exec play_pcap_audio="{presses_pcap}"/></action></nop>\n')
    return out


def _cancelled() -> str:
    # 200 for the CANCEL, then 487 for the INVITE it cancels (RFC 3261 9.2).
    ok = _reply(200, "OK")
    terminated = _send(
        "SIP/2.0 487 Request Terminated\n[last_Via:]\n[last_From:]\n"
        "[last_To:];tag=[pid]SIPpTag[call_number]\n[last_Call-ID:]\nCSeq: [$invite_cseq]\n"
        "Content-Length: 0\n",
        retrans=True,
    )
    return f'  <label id="cancelled"/>\n{ok}{terminated}  <recv request="ACK" next="end"/>\n'
