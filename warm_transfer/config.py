"""Worker and starter settings, read from the environment when a process starts.

Nothing here reads the environment at import time: `WorkerSettings.from_env()` and
`TemporalSettings.from_env()` are called from `main()`. A missing or malformed value
raises `SettingsError` naming the variable, which the processes print as one line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from warm_transfer.models import BridgeStrategy

DEFAULT_TASK_QUEUE = "warm-transfer"
DEFAULT_BRIEFING_AGENT = "warm-transfer-briefer"


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


class TemporalSettings(BaseModel):
    """Where the Temporal service is, shared by worker, starter and tools."""

    model_config = ConfigDict(frozen=True)

    address: str = "localhost:7233"
    namespace: str = "default"
    task_queue: str = DEFAULT_TASK_QUEUE
    ui_url: str = "http://localhost:8233"
    # Hex or base64 key that turns on payload encryption (see warm_transfer.codec).
    payload_key: SecretStr | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TemporalSettings:
        """Reads ``TEMPORAL_ADDRESS``, ``TEMPORAL_NAMESPACE``, ``TEMPORAL_TASK_QUEUE``,
        ``TEMPORAL_UI_URL`` and ``WARM_TRANSFER_PAYLOAD_KEY``."""
        values: dict[str, object] = {}
        for field, var in _TEMPORAL_VARS.items():
            raw = env.get(var, "").strip()
            if raw:
                values[field] = raw
        address = str(values.get("address", cls.model_fields["address"].default))
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise SettingsError(f"TEMPORAL_ADDRESS must be host:port, got {address!r}")
        return cls.model_validate(values)


_TEMPORAL_VARS = {
    "address": "TEMPORAL_ADDRESS",
    "namespace": "TEMPORAL_NAMESPACE",
    "task_queue": "TEMPORAL_TASK_QUEUE",
    "ui_url": "TEMPORAL_UI_URL",
    "payload_key": "WARM_TRANSFER_PAYLOAD_KEY",
}


class LiveKitSettings(BaseModel):
    """How the worker reaches LiveKit and what it fills in when a request is silent."""

    model_config = ConfigDict(frozen=True)

    url: str
    api_key: str = Field(min_length=1)
    api_secret: SecretStr
    sip_trunk_id: str | None = None
    briefing_agent: str = DEFAULT_BRIEFING_AGENT
    bridge: BridgeStrategy = "auto"
    agent_goodbye_s: float = Field(default=1.5, ge=0, le=10)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LiveKitSettings:
        """Reads ``LIVEKIT_URL``, ``LIVEKIT_API_KEY``, ``LIVEKIT_API_SECRET``,
        ``SIP_TRUNK_ID``, ``BRIEFING_AGENT_NAME``, ``LIVEKIT_BRIDGE`` and
        ``AGENT_GOODBYE_S``."""
        for var in ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"):
            if not env.get(var, "").strip():
                raise SettingsError(f"{var} is not set")
        url = env["LIVEKIT_URL"].strip()
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https", "ws", "wss") or not parsed.netloc:
            # The secret's neighbour, the URL, is safe to echo; the secret never is.
            raise SettingsError(f"LIVEKIT_URL must be an http(s):// or ws(s):// URL, got {url!r}")
        bridge = env.get("LIVEKIT_BRIDGE", "auto").strip() or "auto"
        if bridge not in ("move", "same_room", "auto"):
            raise SettingsError(f"LIVEKIT_BRIDGE must be move, same_room or auto, got {bridge!r}")
        goodbye = env.get("AGENT_GOODBYE_S", "").strip() or "1.5"
        try:
            goodbye_s = float(goodbye)
        except ValueError:
            raise SettingsError(f"AGENT_GOODBYE_S must be seconds, got {goodbye!r}") from None
        try:
            return cls(
                url=url,
                api_key=env["LIVEKIT_API_KEY"].strip(),
                api_secret=SecretStr(env["LIVEKIT_API_SECRET"].strip()),
                sip_trunk_id=env.get("SIP_TRUNK_ID", "").strip() or None,
                briefing_agent=env.get("BRIEFING_AGENT_NAME", "").strip() or DEFAULT_BRIEFING_AGENT,
                bridge=bridge,  # type: ignore[arg-type]  # checked just above
                agent_goodbye_s=goodbye_s,
            )
        except ValidationError as err:
            field = str(err.errors()[0]["loc"][0]).upper()
            raise SettingsError(f"{field}: {err.errors()[0]['msg']}") from None


class WorkerTuning(BaseModel):
    """How much one worker process takes on, sized by the benchmark (docs/benchmark.md).

    A cached transfer costs ~0.2 MB with the sandbox: 4000 keep a worker near 1 GB;
    evicted ones replay their history on the next signal. Every ringing phone holds an
    activity slot and a LiveKit connection for its whole ring (CreateSIPParticipant
    waits for the answer): with the SDK's default of 100 slots the 101st phone waits
    past its dial window and never rings, and with aiohttp's default pool of 100 every
    other LiveKit call (hold, bridge, hang-up) queues behind the 100th ringing phone.
    """

    model_config = ConfigDict(frozen=True)

    max_cached_workflows: int = Field(default=3500, ge=0)
    max_concurrent_activities: int = Field(default=1000, ge=1)
    # Unset: one connection per activity slot, plus room for the short calls.
    livekit_max_connections: int | None = Field(default=None, ge=1)

    @property
    def livekit_connections(self) -> int:
        """The size of the worker's LiveKit connection pool."""
        return self.livekit_max_connections or self.max_concurrent_activities + 100

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WorkerTuning:
        """Reads ``WORKER_MAX_CACHED_WORKFLOWS``, ``WORKER_MAX_CONCURRENT_ACTIVITIES``
        and ``LIVEKIT_MAX_CONNECTIONS``."""
        values = {field: env.get(var, "").strip() for field, var in _TUNING_VARS.items()}
        values = {field: raw for field, raw in values.items() if raw}
        try:
            return cls.model_validate(values)
        except ValidationError as err:
            first = err.errors()[0]
            var = _TUNING_VARS[str(first["loc"][0])]
            raise SettingsError(f"{var}: {first['msg']}, got {first['input']!r}") from None


