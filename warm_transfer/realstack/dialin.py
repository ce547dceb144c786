"""A caller who phones in: a sipp user agent client calling the support line.

The real stack's inbound path is the one a deployment has: the caller's phone sends an
INVITE to livekit-sip for the support line's number, livekit-server matches it to the
inbound trunk (`SUPPORT_LINE`) and the dispatch rule, which puts the call in a room of
its own and dispatches the voice agent there. Nobody creates the caller by hand.

One `DialInPhone` is one call: a sipp process (``-m 1``) on a port of its own that
calls, plays its tone once answered, presses its keys (RFC 2833, at times after the
answer), answers a BYE or a REFER from LiveKit, and hangs up itself when told to. Its
INVITE carries ``X-Call-Tag`` (the inbound trunk makes it the caller's attribute
`CALL_TAG_ATTRIBUTE`, how the harness finds the call's room) and any other ``X-``
headers given (`TRANSFER_PLAN_HEADER`: what the voice agent's transfer tool dials).
"""

from __future__ import annotations

import base64
import itertools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pydantic import BaseModel, Field

from warm_transfer.models import BridgeStrategy, Destination, Fallback
from warm_transfer.realstack.dtmf import write_dtmf_pcap
from warm_transfer.realstack.netns import Network
from warm_transfer.realstack.servers import SIP_PORT
from warm_transfer.realstack.sipp import REFER_ANSWER_PAUSE, REPLY_HEADERS, SDP, timed_steps
from warm_transfer.realstack.sipp_process import SippProcess
from warm_transfer.realstack.tones import write_tone_wav

SUPPORT_LINE: Final = "+15105550001"  # the number callers dial: the inbound trunk's
CALL_TAG_HEADER: Final = "X-Call-Tag"
CALL_TAG_ATTRIBUTE: Final = "harness.call_tag"
TRANSFER_PLAN_HEADER: Final = "X-Transfer-Plan"
TRANSFER_PLAN_ATTRIBUTE: Final = "warm_transfer.plan"
_T1_MS: Final = 500  # RFC 3261 T1: the INVITE and the BYE are sent again until answered
_SLOTS = itertools.count()  # a port pair per dial-in call of this process

_SDP: Final = SDP.replace("o=phone", "o=caller").replace("s=phone", "s=caller")

_DIALOG: Final = """From: <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]DialIn[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]"""


class TransferPlan(BaseModel):
    """What the voice agent's transfer tool dials for one caller (`TRANSFER_PLAN_HEADER`).

    A deployment configures its voice agent's hunt list once; the harness gives each
    call its own, in the caller's INVITE, so one voice agent worker serves every test.
    """

    destinations: list[Destination] = Field(min_length=1)
    fallback: Fallback = Field(default_factory=Fallback)
    bridge: BridgeStrategy | None = None
    accept_timeout_s: float = 60.0
    summary: str

    def header(self) -> str:
        """As a SIP header value (base64url JSON: no commas or quotes to misparse)."""
        plan = self.model_dump_json(exclude_defaults=True).encode()
        return base64.urlsafe_b64encode(plan).decode()

    @classmethod
    def from_header(cls, value: str) -> TransferPlan:
        """The plan a caller's attribute carries.

        Raises:
            ValueError: not a plan.
        """
        return cls.model_validate_json(base64.urlsafe_b64decode(value.encode()))


@dataclass(frozen=True)
class DialIn:
    """What one caller does.

    Attributes:
        number: the caller's number (its From).
        tone_hz: the tone it says, once answered.
        presses: keys it presses, as (ms after the answer, key).
        hangup_after_ms: hangs up this long after the answer (None: waits for LiveKit).
        headers: ``X-`` headers of its INVITE (the call tag included).
    """

    number: str
    tone_hz: int
    presses: tuple[tuple[int, str], ...] = ()
    hangup_after_ms: int | None = None
    headers: tuple[tuple[str, str], ...] = ()


