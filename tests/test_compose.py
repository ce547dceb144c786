"""docker-compose.yml and the Dockerfile, read as Docker would (no Docker engine here).

Checks what would break a `docker compose up`: services, published ports, start
order, the worker's environment against CONTRACT.md and against the worker's own
settings parser, the search attributes against the engine's, and that the image
holds every module the package is built from and runs the worker.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from warm_transfer import search_attributes as sa
from warm_transfer.config import LiveKitSettings, ObservabilitySettings, TemporalSettings
from warm_transfer.stack import ROOT

CONTRACT = Path(__file__).resolve().parent.parent / "docs" / "CONTRACT.md"
_VARIABLE = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def defaults(value: object) -> str:
    """A value as Compose interpolates it with an empty environment: the defaults."""
    return _VARIABLE.sub(lambda m: m.group(2) or "", str(value))


def published(service: dict[str, Any]) -> dict[int, str]:
    """Container port -> host address it is published on."""
    ports = {}
    for spec in service.get("ports", []):
        host_ip, host_port, container = str(spec).rsplit(":", 2)
        assert host_port == container, f"{spec}: keep the same port on both sides"
        ports[int(container)] = host_ip
    return ports


def worker_env(compose: dict[str, Any]) -> dict[str, str]:
    return {k: defaults(v) for k, v in services(compose)["worker"]["environment"].items()}


def test_every_service_is_there_with_its_image(compose: dict[str, Any]) -> None:
    images = {name: str(s.get("image", "")) for name, s in services(compose).items()}
    assert images["postgresql"].startswith("postgres:")
    assert images["temporal"].startswith("temporalio/server:")
    assert images["temporal-ui"].startswith("temporalio/ui:")
    assert images["temporal-schema"].startswith("temporalio/admin-tools:")
    assert images["temporal-setup"].startswith("temporalio/admin-tools:")
    # The worker, the stand-in and the codec server are this repository's image.
    for name in ("worker", "livekit-sim", "codec-server"):
        assert services(compose)[name]["build"] == "."
        assert images[name] == "warm-transfer-engine:local"
    assert services(compose)["codec-server"]["profiles"] == ["encryption"]


def test_ports_are_published_on_localhost_only(compose: dict[str, Any]) -> None:
    want = {
        "temporal": 7233,
        "temporal-ui": 8080,
        "worker": 9464,
        "livekit-sim": 7880,
        "codec-server": 8081,
    }
    for name, port in want.items():
        assert published(services(compose)[name]) == {port: "127.0.0.1"}, name
    assert worker_env(compose)["METRICS_BIND"] == "0.0.0.0:9464"


def test_services_start_in_order(compose: dict[str, Any]) -> None:
    def waits_for(name: str) -> dict[str, str]:
        depends = services(compose)[name]["depends_on"]
        return {other: spec["condition"] for other, spec in depends.items()}

    assert waits_for("temporal-schema") == {"postgresql": "service_healthy"}
    assert waits_for("temporal") == {"temporal-schema": "service_completed_successfully"}
    assert waits_for("temporal-setup") == {"temporal": "service_healthy"}
    assert waits_for("temporal-ui") == {"temporal": "service_healthy"}
    assert waits_for("worker") == {
        "temporal-setup": "service_completed_successfully",
        "livekit-sim": "service_started",
    }
    # Dropping the stand-in (LiveKit Cloud) must not stop the worker from starting.
    assert services(compose)["worker"]["depends_on"]["livekit-sim"]["required"] is False
    for name in ("postgresql", "temporal"):
        assert services(compose)[name]["healthcheck"]["test"]


def test_worker_environment_covers_the_contract_and_parses(compose: dict[str, Any]) -> None:
    row = next(line for line in CONTRACT.read_text().splitlines() if line.startswith("| worker"))
    contract_vars = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", row))
    assert {"TEMPORAL_ADDRESS", "LIVEKIT_URL", "SIP_TRUNK_ID"} <= contract_vars
    env = worker_env(compose)
    assert contract_vars <= set(env), contract_vars - set(env)
    # The defaults are what the worker would start with: its own parsers accept them.
    temporal = TemporalSettings.from_env(env)
    livekit = LiveKitSettings.from_env(env)
    observability = ObservabilitySettings.from_env(env)
    assert temporal.address == "temporal:7233" and "temporal" in services(compose)
    assert (observability.log_format, observability.metrics_bind) == ("json", "0.0.0.0:9464")
    # ... and point at the stand-in, with the credentials it is started with.
    sim = services(compose)["livekit-sim"]
    sim_command = sim["command"]
    assert sim_command[:3] == ["python", "-m", "warm_transfer.livekit_sim"]
    assert sim_command[sim_command.index("--host") + 1] == "0.0.0.0"
    assert livekit.url == f"http://livekit-sim:{sim_command[sim_command.index('--port') + 1]}"
    sim_env = {k: defaults(v) for k, v in sim["environment"].items()}
    assert livekit.api_key == sim_env["LIVEKIT_API_KEY"]
    assert livekit.api_secret.get_secret_value() == sim_env["LIVEKIT_API_SECRET"]


def test_search_attributes_registered_are_the_engines(compose: dict[str, Any]) -> None:
    script = " ".join(services(compose)["temporal-setup"]["command"])
    for key in sa.ALL:
        assert f"{key.name}:{key.indexed_value_type.name.title()}" in script
    assert "temporal operator search-attribute create" in script
    assert "temporal operator namespace create -n default" in script


def test_ui_and_codec_server_agree(compose: dict[str, Any]) -> None:
    ui_env = services(compose)["temporal-ui"]["environment"]
    assert ui_env["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert "TEMPORAL_CODEC_ENDPOINT" in ui_env
    command = services(compose)["codec-server"]["command"]
    assert command[:3] == ["python", "-m", "warm_transfer.codec_server"]
    origins = [command[i + 1] for i, arg in enumerate(command) if arg == "--cors-origin"]
    assert "http://localhost:8080" in origins  # the UI's published address
    assert command[command.index("--port") + 1] == "8081"
    dynamic = compose["configs"]["temporal-dynamic-config"]["content"]
    assert "limit.maxIDLength" in yaml.safe_load(dynamic)
    mounted = services(compose)["temporal"]["configs"][0]["target"]
    assert mounted == services(compose)["temporal"]["environment"]["DYNAMIC_CONFIG_FILE_PATH"]


def test_the_image_holds_the_package_and_runs_the_worker() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    instructions = [line.split(None, 1) for line in _logical_lines(dockerfile)]
    assert instructions[0] == ["FROM", "python:3.11-slim"]
    cmd = [args for op, args in instructions if op == "CMD"]
    assert cmd and json.loads(cmd[-1]) == ["python", "worker.py"]
    assert any(op == "RUN" and "pip install ." in args for op, args in instructions)
    copied = {
        Path(src).name
        for op, args in instructions
        if op == "COPY"
        for src in args.split()[:-1]
        if not src.startswith("--")
    }
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    setuptools = project["tool"]["setuptools"]
    needed = {f"{module}.py" for module in setuptools["py-modules"]}
    needed |= {name.rstrip("*") for name in setuptools["packages"]["find"]["include"]}
    needed |= {"pyproject.toml", project["project"]["readme"]}
    assert needed <= copied, needed - copied


def _logical_lines(text: str) -> list[str]:
    """Dockerfile instructions, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    return [line.strip() for line in joined.splitlines() if line.strip() and line[0] != "#"]
