"""What an operator sees in the Temporal UI (2.54), checked in a real headless Chromium.

One transfer finishes, one is left ringing (+15105550102 never answers). For both,
the run's page shows the summary, the static details and the current details the
workflow keeps in words, the engine's search attributes, and each activity by its
summary. Screenshots go to ``test-output/ui/``; with ``UPDATE_DOCS_SCREENSHOT=1``
the annotated one also replaces ``docs/img/transfer-in-ui.png``.

A second test opens an encrypted transfer through the codec server: what the UI
shows decoded is ciphertext in Temporal, so this checks the codec server's CORS
with the browser that enforces it.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import pytest
import pytest_asyncio

pytest.importorskip(
    "playwright.async_api", reason="playwright not installed: pip install playwright"
)

from aiohttp import web  # noqa: E402
from playwright.async_api import BrowserContext, Locator, Page, async_playwright, expect  # noqa: E402
from pydantic import SecretStr  # noqa: E402
from temporalio.client import Client  # noqa: E402

from tests.stack_helpers import ANSWERS, BUSY, NEVER_ANSWERS, finish_all, operating  # noqa: E402
from tests.ui_annotate import Box, Panel, compose, union  # noqa: E402
from tests.workflow_helpers import wait_for_stage  # noqa: E402
from warm_transfer import codec_server  # noqa: E402
from warm_transfer.client import TransferHandle, start_transfer  # noqa: E402
from warm_transfer.codec import EncryptionCodec  # noqa: E402
from warm_transfer.converter import data_converter  # noqa: E402
from warm_transfer.devserver import DevServer, free_port  # noqa: E402
from warm_transfer.models import Destination, TransferRequest  # noqa: E402
from warm_transfer.stack import ROOT, Stack  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="chromium not installed (apt-get install chromium; `make browser`)"
    ),
]
OUTPUT = ROOT / "test-output" / "ui"
DOCS_IMAGE = ROOT / "docs" / "img" / "transfer-in-ui.png"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest_asyncio.fixture(loop_scope="session")
async def browser(tmp_path: Path) -> AsyncIterator[BrowserContext]:
    """Headless Debian Chromium with a fresh profile, driven by Playwright's driver."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=ARGS,
            viewport={"width": 1400, "height": 900},
        )
        context.set_default_timeout(20_000)
        # Assertions wait as long as actions: on a loaded 2-core machine the UI's first
        # page (and its codec-server round trip) can take more than expect's 5 s.
        expect.set_options(timeout=20_000)
        try:
            yield context
        finally:
            await context.close()


def run_url(ui: str, handle: TransferHandle, tab: str) -> str:
    return f"{ui}/namespaces/default/workflows/{handle.workflow_id}/{handle.run_id}/{tab}"


async def box_of(page: Page, selector: str | Locator) -> Box:
    """The bounding box of every element ``selector`` matches, together."""
    located = page.locator(selector) if isinstance(selector, str) else selector
    boxes = [await element.bounding_box() for element in await located.all()]
    found = [(b["x"], b["y"], b["width"], b["height"]) for b in boxes if b is not None]
    assert found, f"{selector} is not on the page"
    return union(*found)


async def user_metadata(
    page: Page, ui: str, handle: TransferHandle, current: str
) -> tuple[Box, Box]:
    """Opens the User Metadata tab and checks its three texts.

    Returns:
        The Current Details panel's box, and the page's box to keep for the picture.
    """
    await page.goto(run_url(ui, handle, "user-metadata"))
    room = handle.workflow_id.removeprefix("warm-transfer-")
    # Each text is Markdown rendered in an iframe of its own.
    frames = {
        name: page.frame_locator(f"#user-metadata-{name}").locator("body")
        for name in ("summary", "details", "current-details")
    }
    await expect(frames["summary"]).to_contain_text(f"Warm transfer of room {room}")
    await expect(frames["details"]).to_contain_text("Hunt list:")
    await expect(frames["current-details"]).to_contain_text(current)
    await expect(frames["current-details"]).to_contain_text(f"caller room {room}")
    heading = await box_of(page, "h3:has-text('Current Details')")
    current_box = union(heading, await box_of(page, "#user-metadata-current-details"), pad=8)
    page_box = union(
        await box_of(page, "[data-testid=back-to-workflows]"),
        await box_of(page, "#user-metadata-details"),
        current_box,
        pad=20,
    )
    return current_box, page_box


