"""LiveKit Agents adapter for the warm-transfer engine (``pip install '.[agents]'``).

A durable alternative to LiveKit Agents' in-process ``WarmTransferTask``: the same
experience for the caller (hold music, a briefed human, a clean hand-over) with the
decisions in the engine's Temporal workflow, so a hunt list, a fallback and a crash
of any process along the way are handled. The adapter stays thin:

- `WarmTransfer`: the voice agent's tool (``transfer_to_human``) and the handler of the
  engine's ``warm-transfer`` data messages (hold, resume, leave).
- `run_briefing`: the body of the briefing agent the engine dispatches to the human.
"""

try:
    import livekit.agents  # noqa: F401
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError(
        "warm_transfer.agents needs livekit-agents: pip install 'warm-transfer-engine[agents]'"
    ) from err

from warm_transfer.agents.briefing import (
    Briefing,
    BriefingAgent,
    BriefingMetadata,
    briefing_greeting,
    briefing_instructions,
    run_briefing,
)
from warm_transfer.agents.hold import BackgroundHoldMusic, TransferEvents, TransferMessage
from warm_transfer.agents.tool import TransferConfig, WarmTransfer

__all__ = [
    "BackgroundHoldMusic",
    "Briefing",
    "BriefingAgent",
    "BriefingMetadata",
    "TransferConfig",
    "TransferEvents",
    "TransferMessage",
    "WarmTransfer",
    "briefing_greeting",
    "briefing_instructions",
    "run_briefing",
]
