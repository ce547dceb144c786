"""`RealLiveKit`: Redis, livekit-server, livekit-sip, the phones and the trunks, up and
healthy in a network of their own, and all of it gone again on stop (Ctrl-C too).

    async with RealLiveKit(workdir) as lk:
        lk.url, lk.api_key, lk.api_secret      # what the worker's LIVEKIT_* are
        lk.destination("+15105550100")         # a Destination naming that phone's trunk
        lk.phones["+15105550100"].read_log()   # what that phone received
        lk.inbound_trunk_id                    # the support line callers dial in to
"""

from __future__ import annotations

import asyncio
import secrets
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from livekit import api

from warm_transfer.models import Destination
from warm_transfer.realstack.binaries import Binaries, RealStackUnavailable, locate
from warm_transfer.realstack.dialin import (
    CALL_TAG_ATTRIBUTE,
    CALL_TAG_HEADER,
    SUPPORT_LINE,
    TRANSFER_PLAN_ATTRIBUTE,
    TRANSFER_PLAN_HEADER,
)
from warm_transfer.realstack.netns import Network, allocate_network
from warm_transfer.realstack.phones import CALLER_NUMBER, TRUNK_NUMBER, Phone, open_phones
from warm_transfer.realstack.servers import (
    LIVEKIT_PORT,
    REDIS_PORT,
    SIP_HEALTH_PORT,
    Credentials,
    Service,
    livekit_config,
    sip_config,
    wait_healthy,
    write_config,
)

log = structlog.get_logger(__name__)

# On the host's end of the link: the webhook bridge, and the harness's own observer.
WEBHOOK_PORT = 18090
OBSERVER_PORT = 18091


