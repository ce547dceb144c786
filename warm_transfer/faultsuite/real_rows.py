"""The real stack's fault rows: process crashes, restarts and a bad network, for real.

Each row runs N transfers (in waves, `RealSuite.wave_size` at a time), waits for the
moment it aims at by observing it, strikes, and has every transfer judged by the
phones' logs and livekit-server (`real_audit`). The phones (`realstack.phones`):
``+15105550100`` answers and presses 1 three seconds later, ``+15105550108`` rings 6 s
first (room for a strike mid-ring), ``+15105550101`` is busy.

Where the fault makes the planned outcome impossible the row says which outcome it
leads to instead and why (``note``), and allows exactly that.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

from warm_transfer.faultsuite.real_audit import RealPlan
from warm_transfer.faultsuite.real_harness import RealSuite, RealTransfer, Strike
from warm_transfer.faultsuite.report import FaultResult
from warm_transfer.realstack.impair import Impairment, LinkImpairer

ACCEPTS: Final = "+15105550100"
BUSY: Final = "+15105550101"
SLOW: Final = "+15105550108"

RealRow = Callable[[RealSuite, int], Awaitable[FaultResult]]

_SIP_DIED: Final = (
    "livekit-sip holds the SIP dialogs of the caller and the human: SIGKILLed, nobody is "
    "left to send their BYE or CANCEL (they are stranded until the carrier's own timers "
    "end them), and the caller's call is gone with it. livekit-server drops the dead "
    "legs after its 20 s connection timeout, the webhook bridge reports the caller's "
    "departure, the engine ends the transfer as caller_hung_up and rings nobody again. "
    "Operators see TransferOutcome caller_hung_up about 20 s after the crash"
)


def _struck(action: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[float]]:
    async def strike() -> float:
        at = time.time()
        await action()
        return at

    return strike


def _ringing_then(action: Callable[[RealSuite], Awaitable[None]]) -> Strike:
    """A strike once every first destination's phone has its INVITE (it rings)."""

    async def strike(suite: RealSuite, transfers: Sequence[RealTransfer]) -> float:
        await suite.until(lambda: suite.invited(transfers), "every first phone ringing")
        return await _struck(lambda: action(suite))()

    return strike


def _briefing_then(action: Callable[[RealSuite], Awaitable[None]]) -> Strike:
    """A strike once every transfer is briefing its human (answered, agent dispatched)."""

    async def strike(suite: RealSuite, transfers: Sequence[RealTransfer]) -> float:
        await suite.until(lambda: suite.at_stage(transfers, "briefing"), "every human briefed")
        return await _struck(lambda: action(suite))()

    return strike


def _told_then(event: str, action: Callable[[RealSuite], Awaitable[None]]) -> Strike:
    """A strike once every AI agent has been sent ``event``."""

    async def strike(suite: RealSuite, transfers: Sequence[RealTransfer]) -> float:
        await suite.until(lambda: suite.told(transfers, event), f"every agent told {event}")
        return await _struck(lambda: action(suite))()

    return strike


async def _kill_worker(suite: RealSuite) -> None:
    await suite.replace_worker()


def _restart(name: str) -> Callable[[RealSuite], Awaitable[None]]:
    async def restart(suite: RealSuite) -> None:
        await suite.real.restart(name)

    return restart


async def _restart_temporal(suite: RealSuite) -> None:
    await suite.stack.server.restart()


async def _no_strike(suite: RealSuite, transfers: Sequence[RealTransfer]) -> float:
    return time.time()


def _mixed(n: int, **options: object) -> list[RealPlan]:
    """Half connect at once, half after a busy first destination."""
    return [
        RealPlan((ACCEPTS,), **options) if i % 2 == 0 else RealPlan((BUSY, ACCEPTS), **options)  # type: ignore[arg-type]
        for i in range(n)
    ]


