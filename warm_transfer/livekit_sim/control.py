"""Async client of the sim-only ``/sim`` endpoints (tests, demo, benchmark)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, cast
from urllib.parse import quote

import aiohttp

from warm_transfer.livekit_sim.config import Faults
from warm_transfer.livekit_sim.scenarios import Scenario
from warm_transfer.livekit_sim.schema import (
    CallRecord,
    ParticipantState,
    SimEvent,
    SimStateSnapshot,
)

ParticipantKindName = Literal["standard", "sip", "agent"]


class SimControlError(RuntimeError):
    """A ``/sim`` endpoint refused the request.

    Attributes:
        status: The HTTP status.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


class SimControl:
    """Drives and inspects a running LiveKit stand-in.

    Args:
        base_url: The sim's URL, e.g. ``http://127.0.0.1:7880``.
        session: An aiohttp session to reuse; one is created (and closed by
            :meth:`aclose`) when omitted.
    """

    def __init__(self, base_url: str, session: aiohttp.ClientSession | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._own_session = session is None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=90))
            self._own_session = True
        return self._session

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: object = None,
    ) -> Any:
        url = self.base_url + path
        async with self._http().request(method, url, params=params, json=body) as resp:
            data = await resp.json()
            if resp.status >= 400:
                message = data.get("error") if isinstance(data, dict) else None
                raise SimControlError(resp.status, str(message or data))
            return data

    async def state(self) -> SimStateSnapshot:
        """Rooms with participants and dispatches, counters, faults."""
        return cast(SimStateSnapshot, await self._call("GET", "/sim/state"))

    async def calls(self, after: int = 0, method: str | None = None) -> list[CallRecord]:
        """The Twirp call log (newer than ``after``; only ``method`` when given)."""
        params = {"after": str(after)}
        if method is not None:
            params["method"] = method
        data = await self._call("GET", "/sim/calls", params=params)
        return cast(list[CallRecord], data["calls"])

    async def events(self, after: int = 0, timeout: float = 0) -> list[SimEvent]:
        """Events newer than ``after``; waits up to ``timeout`` s for a first one."""
        params = {"after": str(after), "timeout": str(timeout)}
        data = await self._call("GET", "/sim/events", params=params)
        return cast(list[SimEvent], data["events"])

    async def wait_for_event(
        self, predicate: Callable[[SimEvent], bool], timeout: float = 10.0, after: int = 0
    ) -> SimEvent:
        """The first event (newer than ``after``) matching ``predicate``.

        Raises:
            TimeoutError: No such event within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        seq = after
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no matching sim event within {timeout} s")
            for event in await self.events(seq, timeout=min(left, 5.0)):
                seq = event["seq"]
                if predicate(event):
                    return event

    async def add_participant(
        self,
        room: str,
        identity: str,
        kind: ParticipantKindName = "standard",
        attributes: Mapping[str, str] | None = None,
        *,
        name: str = "",
        metadata: str = "",
        track_subscribers: Sequence[str] | None = None,
    ) -> ParticipantState:
        """A participant joins via "RTC" (room auto-created), ACTIVE with audio at once.

        Args:
            track_subscribers: who alone may subscribe to its track, as the participant
                sets with ``set_track_subscription_permissions`` (None: everyone).
        """
        body = {
            "room": room,
            "identity": identity,
            "kind": kind,
            "attributes": dict(attributes or {}),
            "name": name,
            "metadata": metadata,
            "track_subscribers": None if track_subscribers is None else list(track_subscribers),
        }
        return cast(ParticipantState, await self._call("POST", "/sim/participants", body=body))

    async def remove_participant(self, room: str, identity: str) -> None:
        """The participant leaves on its own (e.g. the caller hangs up)."""
        path = f"/sim/rooms/{quote(room, safe='')}/participants/{quote(identity, safe='')}"
        await self._call("DELETE", path)

    async def answer(self, room: str, *identities: str) -> list[str]:
        """Picks up these ringing legs of ``room`` at once; returns those that answered
        (a leg already answered or ended is skipped)."""
        body = {"room": room, "identities": list(identities)}
        data = await self._call("POST", "/sim/answer", body=body)
        return cast(list[str], data["answered"])

    async def audibility(self, room: str) -> dict[str, list[str]]:
        """Who hears whom in ``room``: ``{listener: [speakers]}``."""
        path = f"/sim/rooms/{quote(room, safe='')}/audibility"
        return cast(dict[str, list[str]], await self._call("GET", path))

    async def set_faults(self, faults: Faults | None = None, **fields: Any) -> Faults:
        """Replaces the injected faults (``Faults`` or its fields as keywords)."""
        chosen = faults if faults is not None else Faults(**fields)
        data = await self._call("POST", "/sim/faults", body=chosen.model_dump())
        return Faults.model_validate(data)

    async def set_scenarios(
        self, scenarios: Mapping[str, Scenario | Mapping[str, Any]], replace: bool = False
    ) -> list[str]:
        """Adds (or replaces) per-number scenarios; returns every configured number."""
        table = {
            number: s.model_dump() if isinstance(s, Scenario) else dict(s)
            for number, s in scenarios.items()
        }
        data = await self._call(
            "POST", "/sim/scenarios", body={"scenarios": table, "replace": replace}
        )
        return cast(list[str], data["numbers"])

    async def reset(self) -> None:
        """Back to a fresh start: no rooms, logs, faults or runtime scenarios."""
        await self._call("POST", "/sim/reset")

    async def aclose(self) -> None:
        """Closes the HTTP session if this client created it."""
        if self._own_session and self._session is not None:
            await self._session.close()
            # Give aiohttp's connector a tick to close its transports quietly.
            await asyncio.sleep(0)
        self._session = None

    async def __aenter__(self) -> SimControl:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
