"""Optional payload encryption: phone numbers and summaries unreadable in stored history.

AES-256-GCM over each serialized payload, keyed from ``WARM_TRANSFER_PAYLOAD_KEY``
(64 hex characters or 32 base64-encoded bytes). Payloads that are not encrypted pass
through decoding untouched, so an unencrypted start from the ``temporal`` CLI still
works on a worker that encrypts. Operators read decrypted payloads in the Temporal UI
through the codec server (`python -m warm_transfer.codec_server`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Sequence
from typing import Final

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING: Final = b"binary/encrypted"
_NONCE_BYTES: Final = 12


class EncryptionCodec(PayloadCodec):
    """Encrypts every payload with one AES-256-GCM key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("WARM_TRANSFER_PAYLOAD_KEY must be 32 bytes (64 hex characters)")
        self._aead = AESGCM(key)
        # Names the key without revealing it, so a key rotation can be detected.
        self.key_id = hashlib.sha256(key).hexdigest()[:16].encode()

    @classmethod
    def from_key(cls, secret: SecretStr) -> EncryptionCodec:
        """Builds the codec from 64 hex characters or base64 of 32 bytes."""
        raw = secret.get_secret_value().strip()
        try:
            key = bytes.fromhex(raw) if len(raw) == 64 else base64.b64decode(raw, validate=True)
        except (ValueError, binascii.Error):
            raise ValueError(
                "WARM_TRANSFER_PAYLOAD_KEY must be 64 hex characters or base64 of 32 bytes"
            ) from None
        return cls(key)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Encrypts each payload, metadata included."""
        encoded = []
        for payload in payloads:
            nonce = os.urandom(_NONCE_BYTES)
            sealed = self._aead.encrypt(nonce, payload.SerializeToString(), None)
            encoded.append(
                Payload(
                    metadata={"encoding": ENCODING, "encryption-key-id": self.key_id},
                    data=nonce + sealed,
                )
            )
        return encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Decrypts encrypted payloads and passes plain ones through unchanged."""
        decoded = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                decoded.append(payload)
                continue
            if payload.metadata.get("encryption-key-id") != self.key_id:
                raise ValueError("payload was encrypted with a different key")
            nonce, sealed = payload.data[:_NONCE_BYTES], payload.data[_NONCE_BYTES:]
            decoded.append(Payload.FromString(self._aead.decrypt(nonce, sealed, None)))
        return decoded
