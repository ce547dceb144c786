"""LiveKit webhooks: signed like livekit-server, delivered in order per room, retried.

livekit-server serialises the ``WebhookEvent`` with protojson, signs an access token
(valid 5 minutes) whose ``sha256`` claim is base64(sha256(body)), and POSTs the body
with ``Content-Type: application/webhook+json`` and that token as ``Authorization``.
``livekit.api.WebhookReceiver`` verifies exactly that.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
from collections import deque
from typing import Final

import aiohttp
import structlog
from google.protobuf import json_format
from livekit.protocol import webhook as proto_webhook

from warm_transfer.livekit_sim.auth import sign_hs256
from warm_transfer.livekit_sim.model import new_id

log = structlog.get_logger(__name__)

_TOKEN_TTL_S: Final = 300


def sign_webhook(body: bytes, api_key: str, api_secret: str) -> str:
    """The ``Authorization`` value livekit-server sends with a webhook body."""
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    now = int(time.time())
    claims = {"iss": api_key, "nbf": now, "exp": now + _TOKEN_TTL_S, "sha256": digest}
    return sign_hs256(claims, api_secret)


def encode_event(event: proto_webhook.WebhookEvent) -> bytes:
    """protojson-style body: camelCase names, defaults omitted, compact."""
    as_dict = json_format.MessageToDict(event)
    return json.dumps(as_dict, separators=(",", ":")).encode()


class WebhookSender:
    """Delivers webhooks without ever blocking the API path.

    Each room has its own FIFO drained by one task at a time, so events of a room
    arrive in order while rooms proceed independently.

    Args:
        urls: Endpoints to POST to (each event goes to every URL).
        api_key: Key that signs the tokens.
        api_secret: Its secret.
        attempts: Delivery attempts per event and URL.
        backoff_s: Delay before the first retry; doubles each time.
    """

    def __init__(
        self, urls: list[str], api_key: str, api_secret: str, attempts: int, backoff_s: float
    ) -> None:
        self.urls = list(urls)
        self._key = api_key
        self._secret = api_secret
        self._attempts = attempts
        self._backoff = backoff_s
        self._queues: dict[str, deque[proto_webhook.WebhookEvent]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._session: aiohttp.ClientSession | None = None
        self.sent = 0
        self.failed = 0

    @property
    def enabled(self) -> bool:
        """True when there is somewhere to deliver to."""
        return bool(self.urls)

    def enqueue(self, room: str, event: proto_webhook.WebhookEvent) -> None:
        """Stamps ``id``/``created_at`` and queues the event behind the room's others."""
        if not self.urls:
            return
        event.id = new_id("EV_")
        event.created_at = int(time.time())
        queue = self._queues.get(room)
        if queue is None:
            queue = self._queues[room] = deque()
        queue.append(event)
        if room not in self._tasks:
            self._tasks[room] = asyncio.get_running_loop().create_task(self._drain(room, queue))

    async def _drain(self, room: str, queue: deque[proto_webhook.WebhookEvent]) -> None:
        try:
            while queue:
                await self._deliver(queue.popleft())
        finally:
            # A reset may have replaced this room's task and queue meanwhile.
            if self._tasks.get(room) is asyncio.current_task():
                del self._tasks[room]
            if self._queues.get(room) is queue and not queue:
                del self._queues[room]

    async def _deliver(self, event: proto_webhook.WebhookEvent) -> None:
        body = encode_event(event)
        headers = {
            "Content-Type": "application/webhook+json",
            "Authorization": sign_webhook(body, self._key, self._secret),
        }
        session = self._get_session()
        for url in self.urls:
            delay = self._backoff
            for attempt in range(1, self._attempts + 1):
                try:
                    async with session.post(url, data=body, headers=headers) as resp:
                        if resp.status < 300:
                            self.sent += 1
                            break
                        problem = f"HTTP {resp.status}"
                except (aiohttp.ClientError, TimeoutError) as err:
                    problem = type(err).__name__
                if attempt == self._attempts:
                    self.failed += 1
                    log.warning(
                        "webhook not delivered", url=url, webhook_event=event.event, problem=problem
                    )
                    break
                await asyncio.sleep(delay)
                delay *= 2

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        return self._session

    def clear(self) -> None:
        """Drops pending deliveries (used by reset)."""
        for task in self._tasks.values():
            task.cancel()
        self._tasks = {}
        self._queues = {}

    async def aclose(self) -> None:
        """Cancels pending deliveries and closes the HTTP session."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None
