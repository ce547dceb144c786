"""Twirp errors as LiveKit answers them, and the SIP-status-to-Twirp-code table.

LiveKit's server turns a failed SIP call into a gRPC status (``livekit.SIPStatus.GRPCStatus``
in livekit/protocol ``livekit/sip.go``) and then into a Twirp error
(``utils/xtwirp.ToError``), adding the SIP code and reason as error metadata
(``sip_status_code``, ``sip_status``). The table below mirrors that mapping, so the
stand-in answers with the same Twirp code and HTTP status as LiveKit for each SIP result.
"""

from __future__ import annotations

from typing import Final

# Twirp error code -> HTTP status (twitchtv/twirp ServerHTTPStatusFromErrorCode).
TWIRP_HTTP_STATUS: Final[dict[str, int]] = {
    "canceled": 408,
    "unknown": 500,
    "invalid_argument": 400,
    "malformed": 400,
    "deadline_exceeded": 504,
    "not_found": 404,
    "bad_route": 404,
    "already_exists": 409,
    "permission_denied": 403,
    "unauthenticated": 401,
    "resource_exhausted": 429,
    "failed_precondition": 412,
    "aborted": 409,
    "out_of_range": 400,
    "unimplemented": 501,
    "internal": 500,
    "unavailable": 503,
    "dataloss": 500,
}

# Reason phrases the simulated far end answers with.
SIP_REASONS: Final[dict[int, str]] = {
    200: "OK",
    404: "Not Found",
    408: "Request Timeout",
    480: "Temporarily Unavailable",
    486: "Busy Here",
    487: "Request Terminated",
    603: "Decline",
}

# SIP final response -> Twirp code, as livekit/protocol's sipCodeToGRPCCode maps it.
SIP_TWIRP_CODES: Final[dict[int, str]] = {
    400: "invalid_argument",
    401: "permission_denied",
    402: "permission_denied",
    403: "permission_denied",
    404: "not_found",
    407: "unauthenticated",
    408: "deadline_exceeded",
    410: "not_found",
    480: "resource_exhausted",
    481: "not_found",
    484: "invalid_argument",
    485: "invalid_argument",
    486: "resource_exhausted",
    487: "aborted",
    488: "invalid_argument",
    500: "failed_precondition",
    501: "failed_precondition",
    502: "failed_precondition",
    503: "failed_precondition",
    504: "deadline_exceeded",
    600: "resource_exhausted",
    603: "permission_denied",
    604: "not_found",
    606: "invalid_argument",
    607: "permission_denied",
    608: "permission_denied",
}


class TwirpError(Exception):
    """An error answered to a Twirp call: ``{"code", "msg", "meta"}`` with Twirp's status.

    Args:
        code: Twirp error code, e.g. ``"not_found"``.
        msg: Human readable message.
        meta: Optional string metadata (LiveKit puts SIP details here).
    """

    def __init__(self, code: str, msg: str, meta: dict[str, str] | None = None) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.meta = dict(meta or {})

    @property
    def status(self) -> int:
        """The HTTP status Twirp uses for this code."""
        return TWIRP_HTTP_STATUS.get(self.code, 500)

    def body(self) -> dict[str, object]:
        """The JSON body of the error, exactly as Twirp writes it."""
        out: dict[str, object] = {"code": self.code, "msg": self.msg}
        if self.meta:
            out["meta"] = self.meta
        return out


def sip_reason(code: int) -> str:
    """The reason phrase for a SIP status code."""
    return SIP_REASONS.get(code, f"SIP {code}")


def sip_twirp_code(code: int) -> str:
    """The Twirp code LiveKit answers for a SIP final response ``code``."""
    # Codes missing from LiveKit's table end up invalid_argument there as well.
    return SIP_TWIRP_CODES.get(code, "invalid_argument")


def sip_error(code: int, extra_meta: dict[str, str] | None = None) -> TwirpError:
    """A failed SIP call as LiveKit reports it.

    Args:
        code: The SIP final response code, e.g. 486.
        extra_meta: More metadata, e.g. ``sip_transfer_reason`` for a failed REFER.
    """
    reason = sip_reason(code)
    meta = {"sip_status_code": str(code), "sip_status": reason}
    meta.update(extra_meta or {})
    return TwirpError(sip_twirp_code(code), f"sip status {code}: {reason}", meta)


def ring_timeout() -> TwirpError:
    """A dial nobody answered within ``ringing_timeout``, as livekit-sip reports it:
    ``canceled`` "sip request timed out", with no SIP status (it sent the CANCEL)."""
    return TwirpError("canceled", "sip request timed out")


def no_response() -> TwirpError:
    """Self-hosted livekit-server's answer to a participant call it routes nowhere."""
    return TwirpError("unavailable", "no response from servers")


def not_found(what: str) -> TwirpError:
    """A ``not_found`` error naming what is missing."""
    return TwirpError("not_found", f"{what} not found")


def invalid_argument(field: str, why: str) -> TwirpError:
    """An ``invalid_argument`` error naming the field, like Twirp's InvalidArgumentError."""
    return TwirpError("invalid_argument", f"{field} {why}", {"argument": field})
