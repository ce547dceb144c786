"""``python -m warm_transfer.webhook_bridge``: serve the bridge until SIGTERM or SIGINT.

Configuration (environment, read in `main` only): ``TEMPORAL_ADDRESS``,
``TEMPORAL_NAMESPACE`` and ``WARM_TRANSFER_PAYLOAD_KEY`` as for the worker;
``LIVEKIT_API_KEY`` and ``LIVEKIT_API_SECRET`` (the key LiveKit signs webhooks with);
``LIVEKIT_URL`` (optional: lets the bridge follow dialed legs until they answer, since
LiveKit sends no webhook for that);
``WEBHOOK_BIND`` (host:port, default ``127.0.0.1:8090``); ``LOG_FORMAT``, ``LOG_LEVEL``
and ``LOG_DROP_PHONE_NUMBERS`` as for the worker.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass

import structlog
from livekit.api import LiveKitAPI
from pydantic import SecretStr
from temporalio.client import Client

from warm_transfer.config import ObservabilitySettings, SettingsError, TemporalSettings
from warm_transfer.log_setup import PHONE_FIELDS, configure_logging
from warm_transfer.process import run_main
from warm_transfer.temporal_connect import connect
from warm_transfer.webhook_bridge.app import BridgeOptions, WebhookBridge, serve_bridge

DEFAULT_BIND = "127.0.0.1:8090"

log = structlog.get_logger("webhook_bridge")


@dataclass(frozen=True)
class BridgeSettings:
    """Everything the bridge process reads from its environment."""

    temporal: TemporalSettings
    api_key: str
    api_secret: SecretStr
    host: str
    port: int
    livekit_url: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> BridgeSettings:
        """Reads the variables listed in the module docstring.

        Raises:
            SettingsError: naming the variable that is missing or malformed.
        """
        temporal = TemporalSettings.from_env(env)
        for var in ("LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"):
            if not env.get(var, "").strip():
                raise SettingsError(f"{var} is not set (the key LiveKit signs webhooks with)")
        bind = env.get("WEBHOOK_BIND", "").strip() or DEFAULT_BIND
        host, _, port = bind.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise SettingsError(f"WEBHOOK_BIND must be host:port, got {bind!r}")
        return cls(
            temporal=temporal,
            api_key=env["LIVEKIT_API_KEY"].strip(),
            api_secret=SecretStr(env["LIVEKIT_API_SECRET"].strip()),
            host=host.strip("[]"),
            port=int(port),
            livekit_url=env.get("LIVEKIT_URL", "").strip(),
        )


async def run_bridge(client: Client, settings: BridgeSettings, stop: asyncio.Event) -> None:
    """Serves webhooks until ``stop`` is set."""
    secret = settings.api_secret.get_secret_value()
    options = BridgeOptions(settings.api_key, secret)
    lk = None
    if settings.livekit_url:
        lk = LiveKitAPI(settings.livekit_url, settings.api_key, secret, failover=False)
    try:
        bridge = WebhookBridge(client, options, lk)
        async with serve_bridge(bridge, settings.host, settings.port) as url:
            log.info("webhook bridge listening", url=url, namespace=settings.temporal.namespace)
            await stop.wait()
            log.info("webhook bridge stopping")
    finally:
        if lk is not None:
            await lk.aclose()


async def main(client: Client | None = None) -> None:
    """Reads the environment, connects to Temporal and serves until SIGTERM/SIGINT."""
    try:
        settings = BridgeSettings.from_env(os.environ)
        observability = ObservabilitySettings.from_env(os.environ)
        drop = PHONE_FIELDS if os.environ.get("LOG_DROP_PHONE_NUMBERS") == "1" else ()
        configure_logging(observability.log_format, observability.log_level, drop)
        if client is None:
            client = await connect(settings.temporal)
    except SettingsError as err:
        print(f"webhook bridge: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await run_bridge(client, settings, stop)


def cli() -> None:
    """Console-script entry point (``warm-transfer-webhook-bridge``)."""
    run_main(main)


if __name__ == "__main__":
    cli()
