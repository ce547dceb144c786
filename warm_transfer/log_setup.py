"""structlog for the worker and tools: JSON lines, or a console renderer on a TTY.

Temporal's own loggers (``temporalio.workflow``, ``temporalio.activity``, the SDK
core forwarded by `core_logging_config`) go through the same processors, so their
lines carry the workflow id, run id and activity as fields instead of a dict pasted
into the message. Fields that hold personal data (dialed numbers) can be dropped
with ``drop_fields``, and numbers inside other values masked; anything that looks
like a credential is always dropped.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger
from temporalio import activity, workflow
from temporalio.runtime import LogForwardingConfig, LoggingConfig, TelemetryFilter

# Never logged, whatever a caller passes: LiveKit's API secret and any bearer token.
_CREDENTIAL_KEYS = frozenset({"api_secret", "secret", "token", "authorization", "jwt", "password"})
PHONE_FIELDS = ("sip_call_to", "transfer_to", "sip_number", "phone_number")
# E.164 as it shows up inside other values: SIP identities (``sip_+15105550123``),
# error texts, ``tel:`` URIs. Seven digits at least, so ids and counters survive.
_PHONE_NUMBER = re.compile(r"\+\d{7,15}")
REDACTED = "[number]"
CORE_LOGGER = "temporalio.core"


class _Scrub:
    """Drops fields by name and, optionally, masks phone numbers in string values."""

    def __init__(self, fields: Iterable[str], mask_numbers: bool) -> None:
        self._fields = frozenset(fields) | _CREDENTIAL_KEYS
        self._mask = mask_numbers

    def __call__(self, _: WrappedLogger, __: str, event: EventDict) -> EventDict:
        for key in self._fields.intersection(event):
            del event[key]
        if self._mask:
            for key, value in event.items():
                event[key] = _masked(value)
        return event


def _masked(value: Any) -> Any:
    """``value`` with every E.164 number replaced, inside containers too."""
    if isinstance(value, str):
        return _PHONE_NUMBER.sub(REDACTED, value)
    if isinstance(value, Mapping):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(item) for item in value]
    return value


def _flatten_temporal(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """Turns the SDK's ``temporal_workflow``/``temporal_activity``/``temporal_log``
    extras into flat fields, the same names our own activity lines are bound with."""
    workflow_info = event.pop("temporal_workflow", None)
    if isinstance(workflow_info, MutableMapping):
        event.setdefault("workflow_id", workflow_info.get("workflow_id"))
        event.setdefault("run_id", workflow_info.get("run_id"))
        if "update_name" in workflow_info:
            event.setdefault("update", workflow_info["update_name"])
    activity_info = event.pop("temporal_activity", None)
    if isinstance(activity_info, MutableMapping):
        event.setdefault("workflow_id", activity_info.get("workflow_id"))
        # The activity's dict names the run ``workflow_run_id``, the workflow's ``run_id``.
        event.setdefault("run_id", activity_info.get("workflow_run_id"))
        event.setdefault("activity", activity_info.get("activity_type"))
        event.setdefault("attempt", activity_info.get("attempt"))
    core = event.pop("temporal_log", None)
    if core is not None:
        event.setdefault("core_target", getattr(core, "target", None))
        fields = getattr(core, "fields", None)
        if isinstance(fields, MutableMapping):
            for key, value in fields.items():
                event.setdefault(str(key), value)
    return event


def core_logging_config(level: str = "WARN") -> LoggingConfig:
    """Temporal SDK core (Rust) logs forwarded to the ``temporalio.core`` logger.

    Without it the core writes its own plain-text lines straight to standard error,
    in the middle of the JSON stream. Pass it as ``TelemetryConfig(logging=...)``.

    Args:
        level: the core's minimum level (``ERROR``, ``WARN``, ``INFO``, ``DEBUG``).
    """
    return LoggingConfig(
        filter=TelemetryFilter(core_level=level, other_level="ERROR"),
        forwarding=LogForwardingConfig(
            logger=logging.getLogger(CORE_LOGGER),
            # The target and the fields become event fields (see _flatten_temporal),
            # so the message stays the static text the core wrote.
            append_target_to_name=False,
            prepend_target_on_message=False,
            append_log_fields_to_message=False,
        ),
    )


def configure_logging(
    log_format: str = "auto",
    level: str = "INFO",
    drop_fields: Iterable[str] = (),
    stream: TextIO | None = None,
    *,
    mask_numbers: bool | None = None,
) -> None:
    """Configures structlog and routes the standard library's logging through it.

    Safe to call again (tests, tools): every setting lives in the root handler's
    formatter, so loggers cached by an earlier configuration follow the new one.

    Args:
        log_format: ``json``, ``console`` or ``auto`` (console on a TTY, else JSON).
        level: the minimum level, for structlog and for the standard library.
        drop_fields: event fields removed before rendering, e.g. ``PHONE_FIELDS``.
        stream: where lines go; standard error by default.
        mask_numbers: replace E.164 numbers inside any string value with
            ``[number]``; by default on exactly when ``drop_fields`` drops the
            phone fields, so one switch (``LOG_DROP_PHONE_NUMBERS=1``) does both.
    """
    out = stream or sys.stderr
    drop = frozenset(drop_fields)
    mask = drop.issuperset(PHONE_FIELDS) if mask_numbers is None else mask_numbers
    console = log_format == "console" or (log_format == "auto" and out.isatty())
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        _flatten_temporal,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Processor = (
        structlog.dev.ConsoleRenderer()
        if console
        else structlog.processors.JSONRenderer(default=_json_default)
    )
    structlog.configure(
        processors=[
            # Skip a debug line's processors when the level filters it out anyway.
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
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
                # JSON gets the traceback as a field; the console renders it itself.
                *([] if console else [structlog.processors.format_exc_info]),
                # Last before rendering, so exception texts are scrubbed too.
                _Scrub(drop, mask),
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The SDK appends its info dict to every message by default; the same values are
    # fields here (see _flatten_temporal), and a static message is what one greps for.
    workflow.logger.workflow_info_on_message = False
    activity.logger.activity_info_on_message = False
    # One line per HTTP request to the stand-in or a webhook bridge is noise.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def _json_default(value: Any) -> str:
    return str(value)
