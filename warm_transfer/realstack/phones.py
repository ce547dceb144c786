"""The phone book of the real stack: one sipp phone per behaviour, one trunk per phone.

The numbers are the stand-in's (:mod:`warm_transfer.livekit_sim.scenarios`), so a
story written for one LiveKit runs on the other: on the real stack each number is a
phone of its own behind an outbound trunk of its own (trunks are real objects: an
address and at least one number), and a destination names that trunk.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from warm_transfer.realstack.dtmf import write_dtmf_pcap
from warm_transfer.realstack.netns import Network
from warm_transfer.realstack.sipp import (
    PhoneBehaviour,
    render_scenario,
)
from warm_transfer.realstack.sipp_process import SippProcess
from warm_transfer.realstack.tones import write_tone_wav

# When a human presses a key, in ms after answering: from 3 s on (the briefing agent is
# dispatched and joins about a second after the answer), then every 2 s for a minute,
# so a press that beat a slow briefing agent is followed by one it hears. A press after
# the decision changes nothing: the agent has left, the engine ignores a second one.
_PRESS_AT: Final = tuple(range(3000, 61000, 2000))
# The human who listens to the whole brief first (the brief-audio test): from 9 s on.
_PRESS_LATE_AT: Final = tuple(range(9000, 61000, 2000))
CALLER_NUMBER: Final = "+15105550123"
TRUNK_NUMBER: Final = "+15105550000"


@dataclass(frozen=True)
class PhoneSpec:
    """A phone of the book: its number, behaviour and what it is for."""

    number: str
    behaviour: PhoneBehaviour
    description: str


def _press(key: str) -> tuple[tuple[int, str], ...]:
    return tuple((at, key) for at in _PRESS_AT)


PHONE_BOOK: Final[dict[str, PhoneSpec]] = {
    spec.number: spec
    for spec in (
        PhoneSpec(
            CALLER_NUMBER,
            PhoneBehaviour(ring_ms=100, accepts_refer=True, hangup_from_header=True),
            "the caller",
        ),
        PhoneSpec(
            "+15105550100",
            PhoneBehaviour(ring_ms=600, presses=_press("1")),
            "answers, presses 1 (accept)",
        ),
        PhoneSpec("+15105550101", PhoneBehaviour(ring_ms=300, status=486), "486 Busy Here"),
        PhoneSpec("+15105550102", PhoneBehaviour(ring_ms=None), "rings, never answers"),
        PhoneSpec(
            "+15105550103",
            PhoneBehaviour(ring_ms=600, presses=_press("2")),
            "answers, presses 2 (decline)",
        ),
        PhoneSpec(
            "+15105550104", PhoneBehaviour(ring_ms=0, status=404), "404 Not Found, never rings"
        ),
        PhoneSpec(
            "+15105550105",
            PhoneBehaviour(ring_ms=600, hangup_after_ms=2000),
            "answers, hangs up after 2 s",
        ),
        PhoneSpec("+15105550106", PhoneBehaviour(ring_ms=1000, status=603), "603 Decline"),
        PhoneSpec(
            "+15105550107", PhoneBehaviour(ring_ms=300, status=480), "480 Temporarily Unavailable"
        ),
        PhoneSpec(
            "+15105550108",
            PhoneBehaviour(ring_ms=6000, presses=_press("1")),
            "rings 6 s, answers, presses 1",
        ),
        PhoneSpec(
            "+15105550198",
            PhoneBehaviour(ring_ms=300, accepts_refer=True),
            "answers, takes a REFER",
        ),
        PhoneSpec("+15105550199", PhoneBehaviour(ring_ms=1500), "voicemail: answers, no key"),
        PhoneSpec(
            "+15105550109",
            PhoneBehaviour(ring_ms=600, presses=tuple((at, "1") for at in _PRESS_LATE_AT)),
            "answers, listens, presses 1 from 9 s on",
        ),
    )
}


class Phone(SippProcess):
    """One running sipp phone, answering on its own port."""

    def __init__(self, spec: PhoneSpec, index: int, net: Network, workdir: Path) -> None:
        number = spec.number.lstrip("+")
        super().__init__(net, 5100 + index, 16000 + 10 * index, workdir / f"phone-{number}.log")
        self.spec = spec
        self.tone_hz = 400 + 100 * index  # what this phone says, to tell it apart
        self.scenario = workdir / f"phone-{number}.xml"
        self.trunk_id = ""

    @property
    def address(self) -> str:
        """host:port the phone's trunk dials."""
        return f"{self.net.phones_ip}:{self.port}"

    async def start(self) -> None:
        """Starts sipp answering on the phone's port."""
        wav = write_tone_wav(self.scenario.with_suffix(".wav"), self.tone_hz)
        pcap = write_dtmf_pcap(self.scenario.with_suffix(".pcap"), self.spec.behaviour.presses)
        behaviour = dataclasses.replace(self.spec.behaviour, audio_wav=wav, presses_pcap=pcap)
        self.scenario.write_text(render_scenario(behaviour))
        await self._run_sipp(["-sf", str(self.scenario)])


def open_phones(net: Network, workdir: Path) -> dict[str, Phone]:
    """A phone per number of the book (not started)."""
    return {
        number: Phone(spec, index, net, workdir)
        for index, (number, spec) in enumerate(PHONE_BOOK.items())
    }
