"""``LiveKitSim``: the stand-in server, in-process (tests) or behind ``__main__`` (demo)."""

from __future__ import annotations

import socket
from types import TracebackType
from typing import Any

import structlog
from aiohttp import web

from warm_transfer.livekit_sim.auth import Authenticator
from warm_transfer.livekit_sim.config import Faults, SimConfig
from warm_transfer.livekit_sim.dialer import Dialer
from warm_transfer.livekit_sim.events import CallLog, EventLog
from warm_transfer.livekit_sim.faults import FaultInjector
from warm_transfer.livekit_sim.inspection import add_routes
from warm_transfer.livekit_sim.model import Participant
from warm_transfer.livekit_sim.room_service import RoomService
from warm_transfer.livekit_sim.scenarios import ScenarioTable, load_builtin_scenarios
from warm_transfer.livekit_sim.services import AgentDispatchService, build_routes
from warm_transfer.livekit_sim.state import SimState
from warm_transfer.livekit_sim.transfers import TransferService
from warm_transfer.livekit_sim.twirp import PREFIX, TwirpApp
from warm_transfer.livekit_sim.webhooks import WebhookSender

log = structlog.get_logger(__name__)


class LiveKitSim:
    """A LiveKit server stand-in speaking Twirp to the unmodified ``livekit-api`` client.

    Usage::

        async with LiveKitSim(SimConfig(time_scale=0.01)) as sim:
            url = sim.url  # give it to LiveKitAPI(url, "devkey", DEV_API_SECRET)

    Args:
        config: Configuration; defaults to ``SimConfig()``.
    """

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        cfg = self.config
        self.events = EventLog(cfg.log_maxlen)
        self.calls = CallLog(cfg.log_maxlen)
        self.webhooks = WebhookSender(
            cfg.webhook_urls,
            cfg.api_key,
            cfg.api_secret,
            cfg.webhook_attempts,
            cfg.webhook_backoff_s,
        )
        self.state = SimState(cfg, self.events, self.webhooks)
        self.dialer = Dialer(self.state, self._configured_scenarios(), cfg.time_scale, cfg.trunks)
        self.transfers = TransferService(self.state, self.dialer)
        self.faults = FaultInjector(cfg.faults)
        rooms = RoomService(cfg, self.state, self.dialer)
        dispatch = AgentDispatchService(self.state, self.dialer)
        self.twirp = TwirpApp(
            build_routes(rooms, self.dialer, self.transfers, dispatch),
            Authenticator({cfg.api_key: cfg.api_secret}),
            self.faults,
            self.calls,
            cfg.auth_errors,
        )
        self._runner: web.AppRunner | None = None
        self.url = ""

    def _configured_scenarios(self) -> ScenarioTable:
        table = load_builtin_scenarios() if self.config.builtin_scenarios else {}
        table.update(self.config.scenarios)
        return table

    def make_app(self) -> web.Application:
        """The aiohttp application (Twirp API plus ``/sim`` endpoints)."""
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", PREFIX + "{tail:.*}", self.twirp.handle)
        add_routes(app, self)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Starts serving; returns the base URL (``http://host:port``, port resolved)."""
        if self._runner is not None:
            return self.url
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            sock.close()
            raise
        bound_port = sock.getsockname()[1]
        runner = web.AppRunner(self.make_app(), access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        # A deep backlog: the benchmark opens thousands of connections at once.
        await web.SockSite(runner, sock, backlog=4096).start()
        self._runner = runner
        shown = f"[{host}]" if family == socket.AF_INET6 else host
        self.url = f"http://{shown}:{bound_port}"
        log.info("livekit-sim started", url=self.url, self_hosted=self.config.self_hosted)
        return self.url

    async def stop(self) -> None:
        """Hangs up every call, stops serving and flushes nothing further."""
        self.state.reset()
        self.transfers.reset()
        # Long-polls would otherwise hold the shutdown for the runner's whole timeout.
        self.state.events.wake_pollers()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        await self.webhooks.aclose()
        log.info("livekit-sim stopped", url=self.url)

    async def __aenter__(self) -> LiveKitSim:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- runtime control (also behind the /sim endpoints) ---------------------------------

    def set_faults(self, faults: Faults) -> None:
        """Replaces the injected faults (restarting ``fail_first_n`` counting)."""
        self.faults.configure(faults)
        log.info("faults configured", **faults.model_dump(exclude_defaults=True))

    def set_scenarios(self, table: ScenarioTable, *, replace: bool = False) -> None:
        """Adds (or with ``replace``, sets) per-number scenarios; running legs keep theirs."""
        if replace:
            self.dialer.scenarios = dict(table)
        else:
            self.dialer.scenarios.update(table)

    def leave_on_own(self, p: Participant) -> None:
        """The participant leaves by itself (a caller hanging up): CLIENT_INITIATED."""
        self.dialer.hang_up(p)

    def reset(self) -> None:
        """Back to a fresh start: no rooms, logs, faults or runtime scenarios."""
        self.state.reset()
        self.transfers.reset()
        self.dialer.scenarios = self._configured_scenarios()
        self.faults.configure(self.config.faults)
        self.faults.injected.clear()
        self.events.clear()
        self.calls.clear()
        self.webhooks.clear()

    def snapshot(self) -> dict[str, Any]:
        """Everything ``GET /sim/state`` shows."""
        return {
            "rooms": self.state.snapshot(),
            "counters": dict(self.state.counters),
            "faults": self.faults.faults.model_dump(),
            "faults_injected": dict(self.faults.injected),
            "last_event_seq": self.events.last_seq,
            "calls_logged": len(self.calls),
            "webhooks": {"sent": self.webhooks.sent, "failed": self.webhooks.failed},
        }
