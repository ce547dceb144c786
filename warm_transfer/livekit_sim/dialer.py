"""CreateSIPParticipant: dialing simulated phones and playing out their scenarios."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any, Final

import structlog
from livekit.protocol import models as proto_models
from livekit.protocol import sip as proto_sip

from warm_transfer.livekit_sim.errors import TwirpError, invalid_argument, ring_timeout
from warm_transfer.livekit_sim.model import Dispatch, Participant, new_id
from warm_transfer.livekit_sim.scenarios import ScenarioTable, lookup
from warm_transfer.livekit_sim.sip import (
    DEFAULT_RINGING_TIMEOUT_S,
    DTMF_DIGITS,
    FAILURE_REASONS,
    RINGING_AFTER_S,
    SipLeg,
    duration_s,
    parse_failure,
)
from warm_transfer.livekit_sim.state import SimState

log = structlog.get_logger(__name__)

SIP_KIND: Final = proto_models.ParticipantInfo.SIP
CALL_STATUS: Final = "sip.callStatus"


def consume(fut: asyncio.Future[Any]) -> None:
    """Done-callback marking a future's outcome as seen (its waiter may be gone)."""
    if not fut.cancelled():
        fut.exception()


class Dialer:
    """Dials simulated phones and performs REFER transfers.

    Args:
        state: The simulated world.
        scenarios: The live scenario table (replaced by ``POST /sim/scenarios``).
        time_scale: Multiplies every scenario duration and ringing timeout.
        trunks: Known trunk ids, None accepts any non-empty id.
    """

    def __init__(
        self,
        state: SimState,
        scenarios: ScenarioTable,
        time_scale: float,
        trunks: list[str] | None,
    ) -> None:
        self.state = state
        self.scenarios = scenarios
        self.time_scale = time_scale
        self.trunks = None if trunks is None else frozenset(trunks)
        # Every leg identity ever dialed, to tell whose briefing a dispatch is.
        self._dialed: set[str] = set()

    def _later(self, leg: SipLeg, delay: float, fn: Callable[[SipLeg], None]) -> None:
        leg.timers.append(asyncio.get_running_loop().call_later(delay, fn, leg))

    # -- trunks -----------------------------------------------------------------------

    async def create_outbound_trunk(
        self, req: proto_sip.CreateSIPOutboundTrunkRequest
    ) -> proto_sip.SIPOutboundTrunkInfo:
        """Stores an outbound trunk; livekit-server wants an address and a number."""
        trunk = req.trunk
        if not trunk.address:
            raise invalid_argument("address", "is required")
        if not trunk.numbers:
            raise invalid_argument("numbers", "no trunk numbers specified")
        info = proto_sip.SIPOutboundTrunkInfo()
        info.CopyFrom(trunk)
        info.sip_trunk_id = new_id("ST_")
        if self.trunks is not None:
            self.trunks = self.trunks | {info.sip_trunk_id}
        self.state.events.emit("trunk_created", sip_trunk_id=info.sip_trunk_id)
        return info

    # -- CreateSIPParticipant ----------------------------------------------------------

    def _validate(self, req: proto_sip.CreateSIPParticipantRequest) -> str:
        number = req.sip_call_to
        if not number:
            raise invalid_argument("sip_call_to", "is required")
        if "@" in number:
            raise invalid_argument("sip_call_to", "must be a number or user, not a SIP URI")
        if not req.room_name:
            raise invalid_argument("room_name", "is required")
        trunk = req.sip_trunk_id
        if not trunk and not (req.HasField("trunk") and req.trunk.hostname):
            raise invalid_argument("sip_trunk_id", "is required")
        if trunk and self.trunks is not None and trunk not in self.trunks:
            raise TwirpError("not_found", "requested sip trunk does not exist")
        return number

    async def create(
        self, req: proto_sip.CreateSIPParticipantRequest
    ) -> proto_sip.SIPParticipantInfo:
        """Dials ``sip_call_to``; waits for the answer when ``wait_until_answered``."""
        number = self._validate(req)
        scenario = lookup(self.scenarios, number)
        call_id = new_id("SCL_")
        attrs = dict(req.participant_attributes)
        attrs.update({"sip.callID": call_id, CALL_STATUS: "dialing"})
        attrs["sip.trunkID"] = req.sip_trunk_id
        if not req.hide_phone_number:
            attrs["sip.phoneNumber"] = number
            if req.sip_number:
                attrs["sip.trunkPhoneNumber"] = req.sip_number
        identity = req.participant_identity or f"sip_{number}"
        # livekit-sip joins the room over WebRTC and publishes the leg's track before
        # it sends the INVITE (it may play a dial tone into it): the leg is ACTIVE, with
        # a track, while it is still "dialing". It subscribes to nobody until answered.
        p = self.state.join(
            req.room_name,
            identity,
            kind=SIP_KIND,
            name=req.participant_name or f"Phone {number}",
            metadata=req.participant_metadata,
            attributes=attrs,
        )
        leg = SipLeg(call_id, number, req.sip_trunk_id, scenario, p, req)
        self._dialed.add(p.identity)
        p.leg = leg
        self.state.count("sip_dialed")
        # livekit-sip publishes the leg's track before it sends the INVITE.
        self.state.publish(p)
        self.state.sip_request(p, "INVITE")
        self._status_event(leg)
        log.debug("dialing", number=number, room=req.room_name, outcome=scenario.outcome)
        self._plan(leg, duration_s(req.ringing_timeout, DEFAULT_RINGING_TIMEOUT_S))
        info = proto_sip.SIPParticipantInfo(
            participant_id=p.sid,
            participant_identity=identity,
            room_name=req.room_name,
            sip_call_id=call_id,
        )
        if req.wait_until_answered and not leg.ended:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            waiter.add_done_callback(consume)
            leg.waiters.append(waiter)
            # Shielded: the call goes on even if the HTTP client gives up waiting.
            await asyncio.shield(waiter)
        return info

    def _plan(self, leg: SipLeg, ringing_timeout: float) -> None:
        ts = self.time_scale
        timeout = ringing_timeout * ts
        ring = leg.scenario.ring_s * ts
        failure = parse_failure(leg.scenario)
        if failure != 404:
            # A bad number is refused before the phone ever rings.
            self._later(leg, min(RINGING_AFTER_S * ts, ring / 2), self._ringing)
        if failure == 408 or ring > timeout:
            self._later(leg, timeout, self._ring_timeout)
        elif failure is None:
            self._later(leg, ring, self._answer)
        else:
            self._later(leg, ring, lambda lg: self._fail(lg, failure))

    def _status_event(self, leg: SipLeg, **extra: Any) -> None:
        p = leg.participant
        self.state.events.emit(
            "call_status",
            room=p.room,
            participant_identity=p.identity,
            status=leg.status,
            number=leg.number,
            call_id=leg.call_id,
            **extra,
        )

    def _set_status(self, leg: SipLeg, status: str, **extra: Any) -> None:
        leg.status = status
        self.state.update_attributes(leg.participant, {CALL_STATUS: status})
        self._status_event(leg, **extra)

    def _ringing(self, leg: SipLeg) -> None:
        if not leg.ended and leg.status == "dialing":
            self._set_status(leg, "ringing")

    def _answer(self, leg: SipLeg) -> None:
        if leg.ended:
            return
        leg.answered_at = time.time()
        self._set_status(leg, "active")
        self.state.count("sip_answered")
        leg.resolve(None)
        ts = self.time_scale
        if leg.scenario.hangup_after_s is not None:
            self._later(leg, leg.scenario.hangup_after_s * ts, self._hangup)
        if leg.request.HasField("max_call_duration"):
            limit = duration_s(leg.request.max_call_duration, 0.0)
            if limit > 0:
                self._later(leg, limit * ts, self._hangup)
        if leg.scenario.outcome == "answer" and leg.scenario.decision is not None:
            self._arm_decision(leg)

    def answer_now(self, legs: list[Participant]) -> list[str]:
        """Picks up every ringing leg of ``legs`` now, in one go (one loop iteration:
        as close to "the same millisecond" as two phones get); returns who answered.
        A leg already answered or ended is left as it is."""
        answered = []
        for p in legs:
            leg = p.leg
            if leg is None or leg.ended or leg.answered_at is not None:
                continue
            for timer in leg.timers:  # its planned answer or failure
                timer.cancel()
            leg.timers.clear()
            self._answer(leg)
            answered.append(p.identity)
        return answered

    def _fail(self, leg: SipLeg, code: int) -> None:
        if leg.ended:
            return
        leg.sip_status_code = code
        self._set_status(leg, "hangup", sip_status_code=code)
        self.state.count("sip_failed")
        log.debug("call failed", number=leg.number, sip_status_code=code)
        leg.end(sip_code=code)
        self.state.leave(leg.participant, FAILURE_REASONS.get(code, FAILURE_REASONS[408]))

    def _ring_timeout(self, leg: SipLeg) -> None:
        """Nobody answered in time: livekit-sip CANCELs and answers without a SIP code."""
        if leg.ended:
            return
        self._set_status(leg, "hangup")
        self.state.count("sip_failed")
        log.debug("call not answered", number=leg.number)
        leg.end(error=ring_timeout())
        self.state.leave(leg.participant, FAILURE_REASONS[408])

    def _hangup(self, leg: SipLeg) -> None:
        if leg.ended:
            return
        self._set_status(leg, "hangup")
        self.state.count("sip_hangups")
        leg.end()
        self.state.leave(leg.participant, proto_models.DisconnectReason.CLIENT_INITIATED)

    # -- the briefing decision ---------------------------------------------------------

    def _arm_decision(self, leg: SipLeg) -> None:
        if leg.ended or leg.decision_digit is not None:
            return
        room = self.state.rooms.get(leg.participant.room)
        if room is not None and any(self._briefs(d, leg) for d in room.dispatches.values()):
            leg.awaiting_brief = False
            self._later(leg, leg.scenario.decide_after_s * self.time_scale, self._decide)
        else:
            leg.awaiting_brief = True

    def _briefs(self, dispatch: Dispatch, leg: SipLeg) -> bool:
        """Whether ``dispatch`` briefs ``leg``: one naming another leg (an earlier
        human's brief, still in the consultation room) is someone else's, and the room's
        default dispatch (no agent name) briefs nobody."""
        if not dispatch.agent_name:
            return False
        named = self._legs_named(dispatch.metadata)
        return not named or leg.participant.identity in named

    def _legs_named(self, metadata: str) -> set[str]:
        try:
            data = json.loads(metadata) if metadata else None
        except ValueError:
            return set()
        values = data.values() if isinstance(data, dict) else []
        return {v for v in values if isinstance(v, str) and v in self._dialed}

    def brief_started(self, room_name: str) -> None:
        """A dispatch appeared in ``room_name`` (or a leg moved there): start decisions."""
        room = self.state.rooms.get(room_name)
        if room is None:
            return
        for p in room.participants.values():
            if p.leg is not None and p.leg.awaiting_brief:
                self._arm_decision(p.leg)

    def hang_up(self, p: Participant) -> None:
        """The participant leaves on its own (e.g. the caller hangs up): CLIENT_INITIATED."""
        if p.leg is not None and not p.leg.ended:
            self._hangup(p.leg)
            return
        if CALL_STATUS in p.attributes:
            self.state.update_attributes(p, {CALL_STATUS: "hangup"})
        self.state.leave(p, proto_models.DisconnectReason.CLIENT_INITIATED)

    def _decide(self, leg: SipLeg) -> None:
        decision = leg.scenario.decision
        if leg.ended or decision is None or leg.decision_digit is not None:
            return
        digit = DTMF_DIGITS[decision]
        leg.decision_digit = digit
        p = leg.participant
        self.state.count("sip_dtmf")
        self.state.events.emit(
            "sip_dtmf", room=p.room, participant_identity=p.identity, digit=digit
        )