async def search_attributes(
    page: Page, ui: str, handle: TransferHandle, **want: object
) -> tuple[Box, Box]:
    """Opens the Search Attributes tab and checks the engine's attributes.

    Returns:
        The box around the engine's attribute lines, and around the whole panel.
    """
    await page.goto(run_url(ui, handle, "search-attributes"))
    code = page.locator(".cm-content").filter(has_text="TransferStage")
    for name, value in want.items():
        await expect(code).to_contain_text(f'"{name}": {json.dumps(value)}')
    engine_line = re.compile(f'"({"|".join(want)})"')
    lines = await box_of(page, code.locator(".cm-line").filter(has_text=engine_line))
    panel = union(await box_of(page, "h3:has-text('Search Attributes')"), lines, pad=24)
    return lines, panel


async def activity_summaries(client: Client, handle: TransferHandle) -> list[str]:
    """The summary of every activity the run scheduled, from its history.

    Short LiveKit calls are local activities: their summaries sit on the markers that
    record them, and the UI shows those rows too.
    """
    summaries = []
    async for event in client.get_workflow_handle(handle.workflow_id).fetch_history_events():
        scheduled = event.HasField("activity_task_scheduled_event_attributes")
        local = event.HasField("marker_recorded_event_attributes") and (
            event.marker_recorded_event_attributes.marker_name == "core_local_activity"
        )
        if (scheduled or local) and event.user_metadata.summary.data:
            summaries.append(json.loads(event.user_metadata.summary.data))
    return summaries


async def connect_when_healthy(address: str, key: SecretStr) -> Client:
    """Connects once the frontend says it is healthy (it listens a moment before)."""
    for _ in range(100):
        try:
            return await Client.connect(address, data_converter=data_converter(key))
        except RuntimeError:
            await asyncio.sleep(0.1)
    return await Client.connect(address, data_converter=data_converter(key))


