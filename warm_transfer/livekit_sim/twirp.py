"""The Twirp HTTP layer: routing, protobuf/JSON codecs, auth, faults and the call log.

A call goes: faults (latency, 503, drop) -> token check -> route/method/content type
(``bad_route``) -> body decode (``malformed``) -> grants -> handler -> maybe drop.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Final

import structlog
from aiohttp import web
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message

from warm_transfer.livekit_sim.auth import Authenticator, AuthError, Grants
from warm_transfer.livekit_sim.errors import TwirpError
from warm_transfer.livekit_sim.events import CallLog, CallRecord
from warm_transfer.livekit_sim.faults import FaultInjector
from warm_transfer.livekit_sim.services import Route

log = structlog.get_logger(__name__)

PREFIX: Final = "/twirp/"
PROTOBUF: Final = "application/protobuf"
JSON: Final = "application/json"
REQUEST_ID_HEADER: Final = "X-Livekit-Request-Id"
_OK: Final = {"ok": True}


class _Dropped(Exception):
    """The connection was closed on purpose (fault injection)."""


class TwirpApp:
    """Serves ``POST /twirp/livekit.<Service>/<Method>`` like livekit-server.

    Args:
        routes: ``(service, method)`` -> route.
        auth: Token verifier.
        faults: Fault injector.
        calls: Call log.
        auth_errors: ``"strict"`` or ``"livekit"`` (see ``SimConfig.auth_errors``).
    """

    def __init__(
        self,
        routes: dict[tuple[str, str], Route],
        auth: Authenticator,
        faults: FaultInjector,
        calls: CallLog,
        auth_errors: str,
    ) -> None:
        self.routes = routes
        self.auth = auth
        self.faults = faults
        self.calls = calls
        self.livekit_auth = auth_errors == "livekit"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """aiohttp handler for every path under ``/twirp/``."""
        service, _, method = request.path[len(PREFIX) :].partition("/")
        record = self.calls.start(
            service.removeprefix("livekit."), method, request.headers.get(REQUEST_ID_HEADER, "")
        )
        decision = self.faults.decide(method)
        record.fault = decision.fault
        try:
            if decision.latency_s:
                record.latency_ms = decision.latency_s * 1000.0
                await asyncio.sleep(decision.latency_s)
            if decision.fault in ("fail_first_n", "fail_rate"):
                raise TwirpError("unavailable", "simulated fault: service unavailable")
            if decision.fault == "drop":
                raise _Dropped
            response = await self._serve(request, service, method, record)
            if decision.fault == "drop_after":
                raise _Dropped
        except _Dropped:
            record.end = time.time()
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)
        except TwirpError as err:
            response = self._error(err, record)
        record.end = time.time()
        record.status = response.status
        return response

    async def _serve(
        self, request: web.Request, service: str, method: str, record: CallRecord
    ) -> web.StreamResponse:
        try:
            grants = self.auth.authenticate(request.headers.get("Authorization"))
        except AuthError as err:
            if self.livekit_auth:
                # livekit-server's auth middleware answers before Twirp: plain text.
                record.result = {"ok": False, "code": "http_401", "msg": err.msg}
                return web.Response(status=401, text=err.msg)
            return self._error(TwirpError("unauthenticated", err.msg), record)
        route = self.routes.get((service, method))
        content_type = request.content_type
        if route is None or request.method != "POST" or content_type not in (PROTOBUF, JSON):
            return self._error(_bad_route(request), record)
        body = await request.read()
        req = route.request_type()
        try:
            if content_type == JSON:
                json_format.Parse(body or b"{}", req, ignore_unknown_fields=True)
            else:
                req.ParseFromString(body)
        except (DecodeError, json_format.ParseError, UnicodeDecodeError):
            what = "json" if content_type == JSON else "proto"
            return self._error(
                TwirpError("malformed", f"the {what} request could not be decoded"), record
            )
        record.request = req
        self._check_grants(route, grants, req)
        try:
            result = await route.handler(req)
        except TwirpError as err:
            return self._error(err, record)
        except Exception:
            log.exception("handler failed", method=method)
            return self._error(TwirpError("internal", "internal error"), record)
        record.result = _OK
        if content_type == JSON:
            text = json_format.MessageToJson(result, preserving_proto_field_name=True, indent=None)
            return web.Response(text=text, content_type=JSON)
        return web.Response(body=result.SerializeToString(), content_type=PROTOBUF)

    def _check_grants(self, route: Route, grants: Grants | None, req: Message) -> None:
        if grants is not None and route.allowed(grants, req):
            return
        if grants is None or self.livekit_auth:
            # livekit-server wraps every permission failure as unauthenticated.
            raise TwirpError("unauthenticated", "permissions denied")
        raise TwirpError("permission_denied", "permissions denied")

    @staticmethod
    def _error(err: TwirpError, record: CallRecord) -> web.Response:
        record.result = {"ok": False, "code": err.code, "msg": err.msg, "meta": err.meta}
        return web.Response(
            text=json.dumps(err.body()), status=err.status, content_type="application/json"
        )


def _bad_route(request: web.Request) -> TwirpError:
    route = f"{request.method} {request.path}"
    return TwirpError(
        "bad_route", f'no handler for path "{request.path}"', {"twirp_invalid_route": route}
    )
