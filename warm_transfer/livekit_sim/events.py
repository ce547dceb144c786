"""Bounded, sequenced logs: the event log (long-pollable) and the Twirp call log."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass
from itertools import islice
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message


class EventLog:
    """What happened in the sim, in order, each with ``seq`` and wall ``time``.

    Appending is O(1); reading the tail after ``seq`` costs only the events returned.

    Args:
        maxlen: Events kept; older ones are dropped (``seq`` keeps counting).
    """

    def __init__(self, maxlen: int) -> None:
        self._events: deque[dict[str, Any]] = deque(maxlen=maxlen)
        self._seq = 0
        self._waiters: set[asyncio.Future[None]] = set()

    @property
    def last_seq(self) -> int:
        """Sequence number of the newest event (0 when none yet)."""
        return self._seq

    def emit(self, type_: str, **fields: Any) -> dict[str, Any]:
        """Records an event ``{"seq", "time", "type", **fields}`` and wakes long-polls."""
        self._seq += 1
        event: dict[str, Any] = {"seq": self._seq, "time": time.time(), "type": type_}
        event.update(fields)
        self._events.append(event)
        self.wake_pollers()
        return event

    def wake_pollers(self) -> None:
        """Answers every waiting long-poll now (with whatever is new, maybe nothing)."""
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    def after(self, seq: int, limit: int = 10_000) -> list[dict[str, Any]]:
        """Events with ``seq`` greater than ``seq``, oldest first, at most ``limit``."""
        newer = min(self._seq - seq, len(self._events))
        if newer <= 0:
            return []
        # Walk from the newest end so polling the tail never scans the whole log.
        tail = list(islice(reversed(self._events), newer))
        tail.reverse()
        return tail[:limit]

    async def wait_after(
        self, seq: int, timeout: float, limit: int = 10_000
    ) -> list[dict[str, Any]]:
        """Like :meth:`after`, but waits up to ``timeout`` seconds for a first event."""
        events = self.after(seq, limit)
        if events or timeout <= 0:
            return events
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter, timeout)
        finally:
            self._waiters.discard(waiter)
        return self.after(seq, limit)

    def clear(self) -> None:
        """Forgets every event; ``seq`` keeps counting so pollers never go backwards."""
        self._events.clear()

    def __len__(self) -> int:
        return len(self._events)


@dataclass(slots=True, eq=False)
class CallRecord:
    """One Twirp call; the request proto is rendered to JSON only when someone reads it."""

    seq: int
    start: float
    service: str
    method: str
    request: Message | None = None
    request_id: str = ""
    end: float | None = None
    status: int | None = None
    result: dict[str, Any] | None = None
    fault: str | None = None
    latency_ms: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """Plain-data view for ``GET /sim/calls``."""
        request: dict[str, Any] | None = None
        if self.request is not None:
            request = json_format.MessageToDict(self.request, preserving_proto_field_name=True)
        return {
            "seq": self.seq,
            "start": self.start,
            "end": self.end,
            "service": self.service,
            "method": self.method,
            "request": request,
            "request_id": self.request_id,
            "status": self.status,
            "result": self.result,
            "fault": self.fault,
            "latency_ms": self.latency_ms,
        }


class CallLog:
    """Every Twirp call in order, bounded like the event log."""

    def __init__(self, maxlen: int) -> None:
        self._calls: deque[CallRecord] = deque(maxlen=maxlen)
        self._seq = 0

    def start(self, service: str, method: str, request_id: str) -> CallRecord:
        """Opens a record for a call that just arrived."""
        self._seq += 1
        record = CallRecord(self._seq, time.time(), service, method, request_id=request_id)
        self._calls.append(record)
        return record

    def after(
        self, seq: int = 0, method: str | None = None, limit: int = 10_000
    ) -> list[dict[str, Any]]:
        """Calls newer than ``seq`` (optionally only ``method``), oldest first."""
        newer = min(self._seq - seq, len(self._calls))
        if newer <= 0:
            return []
        tail = list(islice(reversed(self._calls), newer))
        tail.reverse()
        if method is not None:
            tail = [c for c in tail if c.method == method]
        return [c.to_json() for c in tail[:limit]]

    def clear(self) -> None:
        """Forgets every call; ``seq`` keeps counting."""
        self._calls.clear()

    def __len__(self) -> int:
        return len(self._calls)
