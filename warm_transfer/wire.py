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
# LiveKit's own attribute on SIP participants: dialing, ringing, active, hangup.
CALL_STATUS: Final = "sip.callStatus"
