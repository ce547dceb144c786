"""Test helpers: an in-process sim with a real ``LiveKitAPI`` client and a ``SimControl``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from livekit.api import LiveKitAPI

from warm_transfer.livekit_sim.config import SimConfig
from warm_transfer.livekit_sim.control import SimControl
from warm_transfer.livekit_sim.server import LiveKitSim


@dataclass(frozen=True, slots=True)
class SimHarness:
    """A running sim, the official client pointed at it, and its control client."""

    sim: LiveKitSim
    url: str
    api: LiveKitAPI
    control: SimControl

    def client(self, api_key: str | None = None, api_secret: str | None = None) -> LiveKitAPI:
        """Another ``LiveKitAPI`` on the sim (e.g. with wrong credentials); close it."""
        cfg = self.sim.config
        return LiveKitAPI(self.url, api_key or cfg.api_key, api_secret or cfg.api_secret)


@asynccontextmanager
async def sim_harness(config: SimConfig | None = None) -> AsyncIterator[SimHarness]:
    """Starts a sim on a free port and yields it with its clients; stops everything after.

    Args:
        config: Sim configuration; ``SimConfig()`` by default.
    """
    sim = LiveKitSim(config)
    url = await sim.start()
    api = LiveKitAPI(url, sim.config.api_key, sim.config.api_secret)
    control = SimControl(url)
    try:
        yield SimHarness(sim, url, api, control)
    finally:
        await api.aclose()
        await control.aclose()
        await sim.stop()