_LOST_ACK: Final = (
    "livekit-sip sends one ACK for a 200 OK and none for its retransmissions (RFC 3261 "
    "13.2.2.4 wants one each): when that ACK is lost the phone never has its call "
    "confirmed. The suite's sipp phones send no audio before the ACK; livekit-sip ends "
    "a call without audio after 30 s (its media timeout), the webhook bridge reports the "
    "human gone ('hung up'), and the engine goes on to the next destination or takes "
    "the caller back to the AI agent (returned_to_agent); a caller whose ACK was lost "
    "is cut the same way (caller_hung_up, or connected with the caller's call already "
    "gone: counted degraded). Operators see an attempt 'declined: hung up' about 30 s "
    "after the answer"
)


async def worker_kill_holding(suite: RealSuite, n: int) -> FaultResult:
    """SIGKILL as the caller is put on hold (the agent's ``hold_started`` arrives).

    The hold lasts a few hundred milliseconds before the dial: one transfer at a time,
    each with its own SIGKILL, so every strike lands before its phone rings.
    """
    return await suite.row(
        "worker-kill-holding",
        "worker SIGKILLed as the AI agent is told hold_started",
        [RealPlan((ACCEPTS,), struck_while="holding")] * n,
        _told_then("hold_started", _kill_worker),
        wave_size=1,
    )


async def worker_kill_ringing(suite: RealSuite, n: int) -> FaultResult:
    """SIGKILL while the human's phone rings (6 s)."""
    return await suite.row(
        "worker-kill-ringing",
        "worker SIGKILLed while the phone rings",
        [RealPlan((SLOW,), struck_while="ringing")] * n,
        _ringing_then(_kill_worker),
    )


async def worker_kill_briefing(suite: RealSuite, n: int) -> FaultResult:
    """SIGKILL while the human who answered is being briefed (keys pressed 3 s in)."""
    return await suite.row(
        "worker-kill-briefing",
        "worker SIGKILLed while the human is briefed",
        [RealPlan((ACCEPTS,), struck_while="answered")] * n,
        _briefing_then(_kill_worker),
    )


async def worker_kill_bridged(suite: RealSuite, n: int) -> FaultResult:
    """SIGKILL after the bridge, with the AI agent told to leave but not yet removed.

    These agents stay when told to leave, so the fresh worker's retried removal is
    what must take them out of the caller's room.
    """
    plans = [RealPlan((ACCEPTS,), agent_stays=True)] * n
    return await suite.row(
        "worker-kill-bridged",
        "worker SIGKILLed between the bridge and the agent's removal",
        plans,
        _told_then("leave", _kill_worker),
    )


async def sip_kill_ringing(suite: RealSuite, n: int) -> FaultResult:
    """livekit-sip SIGKILLed (and restarted) while the human's phone rings."""
    plans = [
        RealPlan((SLOW,), degraded=("caller_hung_up",), strands=True, struck_while="ringing")
    ] * n
    result = await suite.row(
        "sip-kill-ringing",
        "livekit-sip SIGKILLed and restarted while the phone rings",
        plans,
        _ringing_then(_restart("livekit-sip")),
    )
    result.note = _SIP_DIED
    return result


async def sip_kill_briefing(suite: RealSuite, n: int) -> FaultResult:
    """livekit-sip SIGKILLed (and restarted) while the human is briefed."""
    plans = [
        RealPlan(
            (ACCEPTS,),
            degraded=("caller_hung_up", "returned_to_agent"),
            strands=True,
            struck_while="answered",
        )
    ] * n
    result = await suite.row(
        "sip-kill-briefing",
        "livekit-sip SIGKILLed and restarted while the human is briefed",
        plans,
        _briefing_then(_restart("livekit-sip")),
    )
    result.note = (
        _SIP_DIED + "; the human's leg goes at the same moment (the webhook bridge reports "
        "it as a decline, 'call lost'), so the engine takes the caller off hold: "
        "caller_hung_up when the caller's participant is already gone, returned_to_agent "
        "(to a call that is dead) while LiveKit still lists it"
    )
    return result


async def sip_kill_ringing_webrtc(suite: RealSuite, n: int) -> FaultResult:
    """livekit-sip SIGKILLed while the phone rings, with the caller on WebRTC (or on
    another SIP node): the caller survives and the next destination takes the call."""
    plans = [
        RealPlan((SLOW, ACCEPTS), webrtc_caller=True, strands=True, struck_while="ringing")
    ] * n
    return await suite.row(
        "sip-kill-ringing-webrtc-caller",
        "livekit-sip SIGKILLed while the phone rings; the caller is not on it",
        plans,
        _ringing_then(_restart("livekit-sip")),
    )


