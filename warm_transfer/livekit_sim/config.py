"""Configuration of the LiveKit stand-in: credentials, scenarios, webhooks, faults."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from warm_transfer.livekit_sim.scenarios import Scenario

# Long enough for HS256 (RFC 7518 wants 32 bytes); for the local stand-in only.
DEV_API_KEY = "devkey"
DEV_API_SECRET = "devsecret-local-stand-in-only-0123456789"


class Faults(BaseModel):
    """Faults injected into Twirp calls (never into the ``/sim`` endpoints).

    Attributes:
        latency_ms: Delay added to every affected call before it is handled.
        fail_first_n: The first N affected calls answer 503 ``unavailable``, doing nothing.
        fail_rate: Fraction of affected calls answering 503 ``unavailable``, doing nothing.
        drop_rate: Fraction of affected calls whose connection is closed without an
            answer, before anything is done.
        drop_after_rate: Fraction of affected calls that are performed, then have their
            connection closed without an answer (the idempotency trap).
        methods: Twirp method names the faults apply to (e.g. ``["CreateSIPParticipant"]``);
            None means every method.
        seed: Seed of the random generator, for reproducible runs.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    latency_ms: float = Field(default=0.0, ge=0)
    fail_first_n: int = Field(default=0, ge=0)
    fail_rate: float = Field(default=0.0, ge=0, le=1)
    drop_rate: float = Field(default=0.0, ge=0, le=1)
    drop_after_rate: float = Field(default=0.0, ge=0, le=1)
    methods: list[str] | None = None
    seed: int | None = None


class SimConfig(BaseModel):
    """Everything the stand-in needs; every field has a usable default.

    Attributes:
        api_key: API key expected as the ``iss`` of bearer tokens (and signing webhooks).
        api_secret: Its secret (HS256).
        scenarios: Per-number scenarios layered over the built-in table.
        builtin_scenarios: Whether the built-in table (``scenarios.json``) is loaded.
        webhook_urls: Where LiveKit webhooks are POSTed; empty disables webhooks.
        self_hosted: Behave like self-hosted livekit-server (no MoveParticipant).
        time_scale: Multiplies every scenario duration and SIP ringing timeout.
        faults: Faults injected into Twirp calls.
        trunks: Known outbound trunk ids; None accepts any non-empty trunk id.
        log_maxlen: Maximum entries kept in the event log and in the call log.
        auth_errors: ``"strict"``: bad token -> ``unauthenticated`` (401), missing grant ->
            ``permission_denied`` (403). ``"livekit"``: exactly what livekit-server does:
            a bad token is a plain-text 401 from its auth middleware, a missing grant is
            ``unauthenticated`` (401, "permissions denied").
        room_auto_close: Close rooms like LiveKit: ``departure_timeout`` (default 20 s)
            after the last participant leaves, ``empty_timeout`` (default 300 s) after a
            room is created and nobody joins. Real seconds, not scaled.
        webhook_attempts: Delivery attempts per webhook and URL.
        webhook_backoff_s: First retry delay; doubles per attempt.
    """

    model_config = ConfigDict(extra="forbid")

    api_key: str = Field(default=DEV_API_KEY, min_length=1)
    api_secret: str = Field(default=DEV_API_SECRET, min_length=1)
    scenarios: dict[str, Scenario] = Field(default_factory=dict)
    builtin_scenarios: bool = True
    webhook_urls: list[str] = Field(default_factory=list)
    self_hosted: bool = False
    time_scale: float = Field(default=1.0, ge=0)
    faults: Faults = Field(default_factory=Faults)
    trunks: list[str] | None = None
    log_maxlen: int = Field(default=200_000, ge=1)
    auth_errors: Literal["strict", "livekit"] = "strict"
    room_auto_close: bool = True
    webhook_attempts: int = Field(default=4, ge=1)
    webhook_backoff_s: float = Field(default=0.2, ge=0)