@dataclass
class RealLiveKit:
    """The real LiveKit stack of one test run, demo or bench.

    Args:
        workdir: configs and every process's log go here.
        sip: start livekit-sip and the phones (False: the server-only tier).
        webhooks: have livekit-server post webhooks to the host's end of the link,
            where a webhook bridge (``webhook_bind``) and an observer may listen.
    """

    workdir: Path
    sip: bool = True
    webhooks: bool = True
    binaries: Binaries = field(default_factory=locate)
    net: Network | None = field(init=False, default=None)
    creds: Credentials = field(init=False)
    services: dict[str, Service] = field(init=False, default_factory=dict)
    phones: dict[str, Phone] = field(init=False, default_factory=dict)
    inbound_trunk_id: str = field(init=False, default="")
    _lk: api.LiveKitAPI | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.sip:
            self.binaries.require_sip()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.creds = Credentials("devkey", secrets.token_urlsafe(32))

    # -- where things are ---------------------------------------------------------

    @property
    def network(self) -> Network:
        """The stack's network (started stacks only)."""
        if self.net is None:
            raise RuntimeError("the real stack is not started")
        return self.net

    @property
    def url(self) -> str:
        """livekit-server's HTTP URL (Twirp API), for ``LIVEKIT_URL``."""
        return f"http://{self.network.lk_ip}:{LIVEKIT_PORT}"

    @property
    def ws_url(self) -> str:
        """livekit-server's WebSocket URL, for participants and agents."""
        return f"ws://{self.network.lk_ip}:{LIVEKIT_PORT}"

    @property
    def webhook_bind(self) -> str:
        """Where a webhook bridge must listen for livekit-server's webhooks."""
        return f"{self.network.host_ip}:{WEBHOOK_PORT}"

    @property
    def api_key(self) -> str:
        """The API key."""
        return self.creds.api_key

    @property
    def api_secret(self) -> str:
        """The API secret (never logged)."""
        return self.creds.api_secret

    @property
    def lk(self) -> api.LiveKitAPI:
        """A `livekit-api` client of the stack (the harness's own, not the worker's)."""
        if self._lk is None:
            self._lk = api.LiveKitAPI(self.url, self.api_key, self.api_secret)
        return self._lk

    @property
    def caller_trunk_id(self) -> str:
        """The trunk that dials the caller's phone."""
        return self.phones[CALLER_NUMBER].trunk_id

    def destination(self, number: str, **fields: Any) -> Destination:
        """A hunt-list entry for the phone at ``number``, through its own trunk."""
        return Destination(sip_call_to=number, sip_trunk_id=self.phones[number].trunk_id, **fields)

    # -- lifecycle ----------------------------------------------------------------

    async def start(self) -> None:
        """Starts everything and waits until it is healthy; stops it all on failure."""
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        self.net = net = await asyncio.to_thread(allocate_network)
        hooks = [
            f"http://{net.host_ip}:{port}/livekit/webhook" for port in (WEBHOOK_PORT, OBSERVER_PORT)
        ]
        hooks = hooks if self.webhooks else []
        lk_conf = write_config(
            self.workdir / "livekit.yaml", livekit_config(net, self.creds, hooks)
        )
        redis = ["redis-server", "--bind", f"127.0.0.1 {net.lk_ip}", "--port", str(REDIS_PORT)]
        # Persistent, as a production Redis is: livekit-server keeps SIP trunks, dispatch
        # rules and rooms in it, and an empty Redis after a restart has none of them.
        redis += ["--save", "", "--appendonly", "yes", "--appendfsync", "always"]
        redis += ["--dir", str(self.workdir.resolve()), "--protected-mode", "no"]
        await self._service("redis", redis, f"tcp:{net.lk_ip}:{REDIS_PORT}")
        server = [str(self.binaries.livekit_server), "--config", str(lk_conf)]
        await self._service("livekit-server", server, f"http://{net.lk_ip}:{LIVEKIT_PORT}/")
        if not self.sip:
            return
        sip_conf = write_config(self.workdir / "sip.yaml", sip_config(net, self.creds))
        sip = [str(self.binaries.require_sip()), "--config", str(sip_conf)]
        await self._service("livekit-sip", sip, f"http://{net.lk_ip}:{SIP_HEALTH_PORT}/")
        self.phones = open_phones(net, self.workdir)
        await asyncio.gather(*(phone.start() for phone in self.phones.values()))
        await asyncio.sleep(0.3)
        dead = [p.spec.number for p in self.phones.values() if not p.running]
        if dead:
            raise RuntimeError(f"sipp phones did not start: {dead} (see {self.workdir})")
        for phone in self.phones.values():
            phone.trunk_id = await self.create_trunk(phone.spec.description, phone.address)
        self.inbound_trunk_id = await self.create_support_line()
        log.info("real LiveKit stack up", livekit=self.url, phones=len(self.phones))

    async def create_trunk(self, name: str, address: str) -> str:
        """An outbound trunk to ``address`` (host:port), with the one number it shows."""
        trunk = await self.lk.sip.create_outbound_trunk(
            api.CreateSIPOutboundTrunkRequest(
                trunk=api.SIPOutboundTrunkInfo(name=name, address=address, numbers=[TRUNK_NUMBER])
            )
        )
        return trunk.sip_trunk_id

    async def create_support_line(self) -> str:
        """The inbound trunk callers dial (`SUPPORT_LINE`) and its dispatch rule: every
        call in a room of its own (``call_<caller>_<random>``), the voice agent worker
        dispatched into it, the INVITE's tag and transfer plan as caller attributes."""
        from warm_transfer.realstack.people import VOICE_AGENT_NAME

        trunk = await self.lk.sip.create_inbound_trunk(
            api.CreateSIPInboundTrunkRequest(
                trunk=api.SIPInboundTrunkInfo(
                    name="support line",
                    numbers=[SUPPORT_LINE],
                    headers_to_attributes={
                        CALL_TAG_HEADER: CALL_TAG_ATTRIBUTE,
                        TRANSFER_PLAN_HEADER: TRANSFER_PLAN_ATTRIBUTE,
                    },
                )
            )
        )
        await self.lk.sip.create_dispatch_rule(
            api.CreateSIPDispatchRuleRequest(
                dispatch_rule=api.SIPDispatchRuleInfo(
                    name="support line: one room per call, the voice agent in it",
                    trunk_ids=[trunk.sip_trunk_id],
                    rule=api.SIPDispatchRule(
                        dispatch_rule_individual=api.SIPDispatchRuleIndividual(room_prefix="call")
                    ),
                    room_config=api.RoomConfiguration(
                        agents=[api.RoomAgentDispatch(agent_name=VOICE_AGENT_NAME)]
                    ),
                )
            )
        )
        return trunk.sip_trunk_id

    async def _service(self, name: str, cmd: list[str], probe: str) -> Service:
        service = Service(
            name, self.network.in_ns(self.network.lk_ns, cmd), self.workdir / f"{name}.log", {}
        )
        self.services[name] = service
        await service.start()
        await wait_healthy(service, probe)
        return service

    async def restart(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Kills one server (SIGKILL: a crash) and starts it again, healthy."""
        service = self.services[name]
        await service.kill(sig)
        await service.start()
        probes = {
            "redis": f"tcp:{self.network.lk_ip}:{REDIS_PORT}",
            "livekit-server": f"{self.url}/",
            "livekit-sip": f"http://{self.network.lk_ip}:{SIP_HEALTH_PORT}/",
        }
        await wait_healthy(service, probes[name])

    async def stop(self) -> None:
        """Stops every process and removes the network (safe to call twice)."""
        if self._lk is not None:
            await self._lk.aclose()
            self._lk = None
        await asyncio.gather(*(phone.stop() for phone in self.phones.values()))
        for name in ("livekit-sip", "livekit-server", "redis"):
            if name in self.services:
                await self.services[name].kill(signal.SIGTERM)
        if self.net is not None:
            await asyncio.to_thread(self.net.destroy)
            self.net = None

    async def __aenter__(self) -> RealLiveKit:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


__all__ = ["RealLiveKit", "RealStackUnavailable"]