_TUNING_VARS = {
    "max_cached_workflows": "WORKER_MAX_CACHED_WORKFLOWS",
    "max_concurrent_activities": "WORKER_MAX_CONCURRENT_ACTIVITIES",
    "livekit_max_connections": "LIVEKIT_MAX_CONNECTIONS",
}


class ObservabilitySettings(BaseModel):
    """Logging and metrics of the worker."""

    model_config = ConfigDict(frozen=True)

    log_format: Literal["json", "console", "auto"] = "auto"
    log_level: str = "INFO"
    metrics_bind: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ObservabilitySettings:
        """Reads ``LOG_FORMAT`` (json, console, auto), ``LOG_LEVEL`` and
        ``METRICS_BIND`` (host:port for Prometheus, unset to disable)."""
        log_format = env.get("LOG_FORMAT", "auto").strip() or "auto"
        if log_format not in ("json", "console", "auto"):
            raise SettingsError(f"LOG_FORMAT must be json, console or auto, got {log_format!r}")
        level = env.get("LOG_LEVEL", "INFO").strip().upper() or "INFO"
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise SettingsError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {level!r}")
        bind = env.get("METRICS_BIND", "").strip() or None
        if bind is not None and not bind.rpartition(":")[2].isdigit():
            raise SettingsError(f"METRICS_BIND must be host:port, got {bind!r}")
        return cls(
            log_format=log_format,  # type: ignore[arg-type]  # checked just above
            log_level=level,
            metrics_bind=bind,
        )