async def livekit_restart_ringing(suite: RealSuite, n: int) -> FaultResult:
    """livekit-server SIGKILLed and restarted while the phone rings."""
    return await suite.row(
        "livekit-server-restart-ringing",
        "livekit-server SIGKILLed and restarted while the phone rings",
        [RealPlan((SLOW,), struck_while="ringing")] * n,
        _ringing_then(_restart("livekit-server")),
    )


async def livekit_restart_briefing(suite: RealSuite, n: int) -> FaultResult:
    """livekit-server SIGKILLed and restarted while the human is briefed."""
    return await suite.row(
        "livekit-server-restart-briefing",
        "livekit-server SIGKILLed and restarted while the human is briefed",
        [RealPlan((ACCEPTS,), struck_while="answered")] * n,
        _briefing_then(_restart("livekit-server")),
    )


async def redis_restart(suite: RealSuite, n: int) -> FaultResult:
    """Redis SIGKILLed and restarted on its append-only file while the phone rings."""
    return await suite.row(
        "redis-restart",
        "Redis SIGKILLed and restarted on its append-only file while the phone rings",
        [RealPlan((SLOW,), struck_while="ringing")] * n,
        _ringing_then(_restart("redis")),
    )


async def temporal_restart_ringing(suite: RealSuite, n: int) -> FaultResult:
    """The Temporal dev server stopped and started on its SQLite file mid-ring."""
    return await suite.row(
        "temporal-restart-ringing",
        "Temporal dev server restarted on its SQLite file while the phone rings",
        [RealPlan((SLOW,), struck_while="ringing")] * n,
        _ringing_then(_restart_temporal),
    )


def _impaired(name: str, description: str, link: str, spec: str) -> RealRow:
    impairment = Impairment.parse(spec)
    # Packet loss on the SIP path can lose an ACK that livekit-sip never sends again.
    lossy = link == "phones" and impairment.loss_pct > 0
    degraded = ("returned_to_agent", "caller_hung_up") if lossy else ()

    async def row(suite: RealSuite, n: int) -> FaultResult:
        impairer: LinkImpairer = suite.phones_link if link == "phones" else suite.api_link
        mechanism = await impairer.apply(impairment)
        try:
            result = await suite.row(name, description, _mixed(n, degraded=degraded), _no_strike)
        finally:
            await impairer.clear()
        result.description += f" ({mechanism})"
        if lossy:
            result.note = _LOST_ACK
        return result

    return row


REAL_ROWS: Final[dict[str, RealRow]] = {
    "worker-kill-holding": worker_kill_holding,
    "worker-kill-ringing": worker_kill_ringing,
    "worker-kill-briefing": worker_kill_briefing,
    "worker-kill-bridged": worker_kill_bridged,
    "sip-kill-ringing": sip_kill_ringing,
    "sip-kill-briefing": sip_kill_briefing,
    "sip-kill-ringing-webrtc-caller": sip_kill_ringing_webrtc,
    "livekit-server-restart-ringing": livekit_restart_ringing,
    "livekit-server-restart-briefing": livekit_restart_briefing,
    "redis-restart": redis_restart,
    "sip-loss-5pct": _impaired(
        "sip-loss-5pct", "5 % of SIP/RTP packets lost each way", "phones", "loss 5%"
    ),
    "sip-loss-20pct": _impaired(
        "sip-loss-20pct", "20 % of SIP/RTP packets lost each way", "phones", "loss 20%"
    ),
    "sip-delay-200ms": _impaired(
        "sip-delay-200ms", "+200 ms each way on the SIP/RTP path", "phones", "delay 200ms"
    ),
    "livekit-api-delay-200ms": _impaired(
        "livekit-api-delay-200ms",
        "+200 ms each way between the host and livekit-server (API, webhooks, agents)",
        "api",
        "delay 200ms",
    ),
    "temporal-restart-ringing": temporal_restart_ringing,
}
