"""A lossy or slow link in the real stack: ``tc netem``, or netfilter where netem is missing.

Two links can be impaired, both ways at once (as ``netem`` on both ends would):

* ``phones``: the SIP/RTP path between livekit-sip and the phones;
* ``api``: the path between the host (worker, agents, webhook bridge) and
  livekit-server, which makes every LiveKit API call, webhook and agent signal slow.

``tc qdisc ... netem`` is tried first. Kernels built without ``sch_netem`` answer
"Specified qdisc kind is unknown"; there the same impairment is made with netfilter:
loss is ``iptables -m statistic --mode random`` dropping arriving packets (silently,
as a lossy wire does; a drop on the way out would fail the sender's ``sendto``), and
delay is every packet of the link queued (``NFQUEUE``) to
`warm_transfer.realstack.nfqueue`, which lets each one go the given time after it
arrived, in order.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Final, Literal

from warm_transfer.realstack.netns import Network
from warm_transfer.realstack.servers import die_with_parent

Link = Literal["phones", "api"]
_QUEUE: Final = 7
_NO_NETEM: Final = "qdisc kind is unknown"


@dataclass(frozen=True)
class Impairment:
    """Loss and delay, each way.

    Attributes:
        loss_pct: packets lost, per direction, in percent.
        delay_ms: added one-way delay, per direction.
    """

    loss_pct: float = 0.0
    delay_ms: float = 0.0

    @classmethod
    def parse(cls, spec: str) -> Impairment:
        """``"loss 5%"``, ``"delay 200ms"`` or both (``"delay 200ms loss 5%"``)."""
        loss = re.search(r"loss\s+([\d.]+)%", spec)
        delay = re.search(r"delay\s+([\d.]+)ms", spec)
        if loss is None and delay is None:
            raise ValueError(f"not an impairment: {spec!r} (loss N% and/or delay Nms)")
        return cls(float(loss[1]) if loss else 0.0, float(delay[1]) if delay else 0.0)

    def netem(self) -> list[str]:
        """The ``netem`` arguments."""
        args = []
        if self.delay_ms:
            args += ["delay", f"{self.delay_ms:g}ms"]
        if self.loss_pct:
            args += ["loss", f"{self.loss_pct:g}%"]
        return args


@dataclass
class LinkImpairer:
    """Impairs one link of a stack's network, and lifts it again.

    Attributes:
        mechanism: ``netem`` or ``netfilter`` once applied; None while the link is clean.
    """

    net: Network
    link: Link
    mechanism: str | None = None
    _rules: list[tuple[str | None, list[str]]] = field(default_factory=list)
    _delayer: asyncio.subprocess.Process | None = None

    def _ends(self) -> list[tuple[str | None, str]]:
        """(namespace, device) of both ends; None is the host's own namespace."""
        s = self.net.slot
        if self.link == "phones":
            return [(self.net.phones_ns, self.net.phones_link), (self.net.lk_ns, f"wt{s}s")]
        return [(self.net.lk_ns, f"wt{s}l"), (None, f"wt{s}h")]

    def _in(self, ns: str | None, cmd: list[str]) -> list[str]:
        return cmd if ns is None else self.net.in_ns(ns, cmd)

    async def apply(self, impairment: Impairment) -> str:
        """Impairs the link (replacing any earlier impairment); returns the mechanism."""
        await self.clear()
        try:
            for ns, dev in self._ends():
                await _run(self._in(ns, ["tc", "qdisc", "replace", "dev", dev, "root", "netem",
                                         *impairment.netem()]))  # fmt: skip
            self.mechanism = "netem"
        except RuntimeError as err:
            if _NO_NETEM not in str(err):
                raise
            await self._netfilter(impairment)
            self.mechanism = "netfilter"
        return self.mechanism

    async def _netfilter(self, impairment: Impairment) -> None:
        if shutil.which("iptables") is None:
            raise RuntimeError("no sch_netem in this kernel and no iptables (Debian iptables)")
        ends = self._ends()
        if impairment.loss_pct:
            share = f"{impairment.loss_pct / 100:.4f}"
            for ns, dev in ends:
                rule = ["INPUT", "-i", dev, "-m", "statistic", "--mode", "random"]
                await self._rule(ns, [*rule, "--probability", share, "-j", "DROP"])
        if impairment.delay_ms:
            ns, dev = ends[0]  # both directions are queued at this end
            cmd = [sys.executable, "-m", "warm_transfer.realstack.nfqueue"]
            cmd += ["--queue", str(_QUEUE), "--delay-ms", f"{impairment.delay_ms:g}"]
            self._delayer = await asyncio.create_subprocess_exec(
                *self._in(ns, cmd),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
            assert self._delayer.stdout is not None
            ready = await asyncio.wait_for(self._delayer.stdout.readline(), 10)
            if not ready:
                err = b"" if self._delayer.stderr is None else await self._delayer.stderr.read()
                raise RuntimeError(f"nfqueue delayer did not start: {err.decode().strip()}")
            queue = ["-j", "NFQUEUE", "--queue-num", str(_QUEUE), "--queue-bypass"]
            await self._rule(ns, ["INPUT", "-i", dev, *queue])
            await self._rule(ns, ["OUTPUT", "-o", dev, *queue])

    async def _rule(self, ns: str | None, rule: list[str]) -> None:
        await _run(self._in(ns, ["iptables", "-I", *rule]))
        self._rules.append((ns, rule))

    async def clear(self) -> None:
        """Lifts the impairment (safe to call when there is none)."""
        for ns, dev in self._ends():
            await _run(self._in(ns, ["tc", "qdisc", "del", "dev", dev, "root"]), check=False)
        for ns, rule in reversed(self._rules):
            await _run(self._in(ns, ["iptables", "-D", *rule]), check=False)
        self._rules.clear()
        if self._delayer is not None and self._delayer.returncode is None:
            self._delayer.terminate()
            await self._delayer.wait()
        self._delayer = None
        self.mechanism = None


async def _run(cmd: list[str], check: bool = True) -> None:
    proc = await asyncio.create_subprocess_exec(
        *cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, err = await proc.communicate()
    if proc.returncode and check:
        raise RuntimeError(f"{' '.join(cmd[-8:])}: {err.decode().strip()}")
