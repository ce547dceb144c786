"""A sipp process in the phones' namespace: how the answering phones and the dial-in
caller start, watch and stop theirs."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from warm_transfer.realstack.netns import Network
from warm_transfer.realstack.phonelog import PhoneLog, PhoneLogReader
from warm_transfer.realstack.servers import die_with_parent


async def start_sipp(net: Network, args: list[str], output: Path) -> asyncio.subprocess.Process:
    """Starts ``sipp args`` in the phones' namespace, its output appended to ``output``;
    it dies with this process."""
    with open(output, "ab") as out:
        return await asyncio.create_subprocess_exec(
            *net.in_ns(net.phones_ns, ["sipp", *args]),
            stdout=out,
            stderr=out,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )


async def stop_sipp(proc: asyncio.subprocess.Process | None) -> None:
    """Stops a sipp (SIGTERM, then SIGKILL after 5 s); nothing if it has ended."""
    if proc is None or proc.returncode is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        await asyncio.wait_for(proc.wait(), 5)
    except TimeoutError:
        os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()


class SippProcess:
    """One phone's sipp: its SIP and media ports on the phones' address, and its log.

    Args:
        net: the stack's network (sipp runs in the phones' namespace).
        port: the phone's SIP port.
        media_port: its RTP port (sipp takes it and the next three).
        log_path: every SIP message goes here; its errors and output beside it.
    """

    def __init__(self, net: Network, port: int, media_port: int, log_path: Path) -> None:
        self.net = net
        self.port = port
        self.media_port = media_port
        self.log_path = log_path
        self._log = PhoneLogReader(log_path)
        self._proc: asyncio.subprocess.Process | None = None

    async def _run_sipp(self, args: list[str]) -> None:
        """Starts sipp with ``args`` (scenario, target) bound to the phone's ports."""
        ip = self.net.phones_ip
        cmd = [*args, "-i", ip, "-p", str(self.port), "-mi", ip, "-mp", str(self.media_port)]
        cmd += ["-trace_msg", "-message_file", str(self.log_path)]
        cmd += ["-trace_err", "-error_file", str(self.log_path.with_suffix(".err")), "-nostdin"]
        self._proc = await start_sipp(self.net, cmd, self.log_path.with_suffix(".out"))

    @property
    def running(self) -> bool:
        """True while sipp lives."""
        return self._proc is not None and self._proc.returncode is None

    def read_log(self) -> PhoneLog:
        """Every SIP message of the phone so far (read incrementally)."""
        return self._log.read()

    async def stop(self) -> None:
        """Stops sipp (and any call with it)."""
        await stop_sipp(self._proc)
