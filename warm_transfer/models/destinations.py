"""Where the engine dials: addresses, a hunt list's entries, and ring groups.

An entry of ``destinations`` is either one `Destination` or a `DestinationGroup`, a ring
group whose members are rung at once (``{"group": [...], "ring_timeout_s": 20}``). The
two are told apart by the presence of the ``group`` key, so a plain entry stays exactly
as the contract has always written it.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Final

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    SerializationInfo,
    Tag,
    field_serializer,
    field_validator,
)

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


MAX_GROUP_MEMBERS: Final = 10
# Tags of the hunt-entry union: pydantic puts them in an error's path; they are dropped
# from the messages the engine writes (see `contract.describe_validation_error`).
DESTINATION_TAG: Final = "hunt:destination"
GROUP_TAG: Final = "hunt:group"


def _rings_with_the_group(member: Destination) -> Destination:
    if "ring_timeout_s" in member.model_fields_set:
        raise ValueError(
            "must not set ring_timeout_s: the group's ring_timeout_s rings every member"
        )
    return member


GroupMember = Annotated[Destination, AfterValidator(_rings_with_the_group)]


class DestinationGroup(_Strict):
    """A ring group: every member is rung at once and the first to answer is briefed.

    Members are destinations (each with its own trunk, caller id, headers and DTMF);
    the group has one ring timeout, so a member may not set its own.
    """

    group: list[GroupMember] = Field(min_length=1, max_length=MAX_GROUP_MEMBERS)
    ring_timeout_s: float = Field(default=30.0, gt=0, le=300)

    @field_validator("group")
    @classmethod
    def _each_person_once(cls, members: list[Destination]) -> list[Destination]:
        first: dict[str, int] = {}
        for index, member in enumerate(members):
            if member.sip_call_to in first:
                raise ValueError(
                    f"members {first[member.sip_call_to]} and {index} dial the same number "
                    "(a person is never rung twice)"
                )
            first[member.sip_call_to] = index
        return members

    @field_serializer("group")
    def _members_as_written(
        self, members: list[Destination], info: SerializationInfo
    ) -> list[dict[str, Any]]:
        # A member's ring timeout is the group's: written without one, read back as it is.
        return [m.model_dump(mode=info.mode, exclude={"ring_timeout_s"}) for m in members]

    def member(self, index: int) -> Destination:
        """Member ``index`` with the group's ring timeout, as it is dialed."""
        return self.group[index].model_copy(update={"ring_timeout_s": self.ring_timeout_s})


def _entry_kind(value: Any) -> str | None:
    """Which kind of hunt entry ``value`` is: a group when it has a ``group`` key."""
    if isinstance(value, dict):
        return GROUP_TAG if "group" in value else DESTINATION_TAG
    if isinstance(value, DestinationGroup):
        return GROUP_TAG
    if isinstance(value, Destination):
        return DESTINATION_TAG
    return None


HuntEntry = Annotated[
    Annotated[Destination, Tag(DESTINATION_TAG)] | Annotated[DestinationGroup, Tag(GROUP_TAG)],
    Discriminator(
        _entry_kind,
        custom_error_type="hunt_entry",
        custom_error_message='must be a destination object or a group ({"group": [...]})',
    ),
]
"""One entry of the hunt list: a `Destination`, or a `DestinationGroup`."""


def entry_numbers(entry: Destination | DestinationGroup) -> list[str]:
    """The numbers an entry dials: one for a destination, every member's for a group."""
    if isinstance(entry, DestinationGroup):
        return [member.sip_call_to for member in entry.group]
    return [entry.sip_call_to]
