"""TransferSIPParticipant: a REFER of a SIP participant to another number.

The target (``tel:``/``sip:`` stripped to its user part) is looked up in the same
scenario table as outbound legs: ``answer``/``voicemail`` complete the transfer (the
participant leaves the room, CLIENT_INITIATED), every other outcome fails it with the
SIP error plus ``sip_transfer_reason``/``sip_transfer_id`` metadata, and the
participant stays.
"""

from __future__ import annotations

import asyncio
from typing import Final

from livekit.protocol import models as proto_models
from livekit.protocol import sip as proto_sip

from warm_transfer.livekit_sim.dialer import CALL_STATUS, SIP_KIND, Dialer, consume
from warm_transfer.livekit_sim.errors import TwirpError, invalid_argument, sip_error
from warm_transfer.livekit_sim.model import Participant, new_id
from warm_transfer.livekit_sim.scenarios import lookup, number_from_uri
from warm_transfer.livekit_sim.sip import DEFAULT_RINGING_TIMEOUT_S, duration_s, parse_failure
from warm_transfer.livekit_sim.state import SimState

Response = proto_sip.TransferSIPParticipantResponse
URI_SCHEMES: Final = ("tel:", "sip:", "sips:")


class TransferService:
    """Performs REFER transfers with the dialer's scenarios and time scale."""

    def __init__(self, state: SimState, dialer: Dialer) -> None:
        self.state = state
        self.dialer = dialer
        self._pending: dict[asyncio.Future[Response], asyncio.TimerHandle] = {}

    async def transfer(self, req: proto_sip.TransferSIPParticipantRequest) -> Response:
        """Transfers ``participant_identity`` of ``room_name`` to ``transfer_to``."""
        to = req.transfer_to
        if not to.startswith(URI_SCHEMES):
            raise invalid_argument("transfer_to", "must be a tel: or sip: URI")
        p = self.state.participant(req.room_name, req.participant_identity)
        if p.kind != SIP_KIND:
            raise TwirpError("invalid_argument", "participant is not a SIP participant")
        if p.leg is not None and p.leg.answered_at is None:
            raise TwirpError("failed_precondition", "SIP call is not answered yet")
        scenario = lookup(self.dialer.scenarios, number_from_uri(to))
        ts = self.dialer.time_scale
        timeout = duration_s(req.ringing_timeout, DEFAULT_RINGING_TIMEOUT_S) * ts
        failure = parse_failure(scenario)
        ring = scenario.ring_s * ts
        if failure is None and ring > timeout:
            failure = 408
        transfer_id = new_id("ST_")
        self.state.events.emit(
            "transfer_started",
            room=p.room,
            participant_identity=p.identity,
            transfer_to=to,
            transfer_id=transfer_id,
        )
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Response] = loop.create_future()
        done.add_done_callback(consume)
        delay = timeout if failure == 408 else ring
        self._pending[done] = loop.call_later(
            delay, self._finish, done, p, to, transfer_id, failure
        )
        # Shielded: the REFER completes even if the HTTP client stops waiting.
        return await asyncio.shield(done)

    def _finish(
        self,
        done: asyncio.Future[Response],
        p: Participant,
        to: str,
        transfer_id: str,
        failure: int | None,
    ) -> None:
        self._pending.pop(done, None)
        if done.done():
            return
        room = self.state.rooms.get(p.room)
        meta = {"sip_transfer_id": transfer_id}
        if room is None or room.participants.get(p.identity) is not p:
            meta["sip_transfer_reason"] = "STR_CALL_ENDED"
            self.state.count("transfers_failed")
            done.set_exception(TwirpError("failed_precondition", "call ended", meta))
            return
        if failure is not None:
            meta["sip_transfer_reason"] = (
                "STR_RINGING_TIMEOUT" if failure == 408 else "STR_REJECTED"
            )
            self.state.count("transfers_failed")
            self.state.events.emit(
                "transfer_failed",
                room=p.room,
                participant_identity=p.identity,
                transfer_to=to,
                sip_status_code=failure,
            )
            done.set_exception(sip_error(failure, meta))
            return
        self.state.count("transfers_ok")
        self.state.events.emit(
            "transferred", room=p.room, participant_identity=p.identity, transfer_to=to
        )
        if p.leg is not None:
            p.leg.status = "hangup"
            p.leg.end()
        if CALL_STATUS in p.attributes:
            self.state.update_attributes(p, {CALL_STATUS: "hangup"})
        self.state.leave(p, proto_models.DisconnectReason.CLIENT_INITIATED)
        done.set_result(
            Response(
                transfer_id=transfer_id,
                status=proto_sip.SIPTransferStatus.STS_TRANSFER_SUCCESSFUL,
                reason=proto_sip.SIPTransferReason.STR_COMPLETED,
                sip_status=proto_sip.SIPStatus(
                    code=proto_sip.SIPStatusCode.SIP_STATUS_OK, status="OK"
                ),
            )
        )

    def reset(self) -> None:
        """Abandons pending transfers; their callers get ``unavailable``."""
        pending, self._pending = self._pending, {}
        for done, timer in pending.items():
            timer.cancel()
            if not done.done():
                done.set_exception(TwirpError("unavailable", "server reset"))
