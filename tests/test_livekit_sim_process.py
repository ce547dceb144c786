"""``python -m warm_transfer.livekit_sim`` as a process: ready line, a call, SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import pytest
from livekit import api

from warm_transfer.livekit_sim import SimControl

REPO = Path(__file__).resolve().parents[1]
SECRET = "process-test-secret-at-least-32-bytes"
READY = "livekit-sim listening on "


async def test_module_serves_and_exits_on_sigterm(tmp_path: Path) -> None:
    scenarios = tmp_path / "scenarios.json"
    scenarios.write_text(json.dumps({"+15550009999": {"outcome": "busy", "ring_s": 0.5}}))
    env = {**os.environ, "LIVEKIT_API_KEY": "proc-key", "LIVEKIT_API_SECRET": SECRET}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "warm_transfer.livekit_sim",
        "--port",
        "0",
        "--time-scale",
        "0.01",
        "--scenarios",
        str(scenarios),
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode().strip()
        assert line.startswith(READY), line
        url = line.removeprefix(READY)
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
        async with api.LiveKitAPI(url, "proc-key", SECRET) as lk:
            room = await lk.room.create_room(api.CreateRoomRequest(name="r"))
            assert room.name == "r"
            with pytest.raises(api.SipCallError) as err:
                await lk.sip.create_sip_participant(
                    api.CreateSIPParticipantRequest(
                        sip_trunk_id="ST_x",
                        sip_call_to="+15550009999",
                        room_name="r",
                        wait_until_answered=True,
                    )
                )
            assert err.value.sip_status_code == 486
        async with SimControl(url) as control:
            assert (await control.state())["counters"]["sip_failed"] == 1
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_bad_configuration_exits_with_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"+1": {"outcome": "maybe"}}))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "warm_transfer.livekit_sim",
        "--scenarios",
        str(bad),
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 2
    assert stdout == b"" and b"invalid configuration" in stderr
