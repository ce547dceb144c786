"""The workflow's input, decoded and validated inside the workflow."""

from __future__ import annotations

from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from warm_transfer.models import TransferRequest, parse_transfer_request


def decode_request(raw: RawValue) -> TransferRequest:
    """Decodes and validates the workflow input inside the workflow, so bad input
    fails the run at once with a message naming the field, instead of failing a
    workflow task over and over as a decoding error would.

    Raises:
        ApplicationError: non-retryable, type ``InvalidTransferRequest``.
    """
    try:
        data = workflow.payload_converter().from_payload(raw.payload)
    except Exception as err:
        raise ApplicationError(
            f"invalid TransferRequest: (input): not a JSON object ({err})",
            type="InvalidTransferRequest",
            non_retryable=True,
        ) from None
    try:
        return parse_transfer_request(data)
    except ValueError as err:
        raise ApplicationError(
            str(err), type="InvalidTransferRequest", non_retryable=True
        ) from None
