"""The dev server's frontend port taken between picking it and binding it."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from warm_transfer.devserver import DevServer


def taken_port() -> socket.socket:
    # Bound, not listening: the server's bind fails, and nothing answers on the port.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.mark.timeout(120)
async def test_a_port_taken_before_the_bind_is_given_up_for_another(tmp_path: Path) -> None:
    with taken_port() as sock:
        busy = sock.getsockname()[1]
        server = DevServer(port=busy, ui_port=None, log_path=tmp_path / "temporal.log")
        await server.start()
        try:
            assert server.port != busy and server.fixed_port  # a restart stays put
        finally:
            await server.stop()
    assert "address already in use" in (tmp_path / "temporal.log").read_text()


@pytest.mark.timeout(120)
async def test_a_port_asked_for_is_never_swapped(tmp_path: Path) -> None:
    with taken_port() as sock:
        busy = sock.getsockname()[1]
        server = DevServer(port=busy, ui_port=None, fixed_port=True, log_path=tmp_path / "t.log")
        with pytest.raises(RuntimeError, match=f"exited before it listened on {busy}"):
            await server.start()
