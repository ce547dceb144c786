"""The operator's and voice agent's command line: start a transfer, signal it, watch it.

    python starter.py start --room call-8f3a --caller sip_+15105550123 \\
        --agent voice-agent --to +15105550100 --to 2001 --trunk ST_abc \\
        --summary "Disputes a charge" --fallback voicemail:+15105550199 --wait
    python starter.py start --json request.json
    python starter.py signal warm-transfer-call-8f3a human_accepted --identity <leg>
    python starter.py status warm-transfer-call-8f3a
    python starter.py result warm-transfer-call-8f3a
    python starter.py cancel warm-transfer-call-8f3a --reason "supervisor takes it"
    python starter.py skip warm-transfer-call-8f3a
    python starter.py add-destination warm-transfer-call-8f3a --to +15105550111

Results are printed as JSON on standard output; the Temporal UI link of the run goes
to standard error. Bad input exits with status 2 and one line naming the field.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from temporalio.client import Client, WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.service import RPCError

from warm_transfer.client import TransferHandle, get_transfer, start_transfer
from warm_transfer.config import SettingsError, TemporalSettings
from warm_transfer.models import (
    Destination,
    TransferRequest,
    describe_validation_error,
)
from warm_transfer.process import run_main
from warm_transfer.temporal_connect import connect, ui_link

SIGNALS = ("human_answered", "human_accepted", "human_declined", "caller_hung_up")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="starter.py", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="start a warm transfer")
    start.add_argument("--json", help="a TransferRequest JSON file, or - for standard input")
    start.add_argument("--room", help="the caller's LiveKit room")
    start.add_argument("--caller", help="the caller's participant identity")
    start.add_argument("--agent", default="voice-agent", help="the AI agent's identity")
    start.add_argument("--to", action="append", default=[], help="a destination (repeat)")
    start.add_argument("--trunk", help="SIP trunk id for every --to")
    start.add_argument("--ring-timeout", type=float, help="seconds each --to rings")
    start.add_argument("--summary", default="", help="what the human is briefed with")
    start.add_argument("--fallback", help="voicemail:NUMBER, cold_transfer:TARGET, return_to_agent")
    start.add_argument("--accept-timeout", type=float, help="seconds the human has to decide")
    start.add_argument("--workflow-id", help="default: warm-transfer-<room>")
    start.add_argument("--wait", action="store_true", help="wait for and print the outcome")
    for name, help_text in (("status", "query the stage"), ("result", "wait for the outcome")):
        commands.add_parser(name, help=help_text).add_argument("workflow_id")
    signal = commands.add_parser("signal", help="send one of the contract's signals")
    signal.add_argument("workflow_id")
    signal.add_argument("signal", choices=SIGNALS)
    signal.add_argument("--identity", help="participant_identity of the leg")
    signal.add_argument("--reason", default="", help="for human_declined")
    cancel = commands.add_parser("cancel", help="operator: stop hunting, run the fallback")
    cancel.add_argument("workflow_id")
    cancel.add_argument("--reason", required=True)
    skip = commands.add_parser("skip", help="operator: give up on the current destination")
    skip.add_argument("workflow_id")
    skip.add_argument("--reason", default="skipped by operator")
    add = commands.add_parser("add-destination", help="operator: append a destination")
    add.add_argument("workflow_id")
    add.add_argument("--to", required=True)
    add.add_argument("--trunk")
    add.add_argument("--ring-timeout", type=float)
    return parser


def _request_from(args: argparse.Namespace) -> TransferRequest:
    if args.json:
        text = sys.stdin.read() if args.json == "-" else Path(args.json).read_text()
        return TransferRequest.model_validate_json(text)
    data: dict[str, Any] = {
        "room_name": args.room,
        "caller_identity": args.caller,
        "agent_identity": args.agent,
        "destinations": [_destination(to, args.trunk, args.ring_timeout) for to in args.to],
        "summary": args.summary,
    }
    if args.fallback:
        kind, _, target = args.fallback.partition(":")
        data["fallback"] = {"kind": kind, "sip_call_to": target or None}
    if args.accept_timeout is not None:
        data["accept_timeout_s"] = args.accept_timeout
    return TransferRequest.model_validate({k: v for k, v in data.items() if v is not None})


def _destination(to: str, trunk: str | None, ring: float | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"sip_call_to": to}
    if trunk:
        entry["sip_trunk_id"] = trunk
    if ring is not None:
        entry["ring_timeout_s"] = ring
    return entry


def _print(value: BaseModel | dict[str, Any]) -> None:
    data = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
    print(json.dumps(data, indent=2))


async def _run(client: Client, settings: TemporalSettings, args: argparse.Namespace) -> int:
    if args.command == "start":
        request = _request_from(args)
        handle = await start_transfer(
            client, request, workflow_id=args.workflow_id, task_queue=settings.task_queue
        )
        print(f"UI: {ui_link(settings, handle.workflow_id, handle.run_id)}", file=sys.stderr)
        _print({"workflow_id": handle.workflow_id, "run_id": handle.run_id})
        if args.wait:
            _print(await handle.outcome())
        return 0
    transfer: TransferHandle = get_transfer(client, args.workflow_id)
    print(f"UI: {ui_link(settings, args.workflow_id)}", file=sys.stderr)
    if args.command == "status":
        _print(await transfer.status())
    elif args.command == "result":
        _print(await transfer.outcome())
    elif args.command == "signal":
        await _signal(transfer, args)
        _print({"signalled": args.signal})
    elif args.command == "cancel":
        _print(await transfer.cancel_transfer(args.reason))
    elif args.command == "skip":
        _print(await transfer.skip_destination(args.reason))
    elif args.command == "add-destination":
        destination = Destination.model_validate(
            _destination(args.to, args.trunk, args.ring_timeout)
        )
        _print(await transfer.add_destination(destination))
    return 0


async def _signal(transfer: TransferHandle, args: argparse.Namespace) -> None:
    if args.signal == "caller_hung_up":
        await transfer.caller_hung_up()
        return
    if not args.identity:
        raise ValueError(f"--identity: required for {args.signal}")
    if args.signal == "human_answered":
        await transfer.answered(args.identity)
    elif args.signal == "human_accepted":
        await transfer.accepted(args.identity)
    else:
        await transfer.declined(args.identity, args.reason)


async def main(client: Client | None = None, argv: Sequence[str] | None = None) -> int:
    """Runs one command; returns the process exit status."""
    args = _parser().parse_args(argv)
    try:
        settings = TemporalSettings.from_env(os.environ)
        if client is None:
            client = await connect(settings)
        return await _run(client, settings, args)
    except ValidationError as err:
        print(describe_validation_error(err.title, err), file=sys.stderr)
    except (SettingsError, ValueError, OSError) as err:
        print(f"starter: {err}", file=sys.stderr)
    except WorkflowFailureError as err:
        print(f"starter: the transfer failed: {err.cause}", file=sys.stderr)
        return 1
    except WorkflowUpdateFailedError as err:
        print(f"starter: refused: {err.cause}", file=sys.stderr)
        return 1
    except RPCError as err:
        print(f"starter: Temporal answered: {err}", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    run_main(main)
