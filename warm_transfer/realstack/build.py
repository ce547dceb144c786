"""``python -m warm_transfer.realstack.build``: build the real LiveKit stack, once.

Installs the Debian packages the real tier uses (as root, when missing), then builds
livekit-server and livekit-sip from their pinned Go modules into ``.cache/livekit``:
``go mod download`` fetches the release from the Go module proxy, the module is copied
into the cache (a release whose go.mod has ``replace`` lines cannot be built with
``go install module@version``) and ``go build`` runs inside the copy. A program that
is already built is not built again. What cannot be built is written, with the reason,
to ``.cache/livekit/status.json``, and the tiers that need it print that reason.

Exit status is 0 whenever the step did what this machine allows; the tests decide
what runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Final

from warm_transfer.realstack.binaries import (
    CACHE,
    SERVER_MODULE,
    SERVER_PACKAGE,
    SERVER_VERSION,
    SIP_MODULE,
    SIP_PACKAGE,
    SIP_VERSION,
    STATUS_FILE,
    Binaries,
    RealStackUnavailable,
    locate,
    server_bin,
    sip_bin,
)

DEBIAN_PACKAGES: Final = (
    "redis-server",
    "sip-tester",
    "iproute2",
    # Loss and delay where the kernel has no sch_netem (warm_transfer.realstack.impair).
    "iptables",
    "pkg-config",
    "libopus-dev",
    "libopusfile-dev",
    "libsoxr-dev",
    "espeak-ng",  # the keypad briefer speaks the brief offline
    "tcpdump",  # the brief-audio test records what each phone heard
)


def say(text: str) -> None:
    """One progress line."""
    print(f"real-livekit: {text}", flush=True)


def install_debian_packages() -> str | None:
    """Installs missing packages with apt-get; returns why it could not, or None."""
    missing = [
        p
        for p in DEBIAN_PACKAGES
        if subprocess.run(["dpkg", "-s", p], capture_output=True).returncode != 0
    ]
    if not missing:
        return None
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return f"Debian packages missing and not root/apt-get to install them: {' '.join(missing)}"
    say(f"installing {' '.join(missing)} (apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *missing]):
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            return f"{' '.join(cmd[:2])} failed: {done.stderr.strip().splitlines()[-1:]}"
    return None


def _last_line(text: str) -> str:
    lines = [" ".join(line.split()) for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def build_module(module: str, version: str, package: str, out: Path, cgo: bool) -> str | None:
    """Builds ``package`` of ``module@version`` to ``out``; returns why not, or None."""
    if out.exists():
        say(f"{out.name} already built")
        return None
    go = shutil.which("go")
    if go is None:
        return "no Go toolchain on PATH"
    env = {
        **os.environ,
        "GOFLAGS": "-mod=mod",
        "CGO_ENABLED": "1" if cgo else "0",
        # Modules and build cache beside the binaries: one git-ignored folder holds it all.
        "GOMODCACHE": str(CACHE.parent / "go" / "mod"),
        "GOCACHE": str(CACHE.parent / "go" / "build"),
    }
    say(f"downloading {module}@{version} from the Go module proxy")
    got = subprocess.run(
        [go, "mod", "download", "-json", f"{module}@{version}"],
        capture_output=True,
        text=True,
        env=env,
    )
    if got.returncode != 0:
        try:
            detail = json.loads(got.stdout).get("Error") or _last_line(got.stderr)
        except ValueError:
            detail = _last_line(got.stderr or got.stdout)
        return f"the Go module proxy refused it ({' '.join(str(detail).split())})"
    src = CACHE / "src" / f"{out.name}"
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(json.loads(got.stdout)["Dir"], src)
    for path in [src, *src.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)  # the module cache is read-only
    say(f"building {out.name} (first time only: a few minutes)")
    started = time.monotonic()
    out.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [go, "build", "-trimpath", "-o", str(out), package],
        cwd=src,
        capture_output=True,
        text=True,
        env=env,
    )
    if done.returncode != 0:
        return f"go build failed: {_last_line(done.stderr)}"
    say(f"built {out.name} in {time.monotonic() - started:.0f} s")
    return None


def main() -> int:
    """Builds what this machine can build; records why the rest could not be."""
    CACHE.mkdir(parents=True, exist_ok=True)
    status: dict[str, str] = {}
    if why := install_debian_packages():
        say(why)
        status["debian"] = why
    for name, module, version, package, out, cgo in (
        ("livekit-server", SERVER_MODULE, SERVER_VERSION, SERVER_PACKAGE, server_bin(), False),
        ("livekit-sip", SIP_MODULE, SIP_VERSION, SIP_PACKAGE, sip_bin(), True),
    ):
        if why := build_module(module, version, package, out, cgo):
            say(f"{name} {version} not built: {why}")
            status[name] = why
    STATUS_FILE.write_text(json.dumps(status, indent=2) + "\n")
    return 0


def ensure_real_stack(sip: bool = True) -> Binaries:
    """The real stack's programs, built first if they are missing (progress shown).

    Raises:
        RealStackUnavailable: one line saying what this machine lacks.
    """
    if os.geteuid() != 0:
        raise RealStackUnavailable(
            "real LiveKit tier skipped: not root (network namespaces and veth links need root)"
        )
    try:
        found = locate()
    except RealStackUnavailable:
        found = None
    if found is None or (sip and found.livekit_sip is None):
        main()
        found = locate()
    if sip:
        found.require_sip()
    return found


if __name__ == "__main__":
    sys.exit(main())
