"""``python -m warm_transfer.conformance``: run the probes, print the column, record it.

Examples:
    python -m warm_transfer.conformance --livekit sim
    python -m warm_transfer.conformance --livekit real --write tests/conformance/real.json
    python -m warm_transfer.conformance --livekit sim --compare tests/conformance/real.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from warm_transfer.conformance import PROBES, Observation, disagreements
from warm_transfer.conformance.targets import Target, open_target


async def run_probes(target: Target, names: set[str] | None = None) -> dict[str, Observation]:
    """Runs every probe the target can run (all, or those in ``names``), in order."""
    out: dict[str, Observation] = {}
    for spec in PROBES:
        if (spec.sip and not target.sip) or (names is not None and spec.name not in names):
            continue
        out[spec.name] = await spec.run(target)
    return out


async def column(livekit: str, sip: bool, names: set[str] | None = None) -> dict[str, Observation]:
    """Starts the named LiveKit, runs the probes and stops it."""
    target = await open_target(livekit, sip=sip)
    try:
        return await run_probes(target, names)
    finally:
        await target.aclose()


def main(argv: list[str] | None = None) -> int:
    """Runs the probes; prints the observations (and disagreements with ``--compare``)."""
    parser = argparse.ArgumentParser(prog="python -m warm_transfer.conformance")
    parser.add_argument("--livekit", choices=["sim", "real"], default="sim")
    parser.add_argument("--no-sip", action="store_true", help="server probes only")
    parser.add_argument("--write", type=Path, help="record the column in this file")
    parser.add_argument("--compare", type=Path, help="a recorded column to compare with")
    args = parser.parse_args(argv)
    observed = asyncio.run(column(args.livekit, not args.no_sip))
    for name, obs in observed.items():
        print(f"{name:40} {json.dumps(obs, sort_keys=True)}")
    if args.write is not None:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(json.dumps(observed, indent=2, sort_keys=True) + "\n")
        print(f"recorded {len(observed)} probes in {args.write}")
    if args.compare is not None:
        diff = disagreements(observed, json.loads(args.compare.read_text()))
        for key, (ours, theirs) in sorted(diff.items()):
            print(f"DISAGREES {key}: {args.livekit}={ours!r} recorded={theirs!r}")
        return 1 if diff else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
