"""The engine's data: the public JSON contract and the activities' inputs and outputs.

Every model here crosses a process boundary (a voice agent's start request, a signal,
an activity call), so each is strict about what it accepts and names the offending
field when it refuses something. Field names are the contract (../CONTRACT.md): add
optional fields, never rename or remove one.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

Stage = Literal["holding", "dialing", "briefing", "bridging", "fallback", "done"]
OutcomeKind = Literal[
    "connected", "voicemail", "cold_transferred", "returned_to_agent", "caller_hung_up"
]
AttemptResult = Literal["answered", "no_answer", "busy", "declined", "failed"]
FallbackKind = Literal["voicemail", "cold_transfer", "return_to_agent"]
BridgeStrategy = Literal["move", "same_room", "auto"]

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
# A user part the trunk routes: an extension, a queue name, a short code.
_USER_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~*#-]{0,63}$")
_VISUAL_SEPARATORS = re.compile(r"[\s().-]")
_SIP_URI = re.compile(r"^sips?:[^@\s;]+@[A-Za-z0-9.-]+(:[0-9]{1,5})?(;[^\s]*)?$")
_HEADER_NAME = re.compile(r"^X-[A-Za-z0-9-]{1,64}$")
_DTMF = re.compile(r"^[0-9*#wW]{1,64}$")
_NAME = re.compile(r"^[^\x00-\x1f]{1,256}$")


def dial_address(value: str) -> str:
    """Normalizes what an outbound trunk dials: an E.164 number or a user part.

    LiveKit takes the host from the trunk and refuses a value containing ``@``, so a
    host part is refused here, before any call is placed. A ``tel:`` prefix and the
    visual separators people type (``+1 (510) 555-0100``) are stripped.

    Raises:
        ValueError: when the value is neither an E.164 number nor a user part.
    """
    address = value.strip()
    if address.lower().startswith("tel:"):
        address = address[4:]
    if "@" in address or address.lower().startswith(("sip:", "sips:")):
        raise ValueError(
            "must be an E.164 number or an extension without a host part "
            "(LiveKit takes the host from the trunk)"
        )
    if address.startswith("+"):
        address = _VISUAL_SEPARATORS.sub("", address)
        if not _E164.match(address):
            raise ValueError("must be an E.164 number such as +15105550100")
        return address
    if not _USER_PART.match(address):
        raise ValueError(
            "must be an E.164 number such as +15105550100 or an extension such as 2001"
        )
    return address


def refer_target(value: str) -> str:
    """Normalizes a cold-transfer target into the URI a SIP REFER carries.

    An E.164 number becomes ``tel:+15105550199``; a ``sip:user@host`` or ``tel:`` URI
    passes through unchanged.

    Raises:
        ValueError: when the value is neither a number nor a SIP/tel URI.
    """
    target = value.strip()
    if target.lower().startswith(("sip:", "sips:")):
        if not _SIP_URI.match(target):
            raise ValueError("must be a sip:user@host URI")
        return target
    if target.lower().startswith("tel:"):
        number = _VISUAL_SEPARATORS.sub("", target[4:])
        # RFC 3966 allows - . ( ) as visual separators, never whitespace.
        if not _E164.match(number) or any(ch.isspace() for ch in target):
            raise ValueError("must be tel: followed by an E.164 number, without spaces")
        return target
    number = _VISUAL_SEPARATORS.sub("", target)
    if not _E164.match(number):
        raise ValueError(
            "a cold transfer needs an E.164 number or a sip:user@host / tel: URI "
            "(a SIP REFER cannot carry a bare extension)"
        )
    return f"tel:{number}"


def _non_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


NonBlank = Annotated[str, Field(max_length=256), AfterValidator(_non_blank)]
DialAddress = Annotated[str, AfterValidator(dial_address)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Destination(_Strict):
    """One entry of the hunt list: a human to dial."""

    sip_call_to: DialAddress
    sip_trunk_id: NonBlank | None = None
    ring_timeout_s: float = Field(default=30.0, gt=0, le=300)
    sip_number: NonBlank | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    dtmf: str | None = None

    @field_validator("headers")
    @classmethod
    def _sip_x_headers(cls, headers: dict[str, str]) -> dict[str, str]:
        for name, value in headers.items():
            if not _HEADER_NAME.match(name):
                raise ValueError(f"{name!r} is not a SIP X- header name (X-Letters-Digits-Dashes)")
            if any(ord(ch) < 0x20 for ch in value):
                raise ValueError(f"{name!r} has a control character in its value")
        return headers

    @field_validator("dtmf")
    @classmethod
    def _dtmf_digits(cls, dtmf: str | None) -> str | None:
        if dtmf is not None and not _DTMF.match(dtmf):
            raise ValueError("must be DTMF digits 0-9, *, # or w (a 0.5 s pause)")
        return dtmf


class Fallback(_Strict):
    """What happens to the caller when no destination takes the call."""

    kind: FallbackKind = "return_to_agent"
    # validate_default: a missing target must be reported when the kind needs one.
    sip_call_to: str | None = Field(default=None, validate_default=True)
    sip_trunk_id: NonBlank | None = None
    ring_timeout_s: float = Field(default=30.0, gt=0, le=300)

    @field_validator("sip_call_to")
    @classmethod
    def _target_fits_kind(cls, target: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("kind")
        if kind not in ("voicemail", "cold_transfer"):
            return target
        if target is None or not target.strip():
            raise ValueError(f"required when kind is {kind!r}")
        # Normalizing at the edge keeps the workflow and activities free of parsing.
        return dial_address(target) if kind == "voicemail" else refer_target(target)


class TransferRequest(_Strict):
    """The input of ``WarmTransferWorkflow``: one warm transfer of one caller."""

    room_name: NonBlank
    caller_identity: NonBlank
    agent_identity: NonBlank
    destinations: list[Destination] = Field(min_length=1, max_length=20)
    summary: str = Field(default="", max_length=8000)
    fallback: Fallback = Field(default_factory=Fallback)
    accept_timeout_s: float = Field(default=60.0, gt=0, le=900)
    # Extensions to the contract (optional, defaults keep the contract's behaviour).
    max_transfer_s: float = Field(default=300.0, gt=0, le=7200)
    bridge: BridgeStrategy | None = None
    briefing_agent: str | None = Field(default=None, max_length=128)

    @field_validator("agent_identity")
    @classmethod
    def _agent_is_not_caller(cls, agent: str, info: ValidationInfo) -> str:
        if agent == info.data.get("caller_identity"):
            raise ValueError("must differ from caller_identity")
        return agent


class _Signal(BaseModel):
    # Signals come from other languages and later versions: tolerate extra keys.
    model_config = ConfigDict(extra="ignore", frozen=True)


class HumanAnswered(_Signal):
    """Payload of ``human_answered``: the dialed human picked up."""

    participant_identity: NonBlank


class HumanAccepted(_Signal):
    """Payload of ``human_accepted``: the human heard the brief and takes the call."""

    participant_identity: NonBlank


class HumanDeclined(_Signal):
    """Payload of ``human_declined``: the human refuses; the next destination is tried."""

    participant_identity: NonBlank
    reason: str = Field(default="", max_length=1000)


class CallerHungUp(_Signal):
    """Payload of ``caller_hung_up`` (``{}``): the caller left."""


class CancelTransfer(_Strict):
    """Operator update ``cancel_transfer``: stop hunting and run the fallback."""

    reason: NonBlank


class SkipDestination(_Strict):
    """Operator update ``skip_destination``: give up on the leg ringing now."""

    reason: str = Field(default="skipped by operator", max_length=500)


class AddDestination(_Strict):
    """Operator update ``add_destination``: append a destination to the hunt list."""

    destination: Destination


class Attempt(BaseModel):
    """One destination tried, and how it ended."""

    destination_index: int
    sip_call_to: str
    participant_identity: str
    result: AttemptResult
    reason: str | None = None
    sip_status_code: int | None = None


class TransferStatus(BaseModel):
    """What the ``status`` query returns."""

    stage: Stage
    destination_index: int | None = None
    participant_identity: str | None = None
    outcome: OutcomeKind | None = None
    destinations_total: int = 0
    attempts: list[Attempt] = Field(default_factory=list)
    bridge: Literal["move", "same_room"] | None = None
    details: str = ""


class TransferOutcome(BaseModel):
    """The result of ``WarmTransferWorkflow``."""

    outcome: OutcomeKind
    destination: str | None = None
    attempts: list[Attempt] = Field(default_factory=list)
    participant_identity: str | None = None
    reason: str | None = None
    fallback_error: str | None = None


def describe_validation_error(model: str, err: ValidationError) -> str:
    """Renders a pydantic error as one line naming each offending field.

    Example: ``invalid TransferRequest: destinations[0].sip_call_to: must be an E.164
    number such as +15105550100``.
    """
    parts = []
    for item in err.errors(include_url=False):
        path = "".join(_path_step(loc) for loc in item["loc"]).lstrip(".")
        message = " ".join(str(item["msg"]).removeprefix("Value error, ").split())
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        parts.append(f"{path or '(input)'}: {message}")
    return f"invalid {model}: " + "; ".join(parts)


def _path_step(loc: int | str) -> str:
    """One step of a field path; a key that is no plain name (an unknown field such as
    ``""`` or ``"a\\nb"`` sent by a foreign client) is quoted, so the error stays one line."""
    if isinstance(loc, int):
        return f"[{loc}]"
    if loc.isidentifier():
        return f".{loc}"
    return f"[{json.dumps(loc)}]"


def parse_transfer_request(data: Any) -> TransferRequest:
    """Validates a decoded JSON value as a ``TransferRequest``.

    Raises:
        ValueError: with a message naming every offending field.
    """
    try:
        return TransferRequest.model_validate(data)
    except ValidationError as err:
        raise ValueError(describe_validation_error("TransferRequest", err)) from None
