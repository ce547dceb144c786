"""Bad input, property-based: every invalid request or signal is refused naming the field,
nothing valid is refused, and a refused request never reaches LiveKit.

Valid requests are drawn from the contract's own rules (E.164 numbers typed the way
people type them, extensions, SIP X- headers, DTMF...); invalid ones are valid ones
with exactly one thing broken, so each refusal can be checked to name that thing.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from tests.e2e_helpers import engine
from warm_transfer.models import (
    CallerHungUp,
    HumanAccepted,
    HumanAnswered,
    HumanDeclined,
    describe_validation_error,
    entry_numbers,
    parse_transfer_request,
)

FALLBACK_KINDS = ("voicemail", "cold_transfer", "return_to_agent")
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
Json = dict[str, Any]


def text(min_size: int = 0, max_size: int | None = None) -> st.SearchStrategy[str]:
    """Text JSON can carry (no lone surrogates)."""
    return st.text(st.characters(codec="utf-8"), min_size=min_size, max_size=max_size)


JSON = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | text(max_size=20),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(text(max_size=12), inner, max_size=4),
    max_leaves=20,
)  # fmt: skip

# -- what the contract accepts ----------------------------------------------------------

E164 = st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True)
EXTENSION = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._~*#-]{0,63}", fullmatch=True)
NAME = text(min_size=1, max_size=256).filter(lambda s: s.strip() != "")


@st.composite
def typed_number(draw: st.DrawFn) -> str:
    """An E.164 number as people type it: ``tel:``, spaces, dashes, parentheses."""
    digits = draw(E164)[1:]
    cut = draw(st.integers(1, len(digits) - 1))
    sep = draw(st.sampled_from(["", " ", "-", ".", ") ", " ("]))
    prefix = draw(st.sampled_from(["", "tel:", " "]))
    return f"{prefix}+{digits[:cut]}{sep}{digits[cut:]}"


DIALED = st.one_of(E164, typed_number(), EXTENSION)
HEADERS = st.dictionaries(
    st.from_regex(r"X-[A-Za-z0-9-]{1,64}", fullmatch=True),
    st.text(st.characters(codec="utf-8", min_codepoint=0x20), max_size=40),
    max_size=3,
)


@st.composite
def destination(draw: st.DrawFn) -> Json:
    dest: Json = {"sip_call_to": draw(DIALED)}
    optional: dict[str, st.SearchStrategy[Any]] = {
        "sip_trunk_id": NAME,
        "ring_timeout_s": st.floats(0.001, 300),
        "sip_number": NAME,
        "headers": HEADERS,
        "dtmf": st.from_regex(r"[0-9*#wW]{1,64}", fullmatch=True),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            dest[key] = draw(strategy)
    return dest


FALLBACK: st.SearchStrategy[Json] = st.one_of(
    st.just({}),
    st.fixed_dictionaries({"kind": st.just("return_to_agent")}),
    st.fixed_dictionaries({"kind": st.just("voicemail"), "sip_call_to": DIALED}),
    st.fixed_dictionaries(
        {
            "kind": st.just("cold_transfer"),
            "sip_call_to": st.one_of(
                E164,
                # A tel: URI goes into the REFER as it is: RFC 3966 allows no spaces in it.
                typed_number().filter(lambda n: not (n.startswith("tel:") and " " in n)),
                st.just("sip:tier2@pbx.example.com"),
                st.just("tel:+4930123456"),
            ),
        }
    ),
)


@st.composite
def request(draw: st.DrawFn) -> Json:
    caller = draw(NAME)
    data: Json = {
        "room_name": draw(NAME),
        "caller_identity": caller,
        "agent_identity": draw(NAME.filter(lambda a: a != caller)),
        "destinations": draw(st.lists(destination(), min_size=1, max_size=20)),
    }
    optional: dict[str, st.SearchStrategy[Any]] = {
        "summary": text(max_size=8000),
        "fallback": FALLBACK,
        "accept_timeout_s": st.floats(0.001, 900),
        "max_transfer_s": st.floats(0.001, 7200),
        "bridge": st.sampled_from([None, "move", "same_room", "auto"]),
        "briefing_agent": st.one_of(st.none(), text(max_size=128)),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            data[key] = draw(strategy)
    return data


@FAST
@given(request())
def test_nothing_valid_is_refused(data: Json) -> None:
    parsed = parse_transfer_request(data)
    # What the engine normalized (numbers without separators) is itself valid, unchanged.
    assert parse_transfer_request(parsed.model_dump(mode="json")) == parsed
    for number in (n for entry in parsed.destinations for n in entry_numbers(entry)):
        assert " " not in number and not number.startswith("tel:")


# -- one thing broken -------------------------------------------------------------------

BAD_DIALED = st.one_of(
    st.sampled_from(["", "   ", "+", "+1234", "+0105550100", "sip:2001@pbx", "tel:"]),
    st.builds(lambda user: f"{user}@pbx.example.com", EXTENSION),
    st.builds(lambda n: n + "9" * 16, E164),  # too long for E.164
    st.from_regex(r"[^A-Za-z0-9+\s][^@]{0,10}", fullmatch=True),  # starts with a symbol
    st.from_regex(r"[A-Za-z0-9]{65,70}", fullmatch=True),  # too long for a user part
)


NOT_A_NUMBER = st.sampled_from(["", "soon", "NaN", [20], {"s": 20}])
BAD_HEADERS = st.sampled_from([{"Via": "x"}, {"X-Ok": "line\nbreak"}, {"X-": "x"}, {"X-A": 1}])
BAD_FALLBACKS = st.sampled_from(
    [
        {"kind": "voicemail"},
        {"kind": "voicemail", "sip_call_to": "vm@pbx"},
        {"kind": "cold_transfer", "sip_call_to": "2001"},
        {"kind": "cold_transfer", "sip_call_to": "sip:nohost"},
    ]
)
BREAKS = (
    "missing", "blank", "no destinations", "too many", "number", "ring timeout", "header",
    "dtmf", "unknown destination field", "unknown field", "fallback kind", "fallback target",
    "accept timeout", "deadline", "agent is caller", "summary", "not an object",
)  # fmt: skip


@st.composite
def broken(draw: st.DrawFn) -> tuple[Any, str]:
    """A valid request with one thing broken, and the field its refusal must name."""
    data = draw(request())
    i = draw(st.integers(0, len(data["destinations"]) - 1))
    dest, at = data["destinations"][i], f"destinations[{i}]"
    kind = draw(st.sampled_from(BREAKS))
    if kind == "missing":
        field = draw(st.sampled_from(["room_name", "caller_identity", "destinations"]))
        del data[field]
        return data, field
    if kind == "not an object":
        return draw(st.one_of(st.none(), st.integers(), text(), st.lists(JSON))), "(input)"
    target, key, value, field = {
        "blank": (data, "room_name", " \t", "room_name"),
        "no destinations": (data, "destinations", [], "destinations"),
        "too many": (data, "destinations", [dest] * 21, "destinations"),
        "number": (dest, "sip_call_to", draw(BAD_DIALED), f"{at}.sip_call_to"),
        "ring timeout": (
            dest,
            "ring_timeout_s",
            draw(st.one_of(st.floats(max_value=0), st.floats(min_value=300.001), NOT_A_NUMBER)),
            f"{at}.ring_timeout_s",
        ),
        "header": (dest, "headers", draw(BAD_HEADERS), f"{at}.headers"),
        "dtmf": (dest, "dtmf", draw(st.sampled_from(["", "12a", "1 2", "9" * 65])), f"{at}.dtmf"),
        "unknown destination field": (dest, "colour", "blue", f"{at}.colour: unknown field"),
        "unknown field": (data, "transfer_mode", "warm", "transfer_mode: unknown field"),
        "fallback kind": (
            data,
            "fallback",
            {"kind": draw(text(max_size=12).filter(lambda k: k not in FALLBACK_KINDS))},
            "fallback.kind",
        ),
        "fallback target": (data, "fallback", draw(BAD_FALLBACKS), "fallback.sip_call_to"),
        "accept timeout": (
            data, "accept_timeout_s", draw(st.floats(max_value=0)), "accept_timeout_s"
        ),
        "deadline": (
            data, "max_transfer_s", draw(st.floats(min_value=7200.001)), "max_transfer_s"
        ),
        "agent is caller": (data, "agent_identity", data["caller_identity"], "agent_identity"),
        "summary": (data, "summary", "x" * 8001, "summary"),
    }[kind]  # fmt: skip
    target[key] = value
    return data, field


@FAST
@given(broken())
def test_every_invalid_request_is_refused_naming_the_field(case: tuple[Any, str]) -> None:
    data, field = case
    with pytest.raises(ValueError) as refused:
        parse_transfer_request(data)
    message = str(refused.value)
    assert message.startswith("invalid TransferRequest: ")
    assert f" {field}" in message or f"; {field}" in message, (field, message)


@FAST
@given(request(), text(max_size=20), JSON)
def test_any_json_is_either_a_request_or_a_named_refusal(data: Json, key: str, junk: Any) -> None:
    """Whatever a foreign voice agent sends, the answer is a request or one clear line."""
    data[key] = junk
    try:
        parse_transfer_request(data)
    except ValueError as err:
        assert str(err).startswith("invalid TransferRequest: ") and "\n" not in str(err)


# -- signals ----------------------------------------------------------------------------

SIGNALS: list[type[BaseModel]] = [HumanAnswered, HumanAccepted, HumanDeclined]


@FAST
@given(st.sampled_from(SIGNALS), NAME, st.dictionaries(text(max_size=8), JSON, max_size=3))
def test_signals_accept_any_identity_and_ignore_extra_keys(
    model: type[BaseModel], identity: str, extra: Json
) -> None:
    payload = {**extra, "participant_identity": identity}
    payload.pop("reason", None)
    assert model.model_validate(payload).participant_identity == identity  # type: ignore[attr-defined]
    assert CallerHungUp.model_validate(extra) == CallerHungUp()


@FAST
@given(
    st.sampled_from(SIGNALS),
    st.one_of(st.just(""), st.just("  "), text(min_size=257, max_size=300), JSON.filter(
        lambda v: not isinstance(v, str))),
)  # fmt: skip
def test_a_signal_without_a_usable_identity_is_refused_naming_it(
    model: type[BaseModel], identity: Any
) -> None:
    with pytest.raises(ValidationError) as refused:
        model.model_validate({"participant_identity": identity})
    message = describe_validation_error(model.__name__, refused.value)
    assert message.startswith(f"invalid {model.__name__}: participant_identity: ")


def test_a_decline_reason_is_bounded() -> None:
    with pytest.raises(ValidationError) as refused:
        HumanDeclined.model_validate({"participant_identity": "leg", "reason": "x" * 1001})
    assert "reason: " in describe_validation_error("HumanDeclined", refused.value)


# -- through the dev server -------------------------------------------------------------


def sample_of_broken_requests(count: int) -> list[tuple[Any, str]]:
    """A reproducible sample of broken requests, drawn by the same strategy."""
    drawn: list[tuple[Any, str]] = []

    @settings(max_examples=count, database=None, derandomize=True, deadline=None)
    @given(broken())
    def collect(case: tuple[Any, str]) -> None:
        drawn.append(case)

    collect()
    return drawn[:count]


async def test_the_workflow_refuses_bad_input_before_any_livekit_call(
    client: Client, task_queue: str
) -> None:
    cases = sample_of_broken_requests(8)
    async with engine(client, task_queue) as eng:
        for data, field in cases:
            handle = await client.start_workflow(
                "WarmTransferWorkflow", data, id=f"bad-{uuid.uuid4()}", task_queue=task_queue
            )
            with pytest.raises(WorkflowFailureError) as failure:
                await handle.result()
            cause = failure.value.cause
            assert isinstance(cause, ApplicationError)
            assert cause.type == "InvalidTransferRequest" and cause.non_retryable
            assert field in cause.message, (field, cause.message)
            history = await handle.fetch_history()
            scheduled = [
                e for e in history.events
                if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
            ]  # fmt: skip
            assert scheduled == []
        assert await eng.lk.control.calls() == []
