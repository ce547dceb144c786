"""Connecting to Temporal the same way from the worker, the starter and the tools."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.runtime import Runtime

from warm_transfer.config import SettingsError, TemporalSettings
from warm_transfer.converter import data_converter


async def connect(settings: TemporalSettings, runtime: Runtime | None = None) -> Client:
    """Connects with the engine's data converter.

    Raises:
        SettingsError: naming ``TEMPORAL_ADDRESS`` when nothing answers there.
    """
    try:
        return await Client.connect(
            settings.address,
            namespace=settings.namespace,
            data_converter=data_converter(settings.payload_key),
            runtime=runtime,
        )
    except RuntimeError as err:
        raise SettingsError(
            f"TEMPORAL_ADDRESS: cannot reach Temporal at {settings.address} ({err})"
        ) from None


def ui_link(settings: TemporalSettings, workflow_id: str, run_id: str | None = None) -> str:
    """The Temporal UI page of a run (or of the latest run of a workflow id)."""
    base = f"{settings.ui_url.rstrip('/')}/namespaces/{settings.namespace}/workflows/{workflow_id}"
    return f"{base}/{run_id}/history" if run_id else base
