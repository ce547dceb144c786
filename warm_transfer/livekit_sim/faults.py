"""Fault injection for Twirp calls: latency, 503s, dropped connections."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from warm_transfer.livekit_sim.config import Faults

FaultKind = Literal["fail_first_n", "fail_rate", "drop", "drop_after"]


@dataclass(frozen=True, slots=True)
class FaultDecision:
    """What to do to one call: delay it, then maybe fail/drop it."""

    latency_s: float = 0.0
    fault: FaultKind | None = None


_NONE = FaultDecision()


class FaultInjector:
    """Decides, per Twirp call, which fault (if any) it suffers.

    Args:
        faults: The fault settings; replace them at runtime with :meth:`configure`.
    """

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self._rng = random.Random(faults.seed)
        self._seen = 0
        self.injected: dict[str, int] = {}

    def configure(self, faults: Faults) -> None:
        """Replaces the settings and restarts the fail_first_n count and the generator."""
        self.faults = faults
        self._rng = random.Random(faults.seed)
        self._seen = 0

    def decide(self, method: str) -> FaultDecision:
        """The fault for a call of ``method`` (counted in :attr:`injected`)."""
        f = self.faults
        if f.methods is not None and method not in f.methods:
            return _NONE
        latency = f.latency_ms / 1000.0
        self._seen += 1
        fault: FaultKind | None = None
        if self._seen <= f.fail_first_n:
            fault = "fail_first_n"
        elif f.fail_rate and self._rng.random() < f.fail_rate:
            fault = "fail_rate"
        elif f.drop_rate and self._rng.random() < f.drop_rate:
            fault = "drop"
        elif f.drop_after_rate and self._rng.random() < f.drop_after_rate:
            fault = "drop_after"
        if fault is not None:
            self.injected[fault] = self.injected.get(fault, 0) + 1
        if fault is None and latency == 0.0:
            return _NONE
        return FaultDecision(latency, fault)
