"""The whole engine as real processes on one machine: dev server, LiveKit, workers.

Used by the demo, the process-level end-to-end tests, the fault suite (kill a worker,
restart the server) and the benchmark. LiveKit is the stand-in (``livekit="sim"``, the
default) or the real stack (``livekit="real"``: Redis, livekit-server, livekit-sip and
SIP phones in a network of their own, `warm_transfer.realstack`); `Stack.telephony`
gives the callers, humans and briefing agent of either behind one interface. Every
process runs in its own session and is stopped, with its children, when the stack
stops.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from warm_transfer.devserver import DevServer, free_port, wait_for_port
from warm_transfer.livekit_sim.config import DEV_API_KEY, DEV_API_SECRET
from warm_transfer.telephony import SimTelephony, Telephony

if TYPE_CHECKING:
    from warm_transfer.realstack.launcher import RealLiveKit

ROOT = Path(__file__).resolve().parent.parent
SIM_TRUNK = "ST_standin"
# The phone a destination without a trunk reaches on the real stack.
REAL_DEFAULT_NUMBER = "+15105550100"
LiveKitKind = Literal["sim", "real"]


@dataclass
class Stack:
    """Dev server + LiveKit stand-in + N workers, each a subprocess logging to ``workdir``.

    Args:
        workdir: where logs (and the server's database, if ``persistent``) go.
        time_scale: the stand-in's time scale (scenario durations multiplied by it).
        persistent: keep the server's state in a SQLite file, so a restart loses nothing.
        ui: start the Temporal Web UI.
        sim_args: extra stand-in command-line arguments (faults, ``--self-hosted``...).
        worker_env: extra environment for the workers.
        livekit: ``sim`` (the stand-in) or ``real`` (the real stack; it raises
            `RealStackUnavailable` with the reason where it cannot run).
        real_sip: with ``real``, start livekit-sip and the phones too.
        real_voice_agent: with ``real``, the AI agent of each call: ``webrtc`` (a bare
            participant) or ``worker`` (the LiveKit Agents voice agent worker).
    """

    workdir: Path
    time_scale: float = 1.0
    persistent: bool = False
    ui: bool = True
    sim_args: list[str] = field(default_factory=list)
    worker_env: dict[str, str] = field(default_factory=dict)
    livekit: LiveKitKind = "sim"
    real_sip: bool = True
    real_voice_agent: Literal["webrtc", "worker"] = "webrtc"
    server_port: int | None = None
    ui_port: int | None = None
    sim_port: int | None = None
    server: DevServer = field(init=False)
    sim_url: str = field(init=False, default="")
    _sim: asyncio.subprocess.Process | None = field(init=False, default=None)
    real: RealLiveKit | None = field(init=False, default=None)
    workers: list[asyncio.subprocess.Process] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.livekit == "real":
            from warm_transfer.realstack.launcher import RealLiveKit

            self.real = RealLiveKit(self.workdir / "livekit", sip=self.real_sip)
        self.server = DevServer(
            port=self.server_port or free_port(),
            fixed_port=self.server_port is not None,
            ui_port=(self.ui_port or free_port()) if self.ui else None,
            db_filename=str(self.workdir / "temporal.db") if self.persistent else None,
            log_path=self.workdir / "temporal.log",
        )

    @property
    def temporal_address(self) -> str:
        """Where clients connect."""
        return self.server.address

    @property
    def livekit_url(self) -> str:
        """The ``LIVEKIT_URL`` of the workers: the stand-in's or livekit-server's."""
        return self.real.url if self.real is not None else self.sim_url

    def worker_environment(self) -> dict[str, str]:
        """The environment a worker of this stack runs with (the contract's variables)."""
        livekit = {
            "LIVEKIT_URL": self.sim_url,
            "LIVEKIT_API_KEY": DEV_API_KEY,
            "LIVEKIT_API_SECRET": DEV_API_SECRET,
            "SIP_TRUNK_ID": SIM_TRUNK,
        }
        if self.real is not None:
            livekit = {
                "LIVEKIT_URL": self.real.url,
                "LIVEKIT_API_KEY": self.real.api_key,
                "LIVEKIT_API_SECRET": self.real.api_secret,
            }
            if self.real.phones:
                livekit["SIP_TRUNK_ID"] = self.real.phones[REAL_DEFAULT_NUMBER].trunk_id
        return {
            **os.environ,
            "TEMPORAL_ADDRESS": self.server.address,
            "TEMPORAL_UI_URL": self.server.ui_url or "",
            **livekit,
            "LOG_FORMAT": "json",
            **self.worker_env,
        }

    def telephony(self) -> Telephony:
        """The callers, humans and briefing agent of this stack's LiveKit."""
        if self.real is not None:
            from warm_transfer.realstack.telephony import RealTelephony

            return RealTelephony(
                self.real, self.server.address, self.workdir, self.real_voice_agent
            )
        return SimTelephony(self.sim_url, self.time_scale)

    async def start(self, workers: int = 1) -> None:
        """Starts the server, LiveKit and ``workers`` workers, ready to take work."""
        await self.server.start()
        if self.real is not None:
            await self.real.start()
        else:
            await self.start_sim()
        for _ in range(workers):
            await self.start_worker()

    async def start_sim(self) -> None:
        """Starts the LiveKit stand-in and waits until it listens."""
        port = self.sim_port or free_port()
        self.sim_url = f"http://127.0.0.1:{port}"
        cmd = [sys.executable, "-m", "warm_transfer.livekit_sim", "--port", str(port)]
        cmd += ["--api-key", DEV_API_KEY, "--api-secret", DEV_API_SECRET]
        cmd += ["--time-scale", str(self.time_scale), *self.sim_args]
        self._sim = await _spawn(cmd, self.workdir / "livekit-sim.log", dict(os.environ))
        await wait_for_port(port)

    async def start_worker(self) -> asyncio.subprocess.Process:
        """Starts one more ``python worker.py`` and waits until it polls its task queue."""
        log = self.workdir / f"worker-{len(self.workers)}.log"
        offset = log.stat().st_size if log.exists() else 0  # appended to: not a past run's
        proc = await _spawn([sys.executable, "worker.py"], log, self.worker_environment())
        self.workers.append(proc)
        await _wait_for_line(log, "worker started", proc, offset)
        return proc

    async def kill_worker(self, index: int = -1, sig: int = signal.SIGKILL) -> None:
        """Kills a worker (SIGKILL by default: no graceful shutdown, like a crash)."""
        proc = self.workers.pop(index)
        await _stop(proc, sig)

    async def stop(self) -> None:
        """Stops every process the stack started."""
        for proc in self.workers:
            await _stop(proc, signal.SIGTERM)
        self.workers.clear()
        if self._sim is not None:
            await _stop(self._sim, signal.SIGTERM)
            self._sim = None
        if self.real is not None:
            await self.real.stop()
        await self.server.stop()

    async def __aenter__(self) -> Stack:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def _spawn(cmd: list[str], log: Path, env: dict[str, str]) -> asyncio.subprocess.Process:
    with open(log, "ab") as out:
        return await asyncio.create_subprocess_exec(
            *cmd, cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True
        )


async def _stop(proc: asyncio.subprocess.Process, sig: int, timeout: float = 15.0) -> None:
    if proc.returncode is not None:
        return
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    try:
        await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError:
        os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()


async def _wait_for_line(
    log: Path, text: str, proc: asyncio.subprocess.Process, offset: int = 0, timeout: float = 60.0
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while text.encode() not in log.read_bytes()[offset:]:
        if proc.returncode is not None:
            raise RuntimeError(f"{log.name}: exited with {proc.returncode}: {log.read_text()}")
        if loop.time() > deadline:
            raise TimeoutError(f"{log.name}: no {text!r} after {timeout} s")
        await asyncio.sleep(0.05)
