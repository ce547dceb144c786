"""The data converter every client and worker of the engine uses.

Pydantic JSON payloads, so voice agents in other languages and the ``temporal`` CLI
read and write the same plain JSON. With a payload key configured, payloads are also
encrypted (see `warm_transfer.codec`) and unencrypted payloads still decode.
"""

from __future__ import annotations

import dataclasses

from pydantic import SecretStr
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter


def data_converter(payload_key: SecretStr | None = None) -> DataConverter:
    """The pydantic converter, with the encryption codec when a key is given."""
    if payload_key is None:
        return pydantic_data_converter
    from warm_transfer.codec import EncryptionCodec

    return dataclasses.replace(
        pydantic_data_converter, payload_codec=EncryptionCodec.from_key(payload_key)
    )
