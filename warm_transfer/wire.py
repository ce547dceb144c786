"""What the engine writes into LiveKit, for everyone who reads it back.

The topic of its data messages to the AI agent and the participant attributes it tags
legs and callers with; the activities write them, the webhook bridge, the agents
adapter and the simulated agents read them. One definition, so they cannot drift.
"""

from __future__ import annotations

from typing import Final

DATA_TOPIC: Final = "warm-transfer"
ATTR_WORKFLOW_ID: Final = "warm_transfer.workflow_id"
ATTR_ROLE: Final = "warm_transfer.role"
# Where a caller or leg is in the transfer: a caller ``on_hold`` or ``with_agent``; in
# same_room a human leg ``isolated`` (made deaf by its dial), ``briefing`` (given ears by
# the brief) and ``bridged`` (set by the bridge before it opens the leg to the caller).
ATTR_STATE: Final = "warm_transfer.state"
ISOLATED: Final = "isolated"
BRIEFING: Final = "briefing"
BRIDGED: Final = "bridged"
# LiveKit's own attribute on SIP participants: dialing, ringing, active, hangup.
CALL_STATUS: Final = "sip.callStatus"