def render_dial_in_scenario(call: DialIn, tone_wav: Path, presses_pcap: Path | None) -> str:
    """The sipp XML scenario of one call into the support line."""
    extra = "".join(f"{name}: {value}\n" for name, value in call.headers)
    invite = (
        "INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0\n"
        "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n"
        f"{_DIALOG}\nCSeq: 1 INVITE\n"
        "Contact: <sip:[caller]@[local_ip]:[local_port];transport=[transport]>\n"
        f"Max-Forwards: 70\n{extra}Content-Type: application/sdp\nContent-Length: [len]\n\n{_SDP}"
    )
    ack = (
        "ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0\n"
        "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n"
        f"{_DIALOG}\nCSeq: 1 ACK\nMax-Forwards: 70\nContent-Length: 0\n"
    )
    notify = (
        "NOTIFY sip:[service]@[remote_ip]:[remote_port] SIP/2.0\n"
        "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n"
        f"{_DIALOG}\nCSeq: 3 NOTIFY\nMax-Forwards: 70\nEvent: refer\n"
        "Subscription-State: terminated;reason=noresource\nContent-Type: message/sipfrag\n"
        "Content-Length: [len]\n\nSIP/2.0 200 OK\n"
    )
    bye = (
        "BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0\n"
        "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n"
        f"{_DIALOG}\nCSeq: 2 BYE\nMax-Forwards: 70\nContent-Length: 0\n"
    )
    out = [
        '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="dial-in">\n',
        f'  <send retrans="{_T1_MS}"><![CDATA[\n{invite}\n]]></send>\n',
        '  <recv response="100" optional="true"/>\n',
        '  <recv response="180" optional="true"/>\n',
        '  <recv response="183" optional="true"/>\n',
        '  <recv response="200" rrs="true"/>\n',
        f"  <send><![CDATA[\n{ack}\n]]></send>\n",
        f'  <nop><action><exec rtp_stream="{tone_wav},-1,0"/></action></nop>\n',
    ]
    first_press = call.presses[0][0] if call.presses else None
    out.extend(timed_steps(first_press, presses_pcap, call.hangup_after_ms))
    out.append('  <recv request="REFER" optional="true" next="refer"/>\n')
    out.append('  <recv request="BYE" next="bye"/>\n')
    out.append('  <label id="refer"/>\n')
    out.append(REFER_ANSWER_PAUSE)
    out.append(_reply("202 Accepted"))
    # The transfer taken (a phone would now call the REFER's target): LiveKit hangs up.
    out.append(f'  <send retrans="{_T1_MS}"><![CDATA[\n{notify}\n]]></send>\n')
    out.append('  <recv response="200"/>\n')
    out.append('  <recv request="BYE" timeout="300000" ontimeout="hangup" next="bye"/>\n')
    out.append('  <label id="hangup"/>\n')
    out.append(f'  <send retrans="{_T1_MS}"><![CDATA[\n{bye}\n]]></send>\n')
    out.append('  <recv response="200" next="end"/>\n')
    out.append('  <label id="bye"/>\n')
    out.append(_reply("200 OK"))
    out.append('  <label id="end"/>\n</scenario>\n')
    return "".join(out)


def _reply(status: str) -> str:
    reply = f"SIP/2.0 {status}\n{REPLY_HEADERS}\nContent-Length: 0\n"
    return f"  <send><![CDATA[\n{reply}\n]]></send>\n"


class DialInPhone(SippProcess):
    """One running call into the support line (a sipp client).

    Args:
        call: what the caller does.
        net: the stack's network (the phone runs in the phones' namespace).
        workdir: the scenario, the tone and the phone's logs go here.
    """

    def __init__(self, call: DialIn, net: Network, workdir: Path) -> None:
        slot = next(_SLOTS) % 50
        stem = f"dial-in-{slot}-{os.getpid()}"
        super().__init__(net, 5300 + slot, 17000 + 10 * slot, workdir / f"{stem}.log")
        self.call = call
        self.scenario = workdir / f"{stem}.xml"

    @property
    def tone_hz(self) -> int:
        """The tone the caller says."""
        return self.call.tone_hz

    async def start(self) -> None:
        """Calls the support line (returns once sipp is started, not answered)."""
        wav = write_tone_wav(self.scenario.with_suffix(".wav"), self.call.tone_hz)
        pcap = None
        if self.call.presses:
            pcap = write_dtmf_pcap(self.scenario.with_suffix(".pcap"), self.call.presses)
        self.scenario.write_text(render_dial_in_scenario(self.call, wav, pcap))
        cmd = [f"{self.net.sip_ip}:{SIP_PORT}", "-sf", str(self.scenario), "-m", "1"]
        cmd += ["-s", SUPPORT_LINE, "-key", "caller", self.call.number]
        await self._run_sipp(cmd)

    def ended(self) -> bool:
        """True when the call is over: a BYE either way, or refused (a final answer of
        300 or more)."""
        for _, direction, what, _ in self.read_log().timeline:
            if what == "BYE" or (direction == "received" and what.isdigit() and int(what) >= 300):
                return True
        return False

    def failure(self) -> str:
        """What sipp said when it failed (its error file and output)."""
        texts = []
        for suffix in (".err", ".out"):
            path = self.log_path.with_suffix(suffix)
            if path.exists():
                texts.append(path.read_text(errors="replace")[-2000:])
        return "\n".join(texts) or "no output"
