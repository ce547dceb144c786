"""The webhook bridge: LiveKit webhooks in, the engine's signals out.

Point LiveKit's webhooks (the Cloud dashboard's Settings > Webhooks, or the
``webhook.urls`` of a self-hosted livekit-server) at ``POST /livekit/webhook`` and the
engine learns, without any code in the voice agent, that a dialed human picked up
(``human_answered``), that the caller hung up (``caller_hung_up``) and that a human
hung up during the brief (``human_declined``)::

    LIVEKIT_API_KEY=... LIVEKIT_API_SECRET=... WEBHOOK_BIND=0.0.0.0:8090 \\
        python -m warm_transfer.webhook_bridge

Only webhooks signed with the API key and secret, over the exact body, within the
token's lifetime, are acted on; anything else is answered 401 and signals nothing.
"""

from warm_transfer.webhook_bridge.app import (
    HEALTH_PATH,
    WEBHOOK_PATH,
    BridgeOptions,
    WebhookBridge,
    serve_bridge,
)
from warm_transfer.webhook_bridge.delivery import SignalDelivery
from warm_transfer.webhook_bridge.routes import Route, route_event

__all__ = [
    "HEALTH_PATH",
    "WEBHOOK_PATH",
    "BridgeOptions",
    "Route",
    "SignalDelivery",
    "WebhookBridge",
    "route_event",
    "serve_bridge",
]
