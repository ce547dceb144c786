"""A LiveKit server stand-in for the demo, end-to-end tests, fault injection and benchmarks.

The worker talks to it through the unmodified ``livekit-api`` client: point
``LIVEKIT_URL`` at it. It speaks Twirp (protobuf and JSON) for RoomService, SIP and
AgentDispatchService, authenticates bearer JWTs like livekit-server, simulates the
humans at the far end of SIP legs (see :mod:`warm_transfer.livekit_sim.scenarios`),
sends signed webhooks, injects faults, and exposes ``/sim`` endpoints to inspect and
drive it (see :class:`SimControl`).

Run it with ``python -m warm_transfer.livekit_sim`` or in-process::

    async with LiveKitSim(SimConfig(time_scale=0.01)) as sim:
        lk = LiveKitAPI(sim.url, "devkey", DEV_API_SECRET)
"""

from warm_transfer.livekit_sim.config import DEV_API_KEY, DEV_API_SECRET, Faults, SimConfig
from warm_transfer.livekit_sim.control import SimControl, SimControlError
from warm_transfer.livekit_sim.scenarios import Scenario, load_builtin_scenarios
from warm_transfer.livekit_sim.schema import (
    CallRecord,
    ParticipantState,
    RoomState,
    SimEvent,
    SimStateSnapshot,
)
from warm_transfer.livekit_sim.server import LiveKitSim

__all__ = [
    "DEV_API_KEY",
    "DEV_API_SECRET",
    "CallRecord",
    "Faults",
    "LiveKitSim",
    "ParticipantState",
    "RoomState",
    "Scenario",
    "SimConfig",
    "SimControl",
    "SimControlError",
    "SimEvent",
    "SimStateSnapshot",
    "load_builtin_scenarios",
]
