"""``python -m warm_transfer.faultsuite``: run the fault suite, print the table, write JSON.

    python -m warm_transfer.faultsuite                      # every fault, 10 transfers each
    python -m warm_transfer.faultsuite -n 4 --only livekit-5xx --only server-restart
    python -m warm_transfer.faultsuite --json out.json --workdir /tmp/fs
    python -m warm_transfer.faultsuite --livekit real -n 5  # real LiveKit, SIP and phones

Exits 0 when every transfer ended right, nobody was dialed twice and nothing leaked.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from warm_transfer.faultsuite import ROWS, FaultResult, Suite
from warm_transfer.faultsuite.report import real_table, table, write_json
from warm_transfer.log_setup import configure_logging
from warm_transfer.process import exit_now


async def _one(name: str, n: int, row: Callable[[], Awaitable[FaultResult]]) -> FaultResult:
    started = time.monotonic()
    print(f"  {name} ...", end="", flush=True, file=sys.stderr)
    try:
        result = await row()
    except Exception as err:  # a row that cannot run is a failed row, not a crash
        result = FaultResult(name, "the row could not run", transfers=n)
        result.problems.append(f"{type(err).__name__}: {err}")
        result.seconds = time.monotonic() - started
    verdict = "ok" if result.ok else "FAILED"
    print(f" {verdict} ({result.seconds:.0f} s)", file=sys.stderr)
    return result


async def run(names: Sequence[str], n: int, workdir: Path) -> list[FaultResult]:
    """Runs the named rows, one after the other, on one stack."""
    results: list[FaultResult] = []
    async with Suite.running(workdir) as suite:
        for name in names:
            results.append(await _one(name, n, partial(ROWS[name], suite, n)))
    return results


async def run_real(names: Sequence[str], n: int, workdir: Path, wave: int) -> list[FaultResult]:
    """Runs the named real-stack rows on one real stack (`RealSuite`)."""
    from warm_transfer.faultsuite.real_harness import RealSuite
    from warm_transfer.faultsuite.real_rows import REAL_ROWS

    results: list[FaultResult] = []
    async with RealSuite.running(workdir, wave_size=wave) as suite:
        for name in names:
            results.append(await _one(name, n, partial(REAL_ROWS[name], suite, n)))
    return results


def real_row_names() -> list[str]:
    """The real stack's rows, in table order."""
    from warm_transfer.faultsuite.real_rows import REAL_ROWS

    return list(REAL_ROWS)


def main(argv: Sequence[str] | None = None) -> int:
    """Parses the command line, runs the suite; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m warm_transfer.faultsuite", description=__doc__)
    parser.add_argument("-n", type=int, default=10, help="transfers per fault (default 10)")
    parser.add_argument("--only", action="append", help="a row's name (repeatable)")
    parser.add_argument("--livekit", choices=("sim", "real"), default="sim")
    parser.add_argument(
        "--wave", type=int, default=3, help="real: transfers run at once (default 3)"
    )
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    real = args.livekit == "real"
    known = real_row_names() if real else list(ROWS)
    unknown = sorted(set(args.only or ()) - set(known))
    if unknown:
        parser.error(f"unknown row(s) {', '.join(unknown)}; the rows: {', '.join(known)}")
    names = [name for name in known if name in (args.only or known)]
    suffix = "-real" if real else ""
    json_path = args.json or Path(f"test-output/faultsuite{suffix}.json")
    workdir = args.workdir or Path(f".demo/faultsuite{suffix}")
    configure_logging("console", "ERROR")
    what = f"{len(names)} faults x {args.n} transfers"
    print(f"fault suite ({args.livekit}): {what}", file=sys.stderr)
    started = time.monotonic()
    if real:
        results = asyncio.run(run_real(names, args.n, workdir, args.wave))
    else:
        results = asyncio.run(run(names, args.n, workdir))
    print(real_table(results) if real else table(results))
    for result in results:
        if result.given_up:
            print(f"  {result.fault}: {result.given_up} destinations given up, not redialed")
        if result.note:
            print(f"  * {result.fault}: {result.note}")
        for problem in result.problems:
            print(f"  {result.fault}: {problem}")
    wall = time.monotonic() - started
    print(f"wall time {wall:.0f} s", file=sys.stderr)
    meta = {
        "n": args.n,
        "livekit": args.livekit,
        "wall_s": round(wall),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    write_json(json_path, results, **meta)
    print(f"JSON: {json_path}", file=sys.stderr)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    exit_now(main())
