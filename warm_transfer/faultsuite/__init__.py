"""The fault suite: every fault the engine claims to survive, injected into real runs.

``python -m warm_transfer.faultsuite`` starts the engine as real processes (Temporal
dev server, LiveKit stand-in, worker), runs N transfers per fault (a worker SIGKILLed
at each stage, a server restart, 5xx, latency, dropped connections, answers lost
after LiveKit acted, bad numbers and unknown trunks, unruly signals) and prints, per
fault, how many transfers ended right, how many people were dialed twice and how
many legs or rooms were left behind. The tests call the same rows with a small N.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from warm_transfer.faultsuite.crashes import (
    kill_after_bridge,
    kill_while_briefing,
    kill_while_group_rings,
    kill_while_holding,
    kill_while_ringing,
    restart_server,
)
from warm_transfer.faultsuite.harness import Suite
from warm_transfer.faultsuite.livekit_faults import (
    livekit_5xx,
    livekit_drop_after,
    livekit_drops,
    livekit_latency,
    transfer_deadline,
    unfixable_requests,
    unruly_signals,
)
from warm_transfer.faultsuite.report import FaultResult

Row = Callable[[Suite, int], Awaitable[FaultResult]]

# In the order the table shows them.
ROWS: Final[dict[str, Row]] = {
    "worker-kill-holding": kill_while_holding,
    "worker-kill-ringing": kill_while_ringing,
    "worker-kill-group-ringing": kill_while_group_rings,
    "worker-kill-briefing": kill_while_briefing,
    "worker-kill-bridged": kill_after_bridge,
    "server-restart": restart_server,
    "livekit-5xx": livekit_5xx,
    "livekit-latency": livekit_latency,
    "livekit-drop": livekit_drops,
    "livekit-drop-after": livekit_drop_after,
    "bad-number-unknown-trunk": unfixable_requests,
    "duplicate-late-signals": unruly_signals,
    "transfer-deadline": transfer_deadline,
}

__all__ = ["ROWS", "FaultResult", "Row", "Suite"]
