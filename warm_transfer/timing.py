"""Timing rules the workflow and the activities must agree on."""

from __future__ import annotations

from typing import Final

# Time given to LiveKit beyond a destination's ring timeout before the engine stops
# waiting on its own clock: livekit-sip joins the room and publishes the leg's track
# before it sends the INVITE, and a loaded trunk answers its 408 late.
RING_GRACE_S: Final = 10.0


def ring_grace_s(ring_timeout_s: float) -> float:
    """The grace beyond a ring timeout: up to ten seconds, less for short rings."""
    return min(RING_GRACE_S, 2.0 + ring_timeout_s / 3)
