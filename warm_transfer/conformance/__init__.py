"""Conformance: the stand-in held to what real LiveKit answers.

`PROBES` is one table of every LiveKit call and SIP outcome the engine relies on.
``python -m warm_transfer.conformance --livekit sim|real`` runs it; the real column is
recorded in ``tests/conformance/real.json`` (``make conformance``), and a test holds
the stand-in to that file, so a machine without Go keeps the stand-in honest.
Where the two cannot agree, `DIVERGENCES` says why.
"""

from __future__ import annotations

from typing import Any, Final

from warm_transfer.conformance import probes, sip_probes
from warm_transfer.conformance.probes import Observation, ProbeSpec

PROBES: Final[tuple[ProbeSpec, ...]] = (
    ProbeSpec("room.move_participant.hosted", False, probes.move_hosted),
    ProbeSpec("room.move_participant.missing", False, probes.move_missing),
    ProbeSpec("room.missing_room", False, probes.missing_room_calls),
    ProbeSpec("room.update_participant.permission", False, probes.permission_replaces),
    ProbeSpec("room.update_subscriptions", False, probes.unsubscribe),
    ProbeSpec("room.webhooks", False, probes.room_webhooks),
    ProbeSpec("agent_dispatch.create_dispatch", False, probes.create_dispatch),
    ProbeSpec("sip.create_outbound_trunk", False, probes.trunk_validation),
    ProbeSpec("sip.dial.answer", True, sip_probes.dial_probe("+15105550100", "answer")),
    ProbeSpec("sip.dial.busy", True, sip_probes.dial_probe("+15105550101", "busy")),
    ProbeSpec("sip.dial.ring_timeout", True, sip_probes.dial_probe("+15105550102", "rings")),
    ProbeSpec("sip.dial.bad_number", True, sip_probes.dial_probe("+15105550104", "bad")),
    ProbeSpec("sip.dial.decline", True, sip_probes.dial_probe("+15105550106", "decline")),
    ProbeSpec("sip.dial.unavailable", True, sip_probes.dial_probe("+15105550107", "away")),
    ProbeSpec("sip.transfer", True, sip_probes.transfer),
)

# Where the stand-in knowingly answers otherwise, and why (dotted observation keys).
DIVERGENCES: Final[dict[str, str]] = {
    "room.move_participant.missing.slow": (
        "livekit-server waits psrpc's 3 s timeout before answering; the stand-in "
        "answers at once so that tests do not pay 3 s per call"
    ),
    "room.missing_room.send_data.slow": "as above: the same answer, without the 3 s",
    "room.missing_room.update_subscriptions.slow": "as above",
    "room.missing_room.update_participant.slow": "as above",
    "room.missing_room.remove_participant.slow": "as above",
    "room.missing_room.get_participant.slow": "as above",
    "room.missing_room.list_dispatch.slow": "as above",
}


def flatten(obs: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` as ``{"a.b": 1}``; lists stay values."""
    if not isinstance(obs, dict):
        return {prefix: obs}
    out: dict[str, Any] = {}
    for key, value in obs.items():
        out.update(flatten(value, f"{prefix}.{key}" if prefix else key))
    return out


def disagreements(
    ours: dict[str, Observation], recorded: dict[str, Observation]
) -> dict[str, tuple[Any, Any]]:
    """Every observation where ``ours`` differs from ``recorded`` outside `DIVERGENCES`.

    Returns:
        ``{dotted key: (ours, recorded)}`` for the probes present in both.
    """
    out: dict[str, tuple[Any, Any]] = {}
    for name in ours.keys() & recorded.keys():
        a, b = flatten(ours[name], name), flatten(recorded[name], name)
        for key in a.keys() | b.keys():
            if key not in DIVERGENCES and a.get(key) != b.get(key):
                out[key] = (a.get(key), b.get(key))
    return out


__all__ = ["DIVERGENCES", "PROBES", "Observation", "ProbeSpec", "disagreements", "flatten"]
