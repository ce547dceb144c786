"""A codec server, so operators read encrypted transfers in the Temporal UI and CLI.

    WARM_TRANSFER_PAYLOAD_KEY=<64 hex> python -m warm_transfer.codec_server --port 8081

Implements Temporal's remote codec protocol: ``POST /encode`` and ``POST /decode``
(also under ``/{namespace}/...``, the CLI's ``--codec-endpoint`` templating) take and
return ``{"payloads": [...]}`` in protobuf JSON, run through the same
`warm_transfer.codec.EncryptionCodec` the workers use. The browser calls it, not the
Temporal server, so decrypted data only ever reaches the operator's screen; CORS lets
the UI's origin in (``--cors-origin``, repeatable). Point the UI at it with
``TEMPORAL_CODEC_ENDPOINT`` (docker) or ``--ui-codec-endpoint`` (dev server) and the
CLI with ``--codec-endpoint``. Whoever reaches it can decrypt: keep it on localhost or
behind the same sign-in as the UI.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Awaitable, Callable, Sequence

import structlog
from aiohttp import hdrs, web
from cryptography.exceptions import InvalidTag
from google.protobuf import json_format
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload, Payloads

from warm_transfer.codec import EncryptionCodec
from warm_transfer.log_setup import configure_logging

log = structlog.get_logger(__name__)

# The dev server's UI (8233) and the temporalio/ui image (8080), by either name.
DEFAULT_ORIGINS = (
    "http://localhost:8233",
    "http://127.0.0.1:8233",
    "http://localhost:8080",
    "http://127.0.0.1:8080",
)
_ALLOWED_HEADERS = "content-type,x-namespace,authorization"
_MAX_BODY = 16 * 1024 * 1024  # a whole history page of payloads, with room to spare
Transform = Callable[[Sequence[Payload]], Awaitable[list[Payload]]]

_ORIGINS: web.AppKey[frozenset[str]] = web.AppKey("origins", frozenset)


def build_app(codec: EncryptionCodec, origins: Sequence[str] = DEFAULT_ORIGINS) -> web.Application:
    """The codec server's aiohttp application.

    Args:
        codec: the workers' codec (same key).
        origins: browser origins allowed to call it (the UI's address, exactly).
    """
    app = web.Application(middlewares=[_cors], client_max_size=_MAX_BODY)
    app[_ORIGINS] = frozenset(o.rstrip("/") for o in origins)
    for prefix in ("", "/{namespace}"):
        app.router.add_post(f"{prefix}/encode", _handler(codec.encode, "encode"))
        app.router.add_post(f"{prefix}/decode", _handler(codec.decode, "decode"))
    app.router.add_get("/health", _health)
    return app


@web.middleware
async def _cors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Answers preflights and adds CORS headers for allowed origins only."""
    origin = request.headers.get(hdrs.ORIGIN)
    allowed = origin is not None and origin in request.app[_ORIGINS]
    if request.method == hdrs.METH_OPTIONS:
        response: web.StreamResponse = web.Response(status=204 if allowed else 403)
    else:
        try:
            response = await handler(request)
        except web.HTTPException as err:
            # A fresh response: a raised one would leave without the CORS headers, and
            # the browser would report a CORS failure instead of the actual error.
            response = web.Response(status=err.status, text=err.text, headers=err.headers)
    if allowed and origin is not None:
        response.headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin
        response.headers[hdrs.ACCESS_CONTROL_ALLOW_METHODS] = "POST, OPTIONS"
        response.headers[hdrs.ACCESS_CONTROL_ALLOW_HEADERS] = _ALLOWED_HEADERS
        # The UI's "include cross-origin credentials" sends cookies of a sign-in proxy.
        response.headers[hdrs.ACCESS_CONTROL_ALLOW_CREDENTIALS] = "true"
        response.headers[hdrs.ACCESS_CONTROL_MAX_AGE] = "600"
    response.headers[hdrs.VARY] = "Origin"
    return response


def _handler(transform: Transform, action: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        namespace = request.headers.get("X-Namespace") or request.match_info.get("namespace")
        try:
            body = await request.read()
            payloads = json_format.Parse(body, Payloads(), ignore_unknown_fields=True)
        except (json_format.ParseError, UnicodeDecodeError) as err:
            raise web.HTTPBadRequest(text=f'expected {{"payloads": [...]}}: {err}') from None
        try:
            result = await transform(payloads.payloads)
        except (ValueError, InvalidTag) as err:
            # A payload sealed with another key, or tampered with: say so, decode nothing.
            log.warning("codec refused payloads", action=action, namespace=namespace)
            reason = str(err) or "authentication failed"
            raise web.HTTPBadRequest(text=f"cannot {action}: {reason}") from None
        log.debug("codec", action=action, namespace=namespace, payloads=len(result))
        text = json_format.MessageToJson(Payloads(payloads=result))
        return web.Response(text=text, content_type="application/json")

    return handle


async def _health(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the codec server until interrupted; the key comes from the environment."""
    parser = argparse.ArgumentParser(
        prog="python -m warm_transfer.codec_server", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1", help="0.0.0.0 in a container")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument(
        "--cors-origin",
        action="append",
        metavar="URL",
        help="a UI origin allowed to call it (repeat); default: the dev server's and "
        "temporalio/ui's on localhost",
    )
    args = parser.parse_args(argv)
    raw = os.environ.get("WARM_TRANSFER_PAYLOAD_KEY", "").strip()
    if not raw:
        print("codec_server: WARM_TRANSFER_PAYLOAD_KEY is not set", file=sys.stderr)
        return 2
    try:
        codec = EncryptionCodec.from_key(SecretStr(raw))
    except ValueError as err:
        print(f"codec_server: {err}", file=sys.stderr)
        return 2
    configure_logging(os.environ.get("LOG_FORMAT", "auto"), os.environ.get("LOG_LEVEL", "INFO"))
    origins = args.cors_origin or list(DEFAULT_ORIGINS)
    log.info("codec server listening", host=args.host, port=args.port, origins=origins)
    web.run_app(build_app(codec, origins), host=args.host, port=args.port, print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
