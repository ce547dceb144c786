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
        legs_left: (real stack) calls a phone received and never saw end.
        stranded: (real stack) of those, calls that were up when the fault killed the
            process holding their SIP dialogs: nobody can end them; a row whose plan
            says so allows them.
        rooms_left: (real stack) rooms the engine made, still open at the end.
        longest_hold_s: (real stack) the longest any caller of the row was on hold.
        degraded: (real stack) transfers that ended in the row's documented degraded
            outcome rather than the one the plan calls for.
        note: (real stack) why a degraded row cannot do better, and what operators see.
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
    legs_left: int = 0
    stranded: int = 0
    rooms_left: int = 0
    longest_hold_s: float | None = None
    degraded: int = 0
    note: str = ""

    @property
    def ok(self) -> bool:
        """Every transfer right, nobody dialed twice, nothing left behind (but calls the
        fault itself stranded)."""
        return (
            self.transfers > 0
            and self.right == self.transfers
            and self.duplicates == 0
            and self.leaks == 0
            and self.legs_left == self.stranded
            and self.rooms_left == 0
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


_REAL_COLUMNS = (
    "fault",
    "transfers run",
    "right outcome",
    "duplicate INVITEs",
    "legs left up",
    "rooms left",
    "longest hold",
    "seconds",
)


def real_table(results: Sequence[FaultResult]) -> str:
    """The real stack's table: the phones' view (INVITEs, calls never ended), rooms and
    the longest hold. A row with a documented degraded outcome is marked ``*`` (right
    outcome) and calls its fault stranded are shown in brackets (legs left up)."""

    def right(r: FaultResult) -> str:
        return f"{r.right} ({r.degraded} degraded*)" if r.degraded else str(r.right)

    def legs(r: FaultResult) -> str:
        return f"{r.legs_left} ({r.stranded} stranded)" if r.stranded else str(r.legs_left)

    def hold(seconds: float | None) -> str:
        return "-" if seconds is None else f"{seconds:.1f} s"

    rows = [
        (
            r.fault + (" *" if r.note else ""),
            str(r.transfers),
            right(r),
            str(r.duplicates),
            legs(r),
            str(r.rooms_left),
            hold(r.longest_hold_s),
            f"{r.seconds:.0f}",
        )
        for r in results
    ]
    holds = [r.longest_hold_s for r in results if r.longest_hold_s is not None]
    total = FaultResult(
        "total",
        "",
        transfers=sum(r.transfers for r in results),
        right=sum(r.right for r in results),
        duplicates=sum(r.duplicates for r in results),
        legs_left=sum(r.legs_left for r in results),
        stranded=sum(r.stranded for r in results),
        rooms_left=sum(r.rooms_left for r in results),
        degraded=sum(r.degraded for r in results),
        seconds=sum(r.seconds for r in results),
    )
    rows.append(
        (
            "total",
            str(total.transfers),
            right(total),
            str(total.duplicates),
            legs(total),
            str(total.rooms_left),
            hold(max(holds) if holds else None),
            f"{total.seconds:.0f}",
        )
    )
    return _markdown(_REAL_COLUMNS, rows)


def _markdown(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(columns)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(columns), sep, *(line(r) for r in rows)])


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