@pytest.mark.timeout(150)
async def test_operator_reads_a_finished_and_a_ringing_transfer(
    browser: BrowserContext, tmp_path: Path
) -> None:
    stack = Stack(tmp_path / "stack", time_scale=0.5, ui=True)
    async with operating(stack) as ops:
        ui = stack.server.ui_url
        assert ui is not None
        finished = await ops.transfer(BUSY, ANSWERS)
        assert await finish_all([finished]) == ["connected"]
        # 300 s of ringing (150 s on the stand-in's scaled clock): outlives the test.
        ringing = await ops.transfer(NEVER_ANSWERS, ring_timeout_s=300)
        await wait_for_stage(ringing, "dialing")
        page = await browser.new_page()

        current = f"Ringing {NEVER_ANSWERS} (1 of 1)"
        ring_box, ring_page = await user_metadata(page, ui, ringing, current)
        await page.screenshot(path=OUTPUT / "ringing-user-metadata.png")
        room = ringing.workflow_id.removeprefix("warm-transfer-")
        dialing = {"CallerRoom": room, "DestinationIndex": 0, "TransferStage": "dialing"}
        attrs_box, attrs_panel = await search_attributes(page, ui, ringing, **dialing)
        await page.screenshot(path=OUTPUT / "ringing-search-attributes.png")

        await user_metadata(page, ui, finished, f"Done: connected ({ANSWERS})")
        await page.screenshot(path=OUTPUT / "finished-user-metadata.png")
        done = {"TransferStage": "done", "TransferOutcome": "connected", "DestinationIndex": 1}
        await search_attributes(page, ui, finished, **done)
        await page.screenshot(path=OUTPUT / "finished-search-attributes.png")

        # The list, filtered by a search attribute: every transfer ringing right now.
        query = quote('TransferStage="dialing"')
        await page.goto(f"{ui}/namespaces/default/workflows?query={query}")
        listed = page.locator("table")
        await expect(listed).to_contain_text(ringing.workflow_id)
        await expect(listed).not_to_contain_text(finished.workflow_id)
        await page.screenshot(path=OUTPUT / "ringing-now.png")
        list_box = union(await box_of(page, "h1"), await box_of(page, "table"), pad=16)
        filter_box = await box_of(page, f"table a >> text='{ringing.workflow_id}'")

        # Compact history: one row per activity, its summary beside its type.
        await page.goto(run_url(ui, finished, "history"))
        await page.get_by_test_id("compact").click()
        table = page.get_by_test_id("event-summary-table")
        summaries = await activity_summaries(ops.client, finished)
        assert f"dial {ANSWERS}" in summaries and "bridge the caller" in summaries
        for summary in set(summaries):
            await expect(table).to_contain_text(summary)
        await table.scroll_into_view_if_needed()
        await page.screenshot(path=OUTPUT / "finished-history.png")
        history_box = await box_of(page, "[data-testid=event-summary-table]")
        history_box = history_box[:3] + (min(history_box[3], 520),)
        summary_boxes = [
            await box_of(page, f"[data-testid=event-summary-table] >> text='{summary}'")
            for summary in (f"dial {ANSWERS}", "bridge the caller")
        ]
        await page.close()

    panels = [
        Panel(
            OUTPUT / "ringing-user-metadata.png",
            "Current details: what the transfer is doing now, in words",
            ring_page,
            [ring_box],
        ),
        Panel(
            OUTPUT / "ringing-search-attributes.png",
            "Search attributes: the stage, the caller's room, the destination, the outcome",
            attrs_panel,
            [attrs_box],
        ),
        Panel(
            OUTPUT / "ringing-now.png",
            'Filter by them: TransferStage="dialing" lists every transfer ringing now',
            list_box,
            [filter_box],
        ),
        Panel(
            OUTPUT / "finished-history.png",
            "Activity summaries: every LiveKit call of a transfer, named",
            history_box,
            summary_boxes,
        ),
    ]
    picture = compose(panels, OUTPUT / "transfer-in-ui.png")
    if os.environ.get("UPDATE_DOCS_SCREENSHOT") == "1":
        DOCS_IMAGE.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(picture, DOCS_IMAGE)


async def test_the_ui_shows_encrypted_transfers_through_the_codec_server(
    browser: BrowserContext,
) -> None:
    key = os.urandom(32).hex()
    ui_port, codec_port = free_port(), free_port()
    ui_origin = f"http://127.0.0.1:{ui_port}"
    app = codec_server.build_app(EncryptionCodec.from_key(SecretStr(key)), [ui_origin])
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", codec_port).start()
    server = DevServer(ui_port=ui_port, ui_codec_endpoint=f"http://127.0.0.1:{codec_port}")
    try:
        await server.start()
        client = await connect_when_healthy(server.address, SecretStr(key))
        room = f"call-secret-{uuid.uuid4().hex[:6]}"
        request = TransferRequest(
            room_name=room,
            caller_identity="sip_+15105550123",
            agent_identity="voice-agent",
            destinations=[Destination(sip_call_to=ANSWERS)],
            summary="Wants to close the account.",
        )
        # Nobody works this queue: the stored input and summary are all there is.
        handle = await start_transfer(client, request, task_queue="nobody-works-here")
        page = await browser.new_page()
        await page.goto(run_url(ui_origin, handle, "history"))
        await expect(page.get_by_test_id("input-and-result")).to_contain_text(
            "Wants to close the account."
        )
        summary = page.frame_locator("#user-metadata-summary").locator("body")
        await page.goto(run_url(ui_origin, handle, "user-metadata"))
        await expect(summary).to_contain_text(f"Warm transfer of room {room}")
        await page.screenshot(path=OUTPUT / "decoded-by-codec-server.png")
        await page.close()
    finally:
        await server.stop()
        await runner.cleanup()
