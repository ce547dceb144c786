"""Redis, livekit-server and livekit-sip, configured for one machine and started in the
stack's namespace.

The configuration keeps every address inside the stack's own network
(:mod:`warm_transfer.realstack.netns`): no external-IP discovery, STUN pointed at the
namespace's own address (nothing answers there, so nothing leaves), ICE candidates
and SIP/RTP addresses set explicitly. livekit-sip's CPU guard is opened fully: on a
2-core machine the tests themselves keep both cores busy, and a SIP service that
answers "under load" would turn every dial into a refusal.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import aiohttp

from warm_transfer.realstack.netns import Network

LIVEKIT_PORT: Final = 7880
SIP_PORT: Final = 5060
SIP_HEALTH_PORT: Final = 8081
DEBUG_PORT: Final = 7890
REDIS_PORT: Final = 6379


@dataclass(frozen=True)
class Credentials:
    """The API key pair livekit-server accepts and signs webhooks with."""

    api_key: str
    api_secret: str


def livekit_config(net: Network, creds: Credentials, webhook_urls: list[str]) -> dict[str, object]:
    """livekit-server's YAML (as a dict; JSON is YAML)."""
    config: dict[str, object] = {
        "port": LIVEKIT_PORT,
        "bind_addresses": [net.lk_ip],
        "redis": {"address": f"127.0.0.1:{REDIS_PORT}"},
        "keys": {creds.api_key: creds.api_secret},
        "rtc": {
            "tcp_port": 7881,
            "udp_port": 7882,
            "use_external_ip": False,
            "node_ip": net.lk_ip,
            "stun_servers": [f"{net.lk_ip}:3478"],
            "enable_loopback_candidate": False,
        },
        "turn": {"enabled": False},
        # /debug/rooms: the SFU's own view of who is subscribed to which track.
        "debug_handler": {"port": DEBUG_PORT},
        "logging": {"level": "info", "json": True},
    }
    if webhook_urls:
        config["webhook"] = {"api_key": creds.api_key, "urls": webhook_urls}
    return config


def sip_config(net: Network, creds: Credentials) -> dict[str, object]:
    """livekit-sip's YAML (as a dict)."""
    return {
        "api_key": creds.api_key,
        "api_secret": creds.api_secret,
        "ws_url": f"ws://{net.lk_ip}:{LIVEKIT_PORT}",
        "redis": {"address": f"127.0.0.1:{REDIS_PORT}"},
        "sip_port": SIP_PORT,
        "rtp_port": "20000-20999",
        "use_external_ip": False,
        "nat_1_to_1_ip": net.sip_ip,
        "listen_ip": net.sip_ip,
        "health_port": SIP_HEALTH_PORT,
        "max_cpu_utilization": 1.0,
        "logging": {"level": "debug", "json": True},
    }


# Loaded here, in the parent, once: a ``dlopen`` in a forked child of a threaded process
# can wait forever on a loader lock another thread held at the fork (seen: a pytest copy
# stuck on a futex, holding the webhook bridge's port, its livekit-sip never started).
try:
    _PRCTL: Callable[..., int] | None = ctypes.CDLL("libc.so.6", use_errno=True).prctl
except OSError:  # not glibc Linux: the real tier does not run there anyway
    _PRCTL = None
_PR_SET_PDEATHSIG: Final = 1


def die_with_parent() -> None:
    """``preexec_fn``: the child gets SIGKILL when the process that started it dies.

    A harness killed outright (SIGKILL, a CI timeout) must not leave servers, phones
    or agents running in namespaces nobody will remove. Only a call into libc happens
    in the child, nothing that takes a lock.
    """
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL)


class Service:
    """One server process inside the stack's namespace, logging to a file."""

    def __init__(self, name: str, cmd: list[str], log: Path, env: dict[str, str]) -> None:
        self.name = name
        self.cmd = cmd
        self.log = log
        self.env = env
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        """Starts the process (in its own session, so it can be killed with children)."""
        with open(self.log, "ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                *self.cmd,
                stdout=out,
                stderr=out,
                env=self.env or None,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )

    @property
    def running(self) -> bool:
        """True while the process lives."""
        return self.proc is not None and self.proc.returncode is None

    async def kill(self, sig: int) -> None:
        """Sends ``sig`` to the process group and waits for it to end."""
        if self.proc is None or self.proc.returncode is not None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            os.killpg(self.proc.pid, 9)
            await self.proc.wait()

    def failure(self) -> str:
        """Why it stopped: its exit status and the end of its log."""
        code = self.proc.returncode if self.proc else None
        tail = self.log.read_text(errors="replace").strip().splitlines()[-5:]
        return f"{self.name} exited with {code}: " + " | ".join(tail)


def write_config(path: Path, config: dict[str, object]) -> Path:
    """Writes a config readable only by its owner (it holds the API secret)."""
    path.write_text(json.dumps(config, indent=2))
    path.chmod(0o600)
    return path


async def wait_healthy(service: Service, probe: str, timeout: float = 60.0) -> None:
    """Waits until ``probe`` (``tcp:host:port`` or an HTTP URL) answers."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if not service.running:
            raise RuntimeError(service.failure())
        if await _answers(probe):
            return
        if loop.time() > deadline:
            raise TimeoutError(f"{service.name}: {probe} not healthy after {timeout} s")
        await asyncio.sleep(0.2)


async def _answers(probe: str) -> bool:
    if probe.startswith("tcp:"):
        _, host, port = probe.split(":")
        try:
            with socket.create_connection((host, int(port)), timeout=0.5):
                return True
        except OSError:
            return False
    try:
        timeout = aiohttp.ClientTimeout(total=1)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(probe) as r:
            return r.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False
