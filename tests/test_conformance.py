"""The stand-in held to real LiveKit: the conformance probes' two columns agree.

``tests/conformance/real.json`` is the real column, recorded on livekit-server and
livekit-sip with real phones (``make conformance``). The stand-in must give the same
observations on every machine; where livekit-server can run here, the server probes
are also run live, so the recording cannot go stale unnoticed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.real_stack import real_stack_or_skip
from warm_transfer.conformance import DIVERGENCES, PROBES, disagreements, flatten
from warm_transfer.conformance.__main__ import column

RECORDED = Path(__file__).parent / "conformance" / "real.json"


def recorded() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(RECORDED.read_text())
    return data


def test_the_recording_covers_every_probe() -> None:
    assert set(recorded()) == {spec.name for spec in PROBES}
    # Every known divergence names an observation that exists.
    keys = {key for name, obs in recorded().items() for key in flatten(obs, name)}
    assert set(DIVERGENCES) <= keys


@pytest.mark.timeout(120)
async def test_the_stand_in_answers_as_real_livekit_does() -> None:
    ours = await column("sim", sip=True)
    assert set(ours) == set(recorded())
    assert disagreements(ours, recorded()) == {}


@pytest.mark.real
@pytest.mark.timeout(240)
async def test_the_recording_still_holds_on_livekit_server() -> None:
    real_stack_or_skip(sip=False)
    server_probes = {spec.name for spec in PROBES if not spec.sip}
    live = await column("real", sip=False, names=server_probes)
    assert set(live) == server_probes
    assert disagreements(live, recorded()) == {}
