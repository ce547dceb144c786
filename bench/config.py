"""What each bench mode runs: sample sizes, concurrency, and the simulated humans."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

Mode = Literal["quick", "full"]

# Numbers the bench dials; each maps to a stand-in scenario below. Every duration is
# zero so that what is measured is the engine, not the simulated human.
HOLDS: Final = "+15550190001"  # answers at once, never presses a key: the bench accepts
BUSY: Final = "+15550190003"  # 486 Busy Here at once
UNAVAILABLE: Final = "+15550190004"  # 480 Temporarily Unavailable at once
REJECTS: Final = "+15550190005"  # 603 Decline at once (the human rejects the call)
VOICEMAIL: Final = "+15550190009"  # a voicemail box that answers at once
# The ring group of the cost figure: one phone answers after 0.2 s (the bench accepts),
# while the two others still ring (until the ring timeout) and are cancelled.
GROUP_ANSWERS: Final = "+15550190006"
GROUP_RINGS: Final = ("+15550190007", "+15550190008")

SCENARIOS: Final[dict[str, dict[str, Any]]] = {
    HOLDS: {"outcome": "answer", "ring_s": 0.0, "decision": None},
    BUSY: {"outcome": "busy", "ring_s": 0.0},
    UNAVAILABLE: {"outcome": "unavailable", "ring_s": 0.0},
    REJECTS: {"outcome": "decline", "ring_s": 0.0},
    VOICEMAIL: {"outcome": "voicemail", "ring_s": 0.0},
    GROUP_ANSWERS: {"outcome": "answer", "ring_s": 0.2, "decision": None},
    **{n: {"outcome": "no_answer"} for n in GROUP_RINGS},
}

# The hunt list of the cost figure's failure case: three failures, then voicemail.
THREE_FAILURES: Final = (BUSY, UNAVAILABLE, REJECTS)

TARGETS: Final[dict[str, str]] = {
    "handoff_gap_ms_p99": "<= 50",
    "time_to_dial_ms_p99": "<= 100",
    "throughput_tps": ">= 50",
    "inflight_lost": "== 0",
    "inflight_worker_rss_mb": "<= 1024",
    "actions_per_success": "<= 12",
}


@dataclass(frozen=True)
class BenchConfig:
    """Sizes of one bench run.

    Attributes:
        mode: ``quick`` (CI, well under a minute) or ``full``.
        latency_samples: sequential transfers timed for the handoff gap and time to dial.
        direct_samples: runs of the plain asyncio baseline.
        settle_s: how long the human "listens to the brief" before accepting, so the
            workflow is parked waiting for the decision when the accept arrives.
        throughput_concurrency: concurrent callers in the throughput figure.
        throughput_transfers: transfers completed in the throughput figure.
        warmup_transfers: transfers run (and not counted) before the throughput figure.
        inflight_transfers: transfers parked at once in the in-flight figure.
        start_concurrency: starts (and accept signals) in flight at once.
        failure_samples: transfers with three failed destinations, for the cost figure,
            and as many to a three-member ring group.
        cost_samples: successful transfers whose histories are costed.
        ringing_transfers: phones ringing at once in the ringing phase (0: skipped).
        ringing_ring_s: how long they ring before the human answers.
        ringing_probes: instant transfers timed while they ring.
        phase_timeout_s: give up on a phase after this long (a stuck engine).
    """

    mode: Mode
    latency_samples: int
    direct_samples: int
    settle_s: float
    throughput_concurrency: int
    throughput_transfers: int
    warmup_transfers: int
    inflight_transfers: int
    start_concurrency: int
    failure_samples: int
    cost_samples: int
    phase_timeout_s: float
    ringing_transfers: int = 0
    ringing_ring_s: float = 20.0
    ringing_probes: int = 10


QUICK: Final = BenchConfig(
    mode="quick",
    latency_samples=20,
    direct_samples=20,
    settle_s=0.2,
    throughput_concurrency=20,
    throughput_transfers=100,
    warmup_transfers=10,
    inflight_transfers=200,
    start_concurrency=50,
    failure_samples=3,
    cost_samples=5,
    phase_timeout_s=120.0,
)

FULL: Final = BenchConfig(
    mode="full",
    latency_samples=200,
    direct_samples=200,
    settle_s=0.2,
    throughput_concurrency=50,
    throughput_transfers=2000,
    warmup_transfers=50,
    inflight_transfers=10_000,
    start_concurrency=100,
    failure_samples=20,
    cost_samples=20,
    phase_timeout_s=1800.0,
    ringing_transfers=400,
)


def for_mode(mode: Mode) -> BenchConfig:
    """The configuration of ``mode``."""
    return QUICK if mode == "quick" else FULL
