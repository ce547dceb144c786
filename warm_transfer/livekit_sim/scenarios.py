"""The simulated humans at the far end of every outbound SIP leg.

Each dialed number (``sip_call_to``, exact match, else the ``default`` entry) maps to a
:class:`Scenario`. Scenarios come from the built-in table (package data
``scenarios.json``), then ``SimConfig.scenarios`` / ``--scenarios FILE``, then
``POST /sim/scenarios`` at runtime; later sources override earlier ones per number.
A scenarios file is a JSON object ``{"<number>": {<scenario fields>}, ...}``.

Scenario fields (every duration is multiplied by the sim's ``time_scale``):

* ``outcome``: ``answer`` | ``busy`` (486 Busy Here) | ``decline`` (603 Decline) |
  ``no_answer`` (rings until the request's ``ringing_timeout``, default 30 s, then
  408 Request Timeout) | ``unavailable`` (480 Temporarily Unavailable) | ``not_found``
  (404 Not Found) | ``voicemail`` (a machine answers and never decides).
* ``ring_s`` (default 1.0): time from dial to answer or failure. An answer later than
  the ``ringing_timeout`` becomes a 408.
* ``decision``: ``accept`` | ``decline`` | null. Once answered and the briefing has
  started (an agent dispatch exists in the leg's room), the human presses DTMF ``1``
  (accept) or ``2`` (decline) ``decide_after_s`` later; the timer starts at
  max(answer, dispatch created).
* ``decide_after_s`` (default 1.0).
* ``hangup_after_s``: the human hangs up that long after answering; null = never.
* ``description``: free text, for people.

Built-in numbers (``scenarios.json``):

==============  =====================================================================
``default``     answers after 1 s, accepts 1 s after the briefing starts
+15105550100    answers after 1 s, accepts (DTMF 1) 1 s after the briefing starts
+15105550101    busy: 486 Busy Here after 0.5 s
+15105550102    no answer: 408 Request Timeout when ``ringing_timeout`` elapses
+15105550103    answers after 1 s, declines (DTMF 2) 1.5 s after the briefing starts
+15105550104    bad number: 404 Not Found after 0.2 s
+15105550105    answers after 1 s, never decides, hangs up 2 s after answering
+15105550106    rejects after ringing 2 s: 603 Decline
+15105550107    480 Temporarily Unavailable after 0.5 s
+15105550199    voicemail box: answers after 3 s, never presses a key
==============  =====================================================================

The same table decides ``TransferSIPParticipant`` targets (``tel:``/``sip:`` stripped):
``answer``/``voicemail`` complete the transfer, every other outcome fails it.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

Outcome = Literal["answer", "busy", "decline", "no_answer", "unavailable", "not_found", "voicemail"]

DEFAULT_KEY: Final = "default"

# SIP final response each failing outcome answers with.
FAILURE_SIP_CODES: Final[dict[str, int]] = {
    "busy": 486,
    "decline": 603,
    "no_answer": 408,
    "unavailable": 480,
    "not_found": 404,
}


class Scenario(BaseModel):
    """How the human (or machine) at a dialed number behaves."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    outcome: Outcome = "answer"
    ring_s: float = Field(default=1.0, ge=0)
    decision: Literal["accept", "decline"] | None = None
    decide_after_s: float = Field(default=1.0, ge=0)
    hangup_after_s: float | None = Field(default=None, ge=0)
    description: str = ""

    @property
    def answers(self) -> bool:
        """True when the call is picked up (by a person or a voicemail box)."""
        return self.outcome in ("answer", "voicemail")


ScenarioTable = dict[str, Scenario]
_TABLE_ADAPTER: Final = TypeAdapter(ScenarioTable)


def parse_scenarios(data: object) -> ScenarioTable:
    """Validates a ``{number: scenario}`` mapping (raises pydantic.ValidationError)."""
    return _TABLE_ADAPTER.validate_python(data)


def load_builtin_scenarios() -> ScenarioTable:
    """The built-in table shipped as ``scenarios.json``."""
    text = (
        resources.files("warm_transfer.livekit_sim").joinpath("scenarios.json").read_text("utf-8")
    )
    return parse_scenarios(json.loads(text))


def load_scenarios_file(path: str | Path) -> ScenarioTable:
    """Reads a scenarios JSON file."""
    return parse_scenarios(json.loads(Path(path).read_text("utf-8")))


def lookup(table: ScenarioTable, number: str) -> Scenario:
    """The scenario for a dialed number: exact match, else ``default``, else answer."""
    found = table.get(number)
    if found is None:
        found = table.get(DEFAULT_KEY)
    return found if found is not None else Scenario()


def number_from_uri(uri: str) -> str:
    """The number of a ``tel:``/``sip:`` URI: ``sip:+1510@host;x=y`` -> ``+1510``."""
    _, _, rest = uri.partition(":")
    user = rest.split("@", 1)[0]
    return user.split(";", 1)[0]
