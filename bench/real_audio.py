"""The handoff gap on audio, for ``python -m bench --livekit real``.

Every transfer of the real bench is recorded: tcpdump on the phones' link
(`warm_transfer.realstack.audio.Capture`) from just before the transfer starts until
`AFTER_ACCEPT_S` after the accept. From the recording:

* the accept keypress: the human's phone presses 1 every 2 s (RFC 4733 events from
  its media port, `warm_transfer.realstack.dtmf.key_presses`); the one the engine
  acted on is the last whose first packet went before the workflow's
  ``human_accepted`` signal event. The direct script listens to no key: its accept is
  its own in-process clock;
* from there, the first 20 ms frame the human's phone received in which the caller's
  tone dominates (human hears caller), and the first the caller's phone received in
  which the human's tone does (caller hears human), `RUN` frames in a row.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from warm_transfer.realstack.audio import Capture, first_tone, frames, heard
from warm_transfer.realstack.dtmf import key_presses, press_before
from warm_transfer.realstack.phones import Phone
from warm_transfer.realstack.telephony import RealTelephony

ACCEPT_KEY: Final = "1"
# The recording goes on this long after the accept: the gaps are found well inside.
AFTER_ACCEPT_S: Final = 2.0
LOUD: Final = 300.0  # rms: a phone's tone, well above livekit-sip's silence (rms 3-4)
RUN: Final = 3  # frames in a row (60 ms) of the tone: the other side is heard


@dataclass(frozen=True)
class AudioGap:
    """One transfer's handoff, as each phone heard it.

    Attributes:
        since: wall clock the gaps are measured from (the accept keypress, or the
            direct script's accept).
        human_hears_caller_s: ``since`` to the human's first frame of the caller.
        caller_hears_human_s: ``since`` to the caller's first frame of the human.
        press_to_signal_s: the keypress to the ``human_accepted`` signal event in
            history (the engine only; None for the direct script).
    """

    since: float
    human_hears_caller_s: float
    caller_hears_human_s: float
    press_to_signal_s: float | None = None


@asynccontextmanager
async def recording(telephony: RealTelephony, name: str) -> AsyncIterator[Capture | None]:
    """Captures the phones' RTP into ``rtp-<name>.pcap`` inside (None without tcpdump)."""
    if not Capture.available():
        yield None
        return
    capture = Capture(telephony.real.network, telephony.workdir / f"rtp-{name}.pcap")
    await capture.start()
    try:
        yield capture
    finally:
        await capture.stop()


async def stop_recording(capture: Capture, accepted_at: float | None) -> None:
    """Stops the capture once ``AFTER_ACCEPT_S`` have passed since the accept."""
    if accepted_at is not None:
        await asyncio.sleep(max(0.0, accepted_at + AFTER_ACCEPT_S - time.time()))
    await capture.stop()


def audio_gap(
    pcap: Path, caller: Phone, human: Phone, accepted_at: float, by_key: bool
) -> AudioGap | None:
    """The gaps of one recorded transfer, or None when one side never heard the other.

    Args:
        pcap: the recording.
        caller: the caller's phone.
        human: the human's phone.
        accepted_at: the ``human_accepted`` signal event (``by_key``) or the direct
            script's accept.
        by_key: measure from the keypress that led to ``accepted_at``.
    """
    since, press_to_signal = accepted_at, None
    if by_key:
        press = press_before(key_presses(pcap, human.media_port), ACCEPT_KEY, accepted_at)
        if press is None:
            return None
        since, press_to_signal = press.at, accepted_at - press.at
    to_human = first_tone(frames(heard(pcap, human.media_port)), caller.tone_hz, since, LOUD, RUN)
    to_caller = first_tone(frames(heard(pcap, caller.media_port)), human.tone_hz, since, LOUD, RUN)
    if to_human is None or to_caller is None:
        return None
    return AudioGap(since, to_human.at - since, to_caller.at - since, press_to_signal)
