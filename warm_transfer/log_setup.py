"""structlog for the worker and tools: JSON lines, or a console renderer on a TTY.

Temporal's own loggers (``temporalio.workflow``, ``temporalio.activity``) go through
the same processors, so their lines carry the workflow id, run id and activity as
fields. Fields that hold personal data (dialed numbers) can be dropped with
``LOG_DROP_FIELDS``; anything that looks like a credential is always dropped.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

# Never logged, whatever a caller passes: LiveKit's API secret and any bearer token.
_CREDENTIAL_KEYS = frozenset({"api_secret", "secret", "token", "authorization", "jwt", "password"})
PHONE_FIELDS = ("sip_call_to", "transfer_to", "sip_number", "phone_number")


class _DropFields:
    def __init__(self, fields: Iterable[str]) -> None:
        self._fields = frozenset(fields) | _CREDENTIAL_KEYS

    def __call__(self, _: WrappedLogger, __: str, event: EventDict) -> EventDict:
        for key in self._fields.intersection(event):
            del event[key]
        return event


def _flatten_temporal(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """Turns Temporal's ``temporal_workflow``/``temporal_activity`` extras into fields."""
    for extra in ("temporal_workflow", "temporal_activity"):
        info = event.pop(extra, None)
        if isinstance(info, MutableMapping):
            event.setdefault("workflow_id", info.get("workflow_id"))
            event.setdefault("run_id", info.get("run_id"))
            if "activity_type" in info:
                event.setdefault("activity", info["activity_type"])
                event.setdefault("attempt", info.get("attempt"))
    return event


def configure_logging(
    log_format: str = "auto",
    level: str = "INFO",
    drop_fields: Iterable[str] = (),
    stream: TextIO | None = None,
) -> None:
    """Configures structlog and routes the standard library's logging through it.

    Args:
        log_format: ``json``, ``console`` or ``auto`` (console on a TTY, else JSON).
        level: the minimum level, for structlog and for the standard library.
        drop_fields: event fields removed before rendering, e.g. ``PHONE_FIELDS``.
        stream: where lines go; standard error by default.
    """
    out = stream or sys.stderr
    console = log_format == "console" or (log_format == "auto" and out.isatty())
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        _flatten_temporal,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _DropFields(drop_fields),
    ]
    renderer: Processor = (
        structlog.dev.ConsoleRenderer()
        if console
        else structlog.processors.JSONRenderer(default=_json_default)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The LiveKit client logs each failover retry; our activities log the outcome.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def _json_default(value: Any) -> str:
    return str(value)
