"""What one fault did to the transfers it was injected into, as a table row and JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class FaultResult:
    """One row of the fault suite's table.

    Attributes:
        fault: short name of the fault (``worker-kill-ringing``...).
        description: what was done, for people.
        transfers: transfers the fault was injected into.
        right: transfers that ended with the outcome the plan calls for, and with
            LiveKit in the state the contract promises for that outcome.
        duplicates: extra CreateSIPParticipant requests LiveKit acted on for a leg
            identity it had already dialed (must be 0).
        leaks: SIP legs and rooms of finished transfers still in LiveKit, or closed by
            LiveKit's own timeouts rather than by the engine (must be 0).
        seconds: wall time of the row.
        problems: one line per deviation, naming the transfer.
        given_up: destinations given up without a redial because their dial may
            have rung (its answer was lost, or it ended while no worker watched).
    """

    fault: str
    description: str
    transfers: int = 0
    right: int = 0
    duplicates: int = 0
    leaks: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    given_up: int = 0

    @property
    def ok(self) -> bool:
        """Every transfer right, nobody dialed twice, nothing left behind."""
        return (
            self.transfers > 0
            and self.right == self.transfers
            and self.duplicates == 0
            and self.leaks == 0
        )


_COLUMNS = (
    "fault",
    "transfers run",
    "right outcome",
    "duplicates dialed",
    "legs/rooms leaked",
    "seconds",
)


def table(results: Sequence[FaultResult]) -> str:
    """A Markdown table of the rows, one line per fault."""
    rows = [
        (
            r.fault,
            str(r.transfers),
            str(r.right),
            str(r.duplicates),
            str(r.leaks),
            f"{r.seconds:.0f}",
        )
        for r in results
    ]
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(_COLUMNS)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    total = (
        "total",
        str(sum(r.transfers for r in results)),
        str(sum(r.right for r in results)),
        str(sum(r.duplicates for r in results)),
        str(sum(r.leaks for r in results)),
        f"{sum(r.seconds for r in results):.0f}",
    )
    return "\n".join([line(_COLUMNS), sep, *(line(r) for r in rows), line(total)])


def to_json(results: Sequence[FaultResult], **meta: Any) -> dict[str, Any]:
    """The rows and their problems, plus ``meta`` (N, date...), as plain data."""
    return {
        **meta,
        "ok": all(r.ok for r in results),
        "faults": [{**asdict(r), "ok": r.ok} for r in results],
    }


def write_json(path: Path, results: Sequence[FaultResult], **meta: Any) -> None:
    """Writes :func:`to_json` to ``path`` (parent folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_json(results, **meta), indent=2) + "\n")
