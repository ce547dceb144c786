"""``python -m warm_transfer.faultsuite``: run the fault suite, print the table, write JSON.

    python -m warm_transfer.faultsuite                      # every fault, 10 transfers each
    python -m warm_transfer.faultsuite -n 4 --only livekit-5xx --only server-restart
    python -m warm_transfer.faultsuite --json out.json --workdir /tmp/fs

Exits 0 when every transfer ended right, nobody was dialed twice and nothing leaked.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from warm_transfer.faultsuite import ROWS, FaultResult, Suite
from warm_transfer.faultsuite.report import table, write_json
from warm_transfer.log_setup import configure_logging
from warm_transfer.process import exit_now


async def run(names: Sequence[str], n: int, workdir: Path) -> list[FaultResult]:
    """Runs the named rows, one after the other, on one stack."""
    results: list[FaultResult] = []
    async with Suite.running(workdir) as suite:
        for name in names:
            started = time.monotonic()
            print(f"  {name} ...", end="", flush=True, file=sys.stderr)
            try:
                result = await ROWS[name](suite, n)
            except Exception as err:  # a row that cannot run is a failed row, not a crash
                result = FaultResult(name, "the row could not run", transfers=n)
                result.problems.append(f"{type(err).__name__}: {err}")
                result.seconds = time.monotonic() - started
            verdict = "ok" if result.ok else "FAILED"
            print(f" {verdict} ({result.seconds:.0f} s)", file=sys.stderr)
            results.append(result)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Parses the command line, runs the suite; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m warm_transfer.faultsuite", description=__doc__)
    parser.add_argument("-n", type=int, default=10, help="transfers per fault (default 10)")
    parser.add_argument("--only", action="append", choices=sorted(ROWS), help="repeatable")
    parser.add_argument("--json", type=Path, default=Path("test-output/faultsuite.json"))
    parser.add_argument("--workdir", type=Path, default=Path(".demo/faultsuite"))
    args = parser.parse_args(argv)
    configure_logging("console", "ERROR")
    names = args.only or list(ROWS)
    print(f"fault suite: {len(names)} faults x {args.n} transfers", file=sys.stderr)
    results = asyncio.run(run(names, args.n, args.workdir))
    print(table(results))
    for result in results:
        if result.given_up:
            print(f"  {result.fault}: {result.given_up} destinations given up, not redialed")
        for problem in result.problems:
            print(f"  {result.fault}: {problem}")
    meta = {"n": args.n, "finished": datetime.now(UTC).isoformat(timespec="seconds")}
    write_json(args.json, results, **meta)
    print(f"JSON: {args.json}", file=sys.stderr)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    exit_now(main())
