"""The HTTP side: verify a LiveKit webhook, route it, deliver its signal, answer fast."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Final

import structlog
from aiohttp import web
from google.protobuf.json_format import ParseError
from livekit import api
from temporalio.client import Client

from warm_transfer.webhook_bridge.answers import AnswerWatcher
from warm_transfer.webhook_bridge.delivery import SignalDelivery
from warm_transfer.webhook_bridge.routes import leg_to_follow, route_event

WEBHOOK_PATH: Final = "/livekit/webhook"
HEALTH_PATH: Final = "/healthz"
# LiveKit's webhook client backs off at least 1 s before retrying a 503.
_RETRY_AFTER_S: Final = "1"

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class BridgeOptions:
    """How the bridge verifies and how long it lets LiveKit wait.

    Attributes:
        api_key: the LiveKit API key webhooks are signed with.
        api_secret: its secret.
        ack_timeout_s: how long a webhook's answer waits for its signal to land
            before answering 503 (LiveKit then redelivers; the signal keeps going).
        give_up_after_s: how long a signal is retried before it is given up.
    """

    api_key: str
    api_secret: str
    ack_timeout_s: float = 2.0
    give_up_after_s: float = 600.0


class WebhookBridge:
    """Turns verified LiveKit webhooks into the engine's signals.

    Args:
        client: Temporal client with the engine's data converter.
        options: credentials and timings.
    """

    def __init__(
        self, client: Client, options: BridgeOptions, lk: api.LiveKitAPI | None = None
    ) -> None:
        # lk: a RoomService client to follow dialed legs until answered (AnswerWatcher).
        if not options.api_key or not options.api_secret:
            # TokenVerifier would fall back to the environment: refuse rather than guess.
            raise ValueError("the bridge needs a LiveKit API key and secret")
        self.options = options
        self.receiver = api.WebhookReceiver(api.TokenVerifier(options.api_key, options.api_secret))
        self.delivery = SignalDelivery(client, give_up_after_s=options.give_up_after_s)
        self.answers = AnswerWatcher(lk, self.delivery)
        self.rejected = 0

    def app(self) -> web.Application:
        """The aiohttp application: ``POST /livekit/webhook`` and ``GET /healthz``."""
        app = web.Application()
        app.router.add_post(WEBHOOK_PATH, self.handle)
        app.router.add_get(HEALTH_PATH, self._health)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        """One webhook: 401 unless signed by our key over this exact body, else routed."""
        token = request.headers.get("Authorization", "").strip()
        token = token.removeprefix("Bearer ").strip()
        raw = await request.read()
        if not token:
            return self._reject("no Authorization header")
        try:
            body = raw.decode("utf-8")
            event = self.receiver.receive(body, token)
        except ParseError:
            # Signed by our key, yet not a WebhookEvent: not LiveKit's to resend.
            log.warning("webhook body is not a WebhookEvent")
            return web.json_response({"error": "not a WebhookEvent"}, status=400)
        except Exception as err:  # jwt, hash and decoding errors alike: not authentic
            return self._reject(type(err).__name__)
        if (leg := leg_to_follow(event)) is not None:
            self.answers.follow(*leg)
        route = route_event(event)
        if route is None:
            return web.json_response({"event": event.event, "signal": None})
        # LiveKit keeps an event's id across redeliveries: one signal per event.
        key = event.id or f"{event.event}:{route.participant_identity}:{event.created_at}"
        result = await self.delivery.deliver(key, route, self.options.ack_timeout_s)
        answer = {"event": event.event, "signal": route.signal, "result": result or "pending"}
        if result is None:
            log.warning("signal still pending, asking LiveKit to redeliver", event_id=key)
            return web.json_response(answer, status=503, headers={"Retry-After": _RETRY_AFTER_S})
        return web.json_response(answer, status=500 if result == "failed" else 200)

    def _reject(self, why: str) -> web.Response:
        self.rejected += 1
        log.warning("webhook rejected", why=why)
        return web.json_response({"error": "unauthorized"}, status=401)

    async def _health(self, _: web.Request) -> web.Response:
        return web.json_response({"ok": True, "signals_in_flight": self.delivery.in_flight})


@asynccontextmanager
async def serve_bridge(
    bridge: WebhookBridge, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[str]:
    """Serves ``bridge`` until the block ends; yields the webhook URL (port 0: a free one).

    On the way out the listener closes first, then in-flight signals get a short grace.
    """
    runner = web.AppRunner(bridge.app(), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0][1]
        yield f"http://{host}:{bound}{WEBHOOK_PATH}"
    finally:
        await runner.cleanup()
        await bridge.answers.aclose()
        await bridge.delivery.aclose()
