"""Getting a signal into Temporal without losing it and without holding LiveKit up.

Each webhook's signal is sent by a task of its own that retries transient failures
(Temporal unreachable, overloaded, a deadline) until Temporal accepts it. The HTTP
answer waits for that task only briefly: LiveKit delivers a room's webhooks one at a
time, so a slow answer would delay every later event of the call. A signal not yet
accepted is answered 503, which makes LiveKit deliver the webhook again; the retry
joins the task still running for that event id instead of starting a second one.
So a webhook is only acknowledged (2xx) once its signal is durable in Temporal or
has nowhere to go, and a bridge that dies meanwhile loses nothing LiveKit won't
resend to another replica.
"""

from __future__ import annotations

import asyncio
from collections import Counter, OrderedDict
from datetime import timedelta
from typing import Final, Literal

import structlog
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from warm_transfer.webhook_bridge.routes import Route

Result = Literal["delivered", "transfer_over", "failed"]

# gRPC statuses worth another try: the signal may well go through in a moment.
_TRANSIENT: Final = frozenset(
    {
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.RESOURCE_EXHAUSTED,
        RPCStatusCode.ABORTED,
        RPCStatusCode.INTERNAL,
        RPCStatusCode.UNKNOWN,
        RPCStatusCode.CANCELLED,
    }
)

log = structlog.get_logger(__name__)


class SignalDelivery:
    """Sends routed signals, once per webhook event id, retrying until they land.

    Args:
        client: Temporal client with the engine's data converter.
        rpc_timeout_s: deadline of one signal attempt.
        give_up_after_s: stop retrying a signal after this long (a transfer is over
            by then: ``max_transfer_s`` defaults to 300 s).
        backoff_s: first pause between attempts; doubles up to ``max_backoff_s``.
        max_backoff_s: longest pause between attempts.
        remember: how many finished event ids are remembered to answer redeliveries.
    """

    def __init__(
        self,
        client: Client,
        *,
        rpc_timeout_s: float = 5.0,
        give_up_after_s: float = 600.0,
        backoff_s: float = 0.2,
        max_backoff_s: float = 5.0,
        remember: int = 10_000,
    ) -> None:
        self._client = client
        self._rpc_timeout = timedelta(seconds=rpc_timeout_s)
        self._give_up_after_s = give_up_after_s
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._remember = remember
        self._in_flight: dict[str, asyncio.Task[Result]] = {}
        self._finished: OrderedDict[str, Result] = OrderedDict()
        self.counts: Counter[str] = Counter()

    @property
    def in_flight(self) -> int:
        """Signals still being delivered."""
        return len(self._in_flight)

    async def deliver(self, key: str, route: Route, wait_s: float) -> Result | None:
        """Delivers ``route``'s signal for the webhook event ``key``.

        Returns:
            The result if it is known within ``wait_s`` seconds, else None: the
            delivery goes on in the background and a redelivery of ``key`` joins it.
        """
        if (known := self._finished.get(key)) is not None:
            return known
        task = self._in_flight.get(key)
        if task is None:
            task = asyncio.create_task(self._run(key, route), name=f"signal {key}")
            self._in_flight[key] = task
        try:
            # Shielded: the HTTP answer stops waiting, the delivery does not.
            return await asyncio.wait_for(asyncio.shield(task), wait_s)
        except TimeoutError:
            return None

    async def aclose(self, grace_s: float = 5.0) -> None:
        """Gives in-flight signals ``grace_s`` seconds, then cancels the rest (their
        webhooks were answered 503, so LiveKit sends them to another replica)."""
        tasks = list(self._in_flight.values())
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=grace_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _run(self, key: str, route: Route) -> Result:
        result: Result = "failed"
        try:
            result = await self._send(route)
            return result
        finally:
            del self._in_flight[key]
            # A failure is not remembered: a redelivery of the webhook tries again.
            if result != "failed":
                self._finished[key] = result
                while len(self._finished) > self._remember:
                    self._finished.popitem(last=False)
            self.counts[result] += 1

    async def _send(self, route: Route) -> Result:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._give_up_after_s
        pause = self._backoff_s
        fields = {
            "workflow_id": route.workflow_id,
            "signal": route.signal,
            "participant": route.participant_identity,
        }
        handle = self._client.get_workflow_handle(route.workflow_id)
        while True:
            try:
                await handle.signal(route.signal, route.payload, rpc_timeout=self._rpc_timeout)
            except RPCError as err:
                if err.status == RPCStatusCode.NOT_FOUND:
                    # No such transfer running: it ended (the usual case for the
                    # caller hanging up after being connected) or never existed.
                    log.info("signal not needed: no transfer running", **fields)
                    return "transfer_over"
                if err.status not in _TRANSIENT:
                    log.error("signal refused", status=err.status.name, error=str(err), **fields)
                    return "failed"
                problem = f"{err.status.name}: {err}"
            except Exception as err:
                # Not an answer from Temporal (no connection yet, a timeout): try again.
                problem = f"{type(err).__name__}: {err}"
            else:
                log.info("signal delivered", **fields)
                return "delivered"
            if loop.time() + pause > deadline:
                log.error("signal given up", problem=problem, **fields)
                return "failed"
            log.warning("signal not delivered yet, retrying", problem=problem, **fields)
            await asyncio.sleep(pause)
            pause = min(pause * 2, self._max_backoff_s)
