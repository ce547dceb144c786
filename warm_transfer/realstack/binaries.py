"""Where the real stack's programs come from, and why one is missing.

livekit-server and livekit-sip are built by ``make real-livekit`` (``python -m
warm_transfer.realstack.build``) from their pinned Go modules into ``.cache/livekit``
(git-ignored). Redis, sipp and iproute2 come from Debian. :func:`locate` finds them all
or says, in one line, what is missing and what it needs; the tests, the demo and the
bench print that line instead of failing.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[2]
CACHE: Final = ROOT / ".cache" / "livekit"
STATUS_FILE: Final = CACHE / "status.json"

# Pinned releases, built inside a copy of the downloaded module (a release whose go.mod
# has replace lines cannot be built with `go install`). v1.13.5 is the newest
# livekit-server that builds from the Go module proxy reachable here: v1.13.6 to
# v1.13.11 replace pion with LiveKit forks the proxy does not serve.
SERVER_MODULE: Final = "github.com/livekit/livekit-server"
SERVER_VERSION: Final = "v1.13.5"
SERVER_PACKAGE: Final = "./cmd/server"
SIP_MODULE: Final = "github.com/livekit/sip"
SIP_VERSION: Final = "v1.11.0"
SIP_PACKAGE: Final = "./cmd/livekit-sip"
# A livekit-sip built elsewhere (the module proxy may not serve it): its path.
SIP_BIN_ENV: Final = "LIVEKIT_SIP_BIN"
SERVER_BIN_ENV: Final = "LIVEKIT_SERVER_BIN"


class RealStackUnavailable(RuntimeError):
    """The real stack cannot run on this machine; the message says why and what it needs."""


@dataclass(frozen=True)
class Binaries:
    """Every program the real stack starts."""

    livekit_server: Path
    livekit_sip: Path | None
    redis_server: Path
    sipp: Path

    def require_sip(self) -> Path:
        """livekit-sip, or the one line saying why it is not here."""
        if self.livekit_sip is None:
            raise RealStackUnavailable(sip_missing_reason())
        return self.livekit_sip


def server_bin() -> Path:
    """Where ``make real-livekit`` puts livekit-server."""
    return CACHE / "bin" / f"livekit-server-{SERVER_VERSION}"


def sip_bin() -> Path:
    """Where ``make real-livekit`` puts livekit-sip."""
    return CACHE / "bin" / f"livekit-sip-{SIP_VERSION}"


def build_status() -> dict[str, str]:
    """What the last build said of each program that it could not build."""
    try:
        data = json.loads(STATUS_FILE.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def sip_missing_reason() -> str:
    """One line: why there is no livekit-sip, and what would give one."""
    why = build_status().get("livekit-sip") or "not built yet (run `make real-livekit`)"
    return (
        f"real SIP tier skipped: livekit-sip {SIP_VERSION} unavailable: {why}; "
        f"it needs the Go module proxy to serve {SIP_MODULE}, or {SIP_BIN_ENV}=<a livekit-sip>"
    )


def _from_env(var: str) -> Path | None:
    value = os.environ.get(var, "").strip()
    if not value:
        return None
    path = Path(value)
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise RealStackUnavailable(f"{var}={value} is not an executable file")
    return path


def locate() -> Binaries:
    """Finds every program, or raises RealStackUnavailable naming what is missing.

    livekit-sip alone may be missing: the server-only tier runs without it.
    """
    missing = [
        f"{name} (Debian package {pkg})"
        for name, pkg in (
            ("redis-server", "redis-server"),
            ("sipp", "sip-tester"),
            ("ip", "iproute2"),
        )
        if shutil.which(name) is None
    ]
    if missing:
        raise RealStackUnavailable(
            f"real LiveKit tier skipped: missing {', '.join(missing)}; `make real-livekit` "
            "installs them as root"
        )
    server = _from_env(SERVER_BIN_ENV) or server_bin()
    if not server.exists():
        why = build_status().get("livekit-server") or "not built yet (run `make real-livekit`)"
        raise RealStackUnavailable(
            f"real LiveKit tier skipped: livekit-server {SERVER_VERSION} unavailable: {why}; "
            "it needs Go (1.26+) and the Go module proxy"
        )
    sip = _from_env(SIP_BIN_ENV) or (sip_bin() if sip_bin().exists() else None)
    return Binaries(
        livekit_server=server,
        livekit_sip=sip,
        redis_server=Path(shutil.which("redis-server") or "redis-server"),
        sipp=Path(shutil.which("sipp") or "sipp"),
    )
