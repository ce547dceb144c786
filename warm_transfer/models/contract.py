"""The engine's data: the public JSON contract and the activities' inputs and outputs.

Every model here crosses a process boundary (a voice agent's start request, a signal,
an activity call), so each is strict about what it accepts and names the offending
field when it refuses something. Field names are the contract (../CONTRACT.md): add
optional fields, never rename or remove one. Destinations and ring groups are in
`destinations`, attempts, status and outcome in `results`; both are re-exported here.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from warm_transfer.models.destinations import (
    DESTINATION_TAG,
    GROUP_TAG,
    Destination,
    DestinationGroup,
    HuntEntry,
    NonBlank,
    _Strict,
    dial_address,
    refer_target,
)
from warm_transfer.models.results import (
    Attempt,
    AttemptResult,
    GroupMemberStatus,
    GroupStatus,
    MemberAttempt,
    MemberOutcome,
    OutcomeKind,
    Stage,
    TransferOutcome,
    TransferStatus,
)

__all__ = [
    "AddDestination",
    "Attempt",
    "AttemptResult",
    "BridgeStrategy",
    "CallerHungUp",
    "CancelTransfer",
    "Destination",
    "DestinationGroup",
    "Fallback",
    "FallbackKind",
    "GroupMemberStatus",
    "GroupStatus",
    "HuntEntry",
    "HumanAccepted",
    "HumanAnswered",
    "HumanDeclined",
    "MemberAttempt",
    "MemberOutcome",
    "OutcomeKind",
    "SkipDestination",
    "Stage",
    "TransferOutcome",
    "TransferRequest",
    "TransferStatus",
    "describe_validation_error",
    "dial_address",
    "parse_transfer_request",
    "refer_target",
]

FallbackKind = Literal["voicemail", "cold_transfer", "return_to_agent"]
BridgeStrategy = Literal["move", "same_room", "auto"]
# Steps pydantic adds to an error's path for the hunt-entry union; not field names.
_UNION_TAGS = frozenset({DESTINATION_TAG, GROUP_TAG})


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
    # Each entry a destination or a ring group ({"group": [...]}), tried in order.
    destinations: list[HuntEntry] = Field(min_length=1, max_length=20)
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
    """Operator update ``add_destination``: append a destination (or a ring group) to
    the hunt list."""

    destination: HuntEntry


def describe_validation_error(model: str, err: ValidationError) -> str:
    """Renders a pydantic error as one line naming each offending field.

    Example: ``invalid TransferRequest: destinations[0].sip_call_to: must be an E.164
    number such as +15105550100``.
    """
    parts = []
    for item in err.errors(include_url=False):
        steps = [loc for loc in item["loc"] if loc not in _UNION_TAGS]
        path = "".join(_path_step(loc) for loc in steps).lstrip(".")
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
