"""Running a command's ``async main()`` as a process, and leaving it cleanly."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn


def run_main(main: Callable[[], Coroutine[Any, Any, int | None]]) -> NoReturn:
    """Runs ``main()`` and exits with its status (an int, None for 0, or SystemExit).

    Exits with ``os._exit`` once everything is flushed: Temporal's Rust core threads
    can outlive the event loop and crash CPython's finalization with "PyGILState_Release:
    thread state must be current" (temporalio/sdk-python#300), turning a clean exit
    into an abort. By then every client, worker and subprocess has been shut down.
    """
    try:
        status = asyncio.run(main()) or 0
    except SystemExit as stop:
        status = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        if isinstance(stop.code, str):
            print(stop.code, file=sys.stderr)
    except KeyboardInterrupt:
        status = 130
    exit_now(status)


def exit_now(status: int) -> NoReturn:
    """Flushes logs and standard streams, then exits without interpreter finalization
    (see `run_main` for why)."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
