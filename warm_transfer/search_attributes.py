"""The custom search attributes operators filter transfers by in the Temporal UI.

Register them once per namespace (the dev server does it at start with
``--search-attribute``; see the README for a production namespace). A run upserts
them only when it was started with them, so a plain ``temporal workflow start`` on a
namespace without them still works.
"""

from __future__ import annotations

from typing import Final

from temporalio.common import SearchAttributeKey

TRANSFER_STAGE: Final = SearchAttributeKey.for_keyword("TransferStage")
TRANSFER_OUTCOME: Final = SearchAttributeKey.for_keyword("TransferOutcome")
CALLER_ROOM: Final = SearchAttributeKey.for_keyword("CallerRoom")
DESTINATION_INDEX: Final = SearchAttributeKey.for_int("DestinationIndex")

ALL: Final = (TRANSFER_STAGE, TRANSFER_OUTCOME, CALLER_ROOM, DESTINATION_INDEX)


def dev_server_flags() -> list[str]:
    """``temporal server start-dev`` flags that register every attribute."""
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}={key.indexed_value_type.name.title()}"]
    return flags
