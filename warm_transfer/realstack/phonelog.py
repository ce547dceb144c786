"""What a sipp phone saw, read from its own message log (``-trace_msg``).

sipp writes every SIP message it sends and receives, each under a header line with
the wall clock. :func:`read_phone_log` turns that file into a `PhoneLog`: the requests
received per call, the final answers the phone sent, the ``X-`` headers of each
INVITE (which transfer and attempt dialed it, when the dialer tags them) and a
timeline. `PhoneLogReader` does the same incrementally, so a harness can watch a
phone many times a second without parsing its whole history each time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path


@dataclass
class PhoneLog:
    """What one phone received, per SIP request method, in order."""

    received: list[tuple[str, str]] = field(default_factory=list)  # (method, call id)
    sent: list[tuple[str, str]] = field(default_factory=list)  # requests it sent itself
    rejected: dict[str, int] = field(default_factory=dict)  # call id -> final status sent
    # Call id -> wall clock (epoch s) of the first INVITE of that call the phone received.
    invited_at: dict[str, float] = field(default_factory=dict)
    # Call id -> the X- headers of that call's first INVITE (names as sent).
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    # (wall clock, "received" | "sent", method or status code, call id), in order.
    timeline: list[tuple[float, str, str, str]] = field(default_factory=list)

    def count(self, method: str) -> int:
        """How many requests of ``method`` the phone received."""
        return sum(1 for m, _ in self.received if m == method)

    def calls(self) -> dict[str, list[str]]:
        """Call-ID -> the request methods received in that call, in order."""
        out: dict[str, list[str]] = {}
        for method, call_id in self.received:
            out.setdefault(call_id, []).append(method)
        return out

    def unended(self) -> list[str]:
        """Calls that were never ended: not rejected, no CANCEL or BYE either way."""
        return [cid for cid in self.calls() if not self.ended(cid)]

    def ended(self, call_id: str) -> bool:
        """True when the call ended: rejected, CANCELed, or a BYE either way (or it was
        never an INVITE the phone received)."""
        methods = set(self.calls().get(call_id, ()))
        if "INVITE" not in methods:
            return True
        hung_up = {cid for method, cid in self.sent if method == "BYE"}
        return bool({"CANCEL", "BYE"} & methods) or call_id in hung_up or call_id in self.rejected

    def answered(self, call_id: str) -> bool:
        """True when the phone picked the call up (sent 200 OK to the INVITE) rather than
        rejecting it or being CANCELed while it rang. The ACK may be lost on a lossy
        path; the phone's own 200 is what says it answered."""
        methods = self.calls().get(call_id, [])
        if "INVITE" not in methods or "CANCEL" in methods or call_id in self.rejected:
            return False
        return any(c == call_id and d == "sent" and w == "200" for _, d, w, c in self.timeline)

    def tagged(self, header: str, value_prefix: str) -> dict[str, str]:
        """Call id -> the value of INVITE header ``header``, for values starting with
        ``value_prefix``."""
        out = {}
        for call_id, found in self.headers.items():
            value = found.get(header)
            if value is not None and value.startswith(value_prefix):
                out[call_id] = value
        return out

    def first(self, call_id: str, direction: str, what: str) -> float | None:
        """When the phone first ``direction`` (received/sent) ``what`` in that call."""
        return next(
            (t for t, d, w, c in self.timeline if c == call_id and d == direction and w == what),
            None,
        )


_BLOCK = re.compile(
    r"^-{20,} (?P<when>[^\n]*)\n(?P<what>[^\n]*(?:received|sent)[^\n]*)\n\n"
    r"(?P<msg>.*?)(?=^-{20,} |\Z)",
    re.M | re.S,
)
_CALL_ID = re.compile(r"^(?:Call-ID|i):\s*(\S+)", re.M | re.I)
_X_HEADER = re.compile(r"^(X-[A-Za-z0-9-]+):[ \t]*([^\n]*)$", re.M)
_HEADER_START = re.compile(r"^-{20,} ", re.M)


def _wall_clock(stamp: str) -> float:
    """sipp's block header time (``2026-12-03 10:25:59.674682``, local time) as epoch s."""
    try:
        return datetime.strptime(stamp.strip(), "%Y-%m-%d %H:%M:%S.%f").timestamp()
    except ValueError:
        return float("nan")


def parse_into(log: PhoneLog, text: str) -> None:
    """Adds the messages of ``text`` (whole blocks of a sipp message log) to ``log``."""
    for match in _BLOCK.finditer(text.replace("\r\n", "\n")):
        msg = match["msg"]
        first = msg.split("\n", 1)[0]
        found = _CALL_ID.search(msg)
        call_id = found.group(1) if found else ""
        direction = "received" if "received" in match["what"] else "sent"
        when = _wall_clock(match["when"])
        if first.startswith("SIP/2.0"):
            status = int(first.split(" ", 2)[1])
            log.timeline.append((when, direction, str(status), call_id))
            if direction == "sent" and status >= 300 and "INVITE" in msg.split("CSeq:")[-1]:
                log.rejected[call_id] = status
            continue
        method = first.split(" ", 1)[0]
        log.timeline.append((when, direction, method, call_id))
        (log.received if direction == "received" else log.sent).append((method, call_id))
        if method == "INVITE" and direction == "received" and call_id not in log.invited_at:
            log.invited_at[call_id] = when
            head = msg.split("\n\n", 1)[0]
            log.headers[call_id] = {name: value.strip() for name, value in _X_HEADER.findall(head)}


def read_phone_log(path: Path) -> PhoneLog:
    """Parses a sipp ``-message_file``: the requests the phone received."""
    log = PhoneLog()
    if path.exists():
        parse_into(log, path.read_text(errors="replace"))
    return log


class PhoneLogReader:
    """Reads a phone's message log as it grows, parsing each message once.

    The last block of the file may still be being written, so it is parsed again
    (into a copy) on every read until a newer block follows it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._done = PhoneLog()
        self._offset = 0
        self._tail = ""

    def read(self) -> PhoneLog:
        """Everything the phone logged so far."""
        if self.path.exists():
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                chunk = f.read()
            self._offset += len(chunk)
            self._tail += chunk.decode(errors="replace")
            starts = [m.start() for m in _HEADER_START.finditer(self._tail)]
            if len(starts) > 1:
                parse_into(self._done, self._tail[: starts[-1]])
                self._tail = self._tail[starts[-1] :]
        snapshot = PhoneLog(
            list(self._done.received),
            list(self._done.sent),
            dict(self._done.rejected),
            dict(self._done.invited_at),
            dict(self._done.headers),
            list(self._done.timeline),
        )
        parse_into(snapshot, self._tail)
        return snapshot
