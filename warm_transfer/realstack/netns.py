"""The real stack's own network: two namespaces, two veth links, private addresses.

::

    host (worker, agents, tests)      namespace "lk"                 namespace "ph"
    10.211.N.1  ── veth ──  10.211.N.2  Redis, livekit-server,
                            10.212.N.1  livekit-sip       ── veth ──  10.212.N.2  phones

Inside the namespaces there is no other interface, so nothing LiveKit runs there can
advertise, bind or reach any address but these: livekit-sip's "external IP" and
livekit-server's ICE candidates are these addresses by construction. The phones sit
behind their own link so that a lossy or slow SIP/RTP path is one ``tc netem`` on it.
Everything is made with ``ip`` (iproute2) as root and removed on stop; a namespace left
by a run that was killed is removed by the next run (its owner process is gone).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import structlog

log = structlog.get_logger(__name__)

_OWNERS: Final = Path("/run/warm-transfer-netns")
_SLOTS: Final = range(1, 250)


class NetworkUnavailable(RuntimeError):
    """Namespaces cannot be made here (not root, no iproute2, no veth)."""


class SlotTaken(RuntimeError):
    """Another run holds this slot's namespace."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


@dataclass(frozen=True)
class Network:
    """The addresses and namespace names of one real stack.

    Attributes:
        slot: N in the addresses above; unique among the stacks running here.
    """

    slot: int

    @property
    def lk_ns(self) -> str:
        """The namespace of Redis, livekit-server and livekit-sip."""
        return f"wt{self.slot}-lk"

    @property
    def phones_ns(self) -> str:
        """The namespace of the phones."""
        return f"wt{self.slot}-ph"

    @property
    def host_ip(self) -> str:
        """The host's end of the link to ``lk``: webhooks and agents are reached here."""
        return f"10.211.{self.slot}.1"

    @property
    def lk_ip(self) -> str:
        """livekit-server's address (HTTP, WebSocket, ICE)."""
        return f"10.211.{self.slot}.2"

    @property
    def sip_ip(self) -> str:
        """livekit-sip's address towards the phones (SIP signalling and RTP)."""
        return f"10.212.{self.slot}.1"

    @property
    def phones_ip(self) -> str:
        """The phones' address."""
        return f"10.212.{self.slot}.2"

    @property
    def phones_link(self) -> str:
        """The phones' end of the SIP/RTP link, inside ``phones_ns`` (for ``tc netem``)."""
        return f"wt{self.slot}p"

    def in_ns(self, ns: str, cmd: list[str]) -> list[str]:
        """``cmd`` run inside namespace ``ns``."""
        return ["ip", "netns", "exec", ns, *cmd]

    def create(self) -> None:
        """Makes the namespaces and links; raises NetworkUnavailable if it cannot."""
        s = self.slot
        steps = [
            ["netns", "add", self.lk_ns],
            ["netns", "add", self.phones_ns],
            ["link", "add", f"wt{s}h", "type", "veth", "peer", "name", f"wt{s}l"],
            ["link", "set", f"wt{s}l", "netns", self.lk_ns],
            ["addr", "add", f"{self.host_ip}/24", "dev", f"wt{s}h"],
            ["link", "set", f"wt{s}h", "up"],
            ["-n", self.lk_ns, "addr", "add", f"{self.lk_ip}/24", "dev", f"wt{s}l"],
            ["-n", self.lk_ns, "link", "set", f"wt{s}l", "up"],
            ["-n", self.lk_ns, "link", "set", "lo", "up"],
            ["link", "add", f"wt{s}s", "type", "veth", "peer", "name", self.phones_link],
            ["link", "set", f"wt{s}s", "netns", self.lk_ns],
            ["link", "set", self.phones_link, "netns", self.phones_ns],
            ["-n", self.lk_ns, "addr", "add", f"{self.sip_ip}/24", "dev", f"wt{s}s"],
            ["-n", self.lk_ns, "link", "set", f"wt{s}s", "up"],
            ["-n", self.phones_ns, "addr", "add", f"{self.phones_ip}/24", "dev", self.phones_link],
            ["-n", self.phones_ns, "link", "set", self.phones_link, "up"],
            ["-n", self.phones_ns, "link", "set", "lo", "up"],
        ]
        # The first step claims the slot: `ip netns add` fails if the name exists.
        if _ip(*steps[0], check=False).returncode != 0:
            raise SlotTaken(self.lk_ns)
        for step in steps[1:]:
            done = _ip(*step, check=False)
            if done.returncode != 0:
                self.destroy()
                raise NetworkUnavailable(f"ip {' '.join(step)}: {done.stderr.strip()}")
        _OWNERS.mkdir(parents=True, exist_ok=True)
        (_OWNERS / str(s)).write_text(str(os.getpid()))
        log.info("network created", slot=s, livekit=self.lk_ip, phones=self.phones_ip)

    def destroy(self) -> None:
        """Removes the namespaces and links (deleting a namespace deletes its links)."""
        _ip("link", "del", f"wt{self.slot}h", check=False)
        for ns in (self.lk_ns, self.phones_ns):
            _ip("netns", "del", ns, check=False)
        with contextlib.suppress(FileNotFoundError):
            (_OWNERS / str(self.slot)).unlink()

    async def netem(self, spec: str | None) -> None:
        """Sets (``"loss 5%"``, ``"delay 200ms"``) or clears packet impairment on the
        phones' link, both ways."""
        for ns, dev in ((self.phones_ns, self.phones_link), (self.lk_ns, f"wt{self.slot}s")):
            cmd = ["tc", "qdisc", "replace" if spec else "del", "dev", dev, "root"]
            if spec:
                cmd += ["netem", *spec.split()]
            proc = await asyncio.create_subprocess_exec(
                *self.in_ns(ns, cmd), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            _, err = await proc.communicate()
            if proc.returncode and spec:
                raise RuntimeError(f"tc netem {spec!r} on {dev}: {err.decode().strip()}")


def allocate_network() -> Network:
    """A free slot's network, created; stale namespaces of dead runs are removed first.

    Raises:
        NetworkUnavailable: not root, no ``ip``, or the kernel refuses namespaces or veth.
    """
    if os.geteuid() != 0:
        raise NetworkUnavailable("not root: network namespaces and veth links need root")
    try:
        existing = _ip("netns", "list").stdout
    except (FileNotFoundError, subprocess.CalledProcessError) as err:
        raise NetworkUnavailable(f"iproute2 'ip netns' does not work: {err}") from None
    taken = set()
    for slot in _SLOTS:
        if f"wt{slot}-lk" in existing or f"wt{slot}-ph" in existing:
            if _owner_alive(slot):
                taken.add(slot)
            else:
                Network(slot).destroy()
    for slot in _SLOTS:
        if slot in taken:
            continue
        net = Network(slot)
        try:
            net.create()
        except SlotTaken:
            continue  # a run starting at the same moment took it first
        return net
    raise NetworkUnavailable("every network slot is in use")


def _owner_alive(slot: int) -> bool:
    try:
        pid = int((_OWNERS / str(slot)).read_text())
    except (FileNotFoundError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
