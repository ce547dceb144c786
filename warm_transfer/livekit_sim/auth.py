"""Bearer-token auth like livekit-server: HS256 JWTs keyed by ``iss``, grants per method.

Verification is cached by token string until the token expires: the livekit-api client
mints a fresh token per call but with one-second timestamps, so identical tokens recur
within a second and a cache hit is a dict lookup instead of an HMAC and JSON parse.
HS256 is checked here directly (header ``alg``, HMAC with ``hmac.compare_digest``,
required ``exp``, ``nbf``, 60 s leeway), which also keeps PyJWT's short-key warning
about dev secrets like ``secret`` out of every test run.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any, Final

# go-jose's default leeway, which livekit-server's verifier uses.
LEEWAY_S: Final = 60.0
_CACHE_MAX: Final = 50_000
BEARER: Final = "Bearer "


class AuthError(Exception):
    """The request is not authenticated.

    Attributes:
        middleware: True when livekit-server's HTTP auth middleware would reject it (a
            malformed header or an invalid/expired token) rather than a service handler.
    """

    def __init__(self, msg: str, *, middleware: bool) -> None:
        super().__init__(msg)
        self.msg = msg
        self.middleware = middleware


@dataclass(frozen=True, slots=True)
class Grants:
    """The grants of a verified token that the Twirp API looks at."""

    api_key: str
    room_create: bool = False
    room_list: bool = False
    room_admin: bool = False
    room: str = ""
    destination_room: str = ""
    sip_call: bool = False
    sip_admin: bool = False

    def admin_of(self, room: str) -> bool:
        """roomAdmin for exactly ``room`` (LiveKit's EnsureAdminPermission)."""
        return self.room_admin and self.room == room

    @classmethod
    def from_claims(cls, api_key: str, claims: dict[str, Any]) -> Grants:
        """Reads LiveKit's camelCase ``video`` and ``sip`` claims."""
        video = claims.get("video") or {}
        sip = claims.get("sip") or {}
        return cls(
            api_key=api_key,
            room_create=bool(video.get("roomCreate")),
            room_list=bool(video.get("roomList")),
            room_admin=bool(video.get("roomAdmin")),
            room=str(video.get("room") or ""),
            destination_room=str(video.get("destinationRoom") or ""),
            sip_call=bool(sip.get("call")),
            sip_admin=bool(sip.get("admin")),
        )


class Authenticator:
    """Verifies ``Authorization: Bearer <jwt>`` headers against known API keys.

    Args:
        keys: API key -> API secret.
    """

    def __init__(self, keys: dict[str, str]) -> None:
        self._keys = dict(keys)
        self._cache: dict[str, tuple[Grants, float, float]] = {}

    @property
    def cached_tokens(self) -> int:
        """How many verified tokens are cached."""
        return len(self._cache)

    def authenticate(self, header: str | None) -> Grants | None:
        """The grants of the request's token; None when it carries no token at all.

        Raises:
            AuthError: Malformed header, unknown key, bad signature, expired token...
        """
        if not header:
            return None
        if not header.startswith(BEARER):
            raise AuthError(
                "invalid authorization header. Must start with Bearer ", middleware=True
            )
        token = header[len(BEARER) :]
        now = time.time()
        cached = self._cache.get(token)
        if cached is not None:
            grants, nbf, exp = cached
            if nbf - LEEWAY_S <= now <= exp + LEEWAY_S:
                return grants
            del self._cache[token]
            raise AuthError("invalid token: token is expired", middleware=True)
        grants, nbf, exp = self._verify(token)
        if len(self._cache) >= _CACHE_MAX:
            self._prune(now)
        self._cache[token] = (grants, nbf, exp)
        return grants

    def _verify(self, token: str) -> tuple[Grants, float, float]:
        try:
            header_b64, payload_b64, signature_b64 = token.split(".")
            header = json.loads(_b64decode(header_b64))
            claims = json.loads(_b64decode(payload_b64))
            signature = _b64decode(signature_b64)
        except (ValueError, binascii.Error):
            raise AuthError("invalid authorization token", middleware=True) from None
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise AuthError("invalid authorization token", middleware=True)
        api_key = str(claims.get("iss") or "")
        secret = self._keys.get(api_key)
        if secret is None:
            raise AuthError(f"invalid API key: {api_key}", middleware=True)
        if header.get("alg") != "HS256":
            raise AuthError("invalid token: unsupported algorithm", middleware=True)
        signing_input = f"{header_b64}.{payload_b64}".encode()
        expected = hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()
        if not hmac.compare_digest(expected, signature):
            raise AuthError("invalid token: signature is invalid", middleware=True)
        now = time.time()
        try:
            exp = float(claims["exp"])
            nbf = float(claims.get("nbf", 0))
        except (KeyError, TypeError, ValueError):
            raise AuthError("invalid token: exp is required", middleware=True) from None
        if now > exp + LEEWAY_S:
            raise AuthError("invalid token: token is expired", middleware=True)
        if now < nbf - LEEWAY_S:
            raise AuthError("invalid token: token is not valid yet", middleware=True)
        return Grants.from_claims(api_key, claims), nbf, exp

    def _prune(self, now: float) -> None:
        expired = [t for t, (_, _, exp) in self._cache.items() if exp + LEEWAY_S < now]
        for token in expired:
            del self._cache[token]
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_hs256(claims: dict[str, Any], secret: str) -> str:
    """An HS256 JWT of ``claims`` (what PyJWT makes, without its short-key warning)."""
    header = _b64encode(b'{"alg":"HS256","typ":"JWT"}')
    payload = _b64encode(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode()
    signature = hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64encode(signature)}"
