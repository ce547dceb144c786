"""Signed (and forged) LiveKit webhooks for the bridge's tests."""

from __future__ import annotations

import base64
import hashlib
import socket
import uuid
from datetime import timedelta

import aiohttp
from google.protobuf import json_format
from livekit import api

from warm_transfer.wire import ATTR_ROLE, ATTR_WORKFLOW_ID, CALL_STATUS

KEY = "APIbridgetest"
SECRET = "bridge-test-secret-0123456789abcdef0123"
Reason = api.DisconnectReason


def participant(
    identity: str, workflow_id: str, role: str, status: str = "active", reason: int = 0
) -> api.ParticipantInfo:
    attributes = {ATTR_WORKFLOW_ID: workflow_id, ATTR_ROLE: role, CALL_STATUS: status}
    return api.ParticipantInfo(
        identity=identity,
        kind=api.ParticipantInfo.Kind.SIP,
        attributes=attributes,
        disconnect_reason=reason,  # type: ignore[arg-type]
    )


def webhook(kind: str, who: api.ParticipantInfo, event_id: str | None = None) -> bytes:
    """A webhook body as livekit-server encodes it (protojson)."""
    event = api.WebhookEvent(
        event=kind,
        id=event_id or f"EV_{uuid.uuid4().hex[:12]}",
        created_at=1,
        room=api.Room(name="call-under-test"),
        participant=who,
    )
    return json_format.MessageToJson(event, indent=None).encode()


def sign(body: bytes, secret: str = SECRET, ttl: timedelta = timedelta(minutes=5)) -> str:
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    return api.AccessToken(KEY, secret).with_sha256(digest).with_ttl(ttl).to_jwt()


async def post(url: str, body: bytes, token: str | None) -> tuple[int, dict[str, object]]:
    headers = {"Content-Type": "application/webhook+json"}
    if token is not None:
        headers["Authorization"] = token
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=body, headers=headers) as resp,
    ):
        return resp.status, await resp.json()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
