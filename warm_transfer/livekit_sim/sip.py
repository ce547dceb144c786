"""An outbound SIP leg: its scenario, state, timers and whoever waits for the answer.

Timeline of a leg: the participant joins at once (ACTIVE, ``sip.callStatus`` =
``dialing``, participant_joined fires while the phone still rings) and publishes its
audio track, as livekit-sip does before the INVITE (tests/conformance/real.json); it
hears nobody until answered. ``ringing`` follows shortly, then per scenario either
answered (``active``) or failed (``hangup``, then it leaves with USER_UNAVAILABLE,
USER_REJECTED or SIP_TRUNK_FAILURE). Every delay is a ``loop.call_later`` timer, so
10,000 ringing legs cost timer handles, not tasks. The dialing itself is in ``dialer``.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Final

from livekit.protocol import models as proto_models
from livekit.protocol import sip as proto_sip

from warm_transfer.livekit_sim.errors import TwirpError, sip_error
from warm_transfer.livekit_sim.model import Participant
from warm_transfer.livekit_sim.scenarios import FAILURE_SIP_CODES, Scenario

Reason = proto_models.DisconnectReason

# How the far end's failure shows in the participant's disconnect reason.
FAILURE_REASONS: Final[dict[int, int]] = {
    486: Reason.USER_UNAVAILABLE,
    408: Reason.USER_UNAVAILABLE,
    480: Reason.USER_UNAVAILABLE,
    603: Reason.USER_REJECTED,
    404: Reason.SIP_TRUNK_FAILURE,
}
# LiveKit's default ringing timeout when the request sets none.
DEFAULT_RINGING_TIMEOUT_S: Final = 30.0
# Real seconds between "dialing" and "ringing" (before time_scale).
RINGING_AFTER_S: Final = 0.1
DTMF_DIGITS: Final = {"accept": "1", "decline": "2"}


def duration_s(d: Any, default: float) -> float:
    """Seconds of a ``google.protobuf.Duration`` field, ``default`` when unset/zero."""
    seconds = float(d.seconds) + d.nanos / 1e9
    return seconds if seconds > 0 else default


@dataclass(slots=True, eq=False)
class SipLeg:
    """One outbound call: its scenario, timers and whoever waits for the answer."""

    call_id: str
    number: str
    trunk_id: str
    scenario: Scenario
    participant: Participant
    request: proto_sip.CreateSIPParticipantRequest
    dialed_at: float = field(default_factory=time.time)
    answered_at: float | None = None
    status: str = "dialing"
    sip_status_code: int | None = None
    awaiting_brief: bool = False
    decision_digit: str | None = None
    ended: bool = False
    timers: list[asyncio.TimerHandle] = field(default_factory=list)
    waiters: list[asyncio.Future[None]] = field(default_factory=list)

    def on_removed(self, reason: int) -> None:
        """The participant left the room: stop the timeline; waiters get 487."""
        self.end(sip_code=487)

    def end(self, sip_code: int | None = None, error: TwirpError | None = None) -> None:
        """Stops every timer; a pending wait fails with ``error``, else ``sip_code``."""
        if self.ended:
            return
        self.ended = True
        for timer in self.timers:
            timer.cancel()
        self.timers.clear()
        self.awaiting_brief = False
        if error is not None or sip_code is not None:
            self.resolve(sip_code, error)

    def resolve(self, sip_code: int | None, error: TwirpError | None = None) -> None:
        """Answers whoever waits for the call: None = answered, else the failure."""
        for waiter in self.waiters:
            if waiter.done():
                continue
            if error is not None:
                waiter.set_exception(error)
            elif sip_code is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(sip_error(sip_code))
        self.waiters.clear()

    def snapshot(self) -> dict[str, Any]:
        """Plain-data view of the call for ``GET /sim/state``."""
        req = self.request
        return {
            "call_id": self.call_id,
            "number": self.number,
            "trunk_id": self.trunk_id,
            "sip_number": req.sip_number,
            "status": self.status,
            "sip_status_code": self.sip_status_code,
            "outcome": self.scenario.outcome,
            "dialed_at": self.dialed_at,
            "answered_at": self.answered_at,
            "dtmf": req.dtmf,
            "play_ringtone": req.play_ringtone,
            "play_dialtone": req.play_dialtone,
            "headers": dict(req.headers),
            "wait_until_answered": req.wait_until_answered,
            "decision_digit": self.decision_digit,
        }


def parse_failure(scenario: Scenario) -> int | None:
    """The SIP failure a scenario ends in, None when it answers."""
    return None if scenario.answers else FAILURE_SIP_CODES[scenario.outcome]
