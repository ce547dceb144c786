"""LiveKit faults, unfixable requests and unruly signals, injected into running transfers.

Rows with random faults are seeded, so a run can be repeated call for call. Faults
hit every Twirp method the engine uses unless a row says otherwise: a 503 on a
hang-up matters as much as one on a dial.
"""

from __future__ import annotations

from warm_transfer.faultsuite.audit import Plan, plan
from warm_transfer.faultsuite.harness import (
    ACCEPTS,
    ACCEPTS_2,
    ACCEPTS_3,
    ACCEPTS_SLOWLY,
    BAD_NUMBER,
    BUSY,
    DECLINES,
    NEVER_ANSWERS,
    UNKNOWN_TRUNK,
    VOICEMAIL,
    Suite,
    Transfer,
)
from warm_transfer.faultsuite.report import FaultResult
from warm_transfer.models import Destination, Fallback

SEED = 20240501


def _busy_then_answer(n: int, **options: object) -> list[Plan]:
    """Half the transfers connect at once, half after a busy first destination."""
    return [
        plan(ACCEPTS, **options)
        if i % 2 == 0
        else plan(BUSY, ACCEPTS_2, reasons=("486",), **options)
        for i in range(n)
    ]


async def _row(suite: Suite, label: str, plans: list[Plan]) -> list[Transfer]:
    transfers = await suite.start(label, plans)
    await suite.finish(transfers)
    return transfers


async def livekit_5xx(suite: Suite, n: int) -> FaultResult:
    """30 % of LiveKit calls answer 503: Temporal retries them with backoff."""
    await suite.fresh()
    await suite.control.set_faults(fail_rate=0.3, seed=SEED)
    transfers = await _row(suite, "5xx", _busy_then_answer(n))
    return await suite.judge("livekit-5xx", "30 % of LiveKit calls answer 503", transfers)


async def livekit_latency(suite: Suite, n: int) -> FaultResult:
    """Every LiveKit call takes 500 ms longer."""
    await suite.fresh()
    await suite.control.set_faults(latency_ms=500)
    transfers = await _row(suite, "latency", _busy_then_answer(n))
    return await suite.judge("livekit-latency", "+500 ms on every LiveKit call", transfers)


async def livekit_drops(suite: Suite, n: int) -> FaultResult:
    """15 % of LiveKit calls lose their connection before LiveKit acts.

    A dial cut that way may or may not have reached LiveKit, so the engine gives
    that destination up rather than risk ringing someone twice; the hunt goes on.
    """
    await suite.fresh()
    await suite.control.set_faults(drop_rate=0.15, seed=SEED)
    plans = [plan(ACCEPTS, ACCEPTS_2, ACCEPTS_3, lost_dials_ok=True)] * n
    transfers = await _row(suite, "drop", plans)
    return await suite.judge(
        "livekit-drop", "15 % of LiveKit calls cut before LiveKit acts", transfers
    )


async def livekit_drop_after(suite: Suite, n: int) -> FaultResult:
    """30 % of LiveKit calls are carried out, then lose their answer (the idempotency
    trap: a blind retry dials, moves, dispatches a second time)."""
    await suite.fresh()
    await suite.control.set_faults(drop_after_rate=0.3, seed=SEED)
    transfers = await _row(suite, "dropafter", _busy_then_answer(n, lost_dials_ok=True))
    return await suite.judge(
        "livekit-drop-after", "30 % of LiveKit calls done, then the answer lost", transfers
    )


async def unfixable_requests(suite: Suite, n: int) -> FaultResult:
    """A bad number (404) and an unknown trunk: no retry, next destination or fallback."""
    await suite.fresh()
    voicemail = Fallback(kind="voicemail", sip_call_to=VOICEMAIL)
    unknown = Destination(sip_call_to=ACCEPTS_2, sip_trunk_id=UNKNOWN_TRUNK, ring_timeout_s=20)
    kinds = [
        plan(BAD_NUMBER, ACCEPTS, reasons=("bad number",)),
        plan(unknown, ACCEPTS, reasons=("trunk does not exist",)),
        plan(BAD_NUMBER, expect="voicemail", fallback=voicemail, reasons=("bad number",)),
    ]
    transfers = await _row(suite, "unfixable", [kinds[i % len(kinds)] for i in range(n)])
    return await suite.judge(
        "bad-number-unknown-trunk", "404 numbers and unknown trunks: no retry", transfers
    )


async def unruly_signals(suite: Suite, n: int) -> FaultResult:
    """Every signal twice, unknown identities, answered-after-accepted, and an accept
    from a human who declined (at once and late, while the next one is dialed)."""
    await suite.fresh(unruly=True)
    try:
        plans = [plan(DECLINES, ACCEPTS_SLOWLY, reasons=("pressed 2",))] * n
        transfers = await _row(suite, "signals", plans)
    finally:
        suite.agent.unruly = False
    result = await suite.judge(
        "duplicate-late-signals", "duplicate, unknown, out-of-order, late signals", transfers
    )
    if suite.agent.extra_signals == 0:
        result.problems.append("no extra signal was delivered: the row tested nothing")
        result.right = 0
    return result


async def transfer_deadline(suite: Suite, n: int) -> FaultResult:
    """Phones that ring and ring: the transfer's own deadline (here 3 s) ends the hunt
    in the fallback, the ringing leg hung up, the caller back with the AI agent."""
    await suite.fresh()
    plans = [
        plan(
            NEVER_ANSWERS,
            ACCEPTS,
            expect="returned_to_agent",
            max_transfer_s=3,
            reasons=("max_transfer_s",),
        )
    ] * n
    transfers = await _row(suite, "deadline", plans)
    return await suite.judge("transfer-deadline", "max_transfer_s=3 while a phone rings", transfers)
