"""A packet delayer for kernels without ``sch_netem``: netfilter's NFQUEUE, in Python.

``tc netem`` is the usual way to slow a link; kernels built without ``sch_netem`` (the
microVM kernels this project's CI runs on among them) refuse it ("Specified qdisc kind
is unknown"). Netfilter's queue is usually there: an ``iptables ... -j NFQUEUE`` rule
hands every packet to a user-space program, which answers with a verdict. This one
answers ``accept`` a fixed time after each packet arrived, in arrival order, which is
netem's ``delay``; loss needs no program (``iptables -m statistic``). It speaks the
nfnetlink queue protocol directly over a netlink socket (no library), so it runs
wherever Python and the kernel's ``nfnetlink_queue`` do:

    ip netns exec NS python -m warm_transfer.realstack.nfqueue --queue 7 --delay-ms 200
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import signal
import socket
import struct
import sys
from collections.abc import Iterator, Sequence
from typing import Final

_NETLINK_NETFILTER: Final = 12
_SUBSYS_QUEUE: Final = 3
_MSG_PACKET: Final = 0
_MSG_VERDICT: Final = 1
_MSG_CONFIG: Final = 2
_NLM_F_REQUEST: Final = 1
_NLMSG_ERROR: Final = 2
_CFG_CMD: Final = 1
_CFG_PARAMS: Final = 2
_CFG_QUEUE_MAXLEN: Final = 3
_CMD_BIND: Final = 1
_COPY_META: Final = 1
_QUEUE_MAXLEN: Final = 8192
_PACKET_HDR: Final = 1
_VERDICT_HDR: Final = 2
_NF_ACCEPT: Final = 1
_READY: Final = "nfqueue delayer ready"


def _attr(kind: int, payload: bytes) -> bytes:
    head = struct.pack("=HH", 4 + len(payload), kind)
    return head + payload + b"\0" * (-len(payload) % 4)


def _message(msg: int, queue: int, attrs: bytes, seq: int = 0) -> bytes:
    body = struct.pack("=BBH", socket.AF_UNSPEC, 0, socket.htons(queue)) + attrs
    kind = (_SUBSYS_QUEUE << 8) | msg
    return struct.pack("=IHHII", 16 + len(body), kind, _NLM_F_REQUEST, seq, 0) + body


def _attrs(data: bytes) -> Iterator[tuple[int, bytes]]:
    offset = 0
    while offset + 4 <= len(data):
        length, kind = struct.unpack_from("=HH", data, offset)
        if length < 4:
            return
        yield kind & 0x3FFF, data[offset + 4 : offset + length]
        offset += (length + 3) & ~3


def packet_ids(datagram: bytes) -> list[int]:
    """The packet ids of every queued-packet message in one netlink read."""
    ids = []
    offset = 0
    while offset + 16 <= len(datagram):
        length, kind = struct.unpack_from("=IH", datagram, offset)
        if length < 16:
            break
        if kind == (_SUBSYS_QUEUE << 8) | _MSG_PACKET:
            for attr, value in _attrs(datagram[offset + 20 : offset + length]):
                if attr == _PACKET_HDR:
                    ids.append(struct.unpack_from("!I", value)[0])
        elif kind == _NLMSG_ERROR:
            code = struct.unpack_from("=i", datagram, offset + 16)[0]
            if code != 0:
                raise OSError(-code, f"nfnetlink queue refused a request: {code}")
        offset += (length + 3) & ~3
    return ids


def bind(queue: int) -> socket.socket:
    """A netlink socket bound to ``queue``, copying packet metadata only."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, _NETLINK_NETFILTER)
    sock.bind((0, 0))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    bind_cmd = _attr(_CFG_CMD, struct.pack("!BBH", _CMD_BIND, 0, socket.AF_INET))
    params = _attr(_CFG_PARAMS, struct.pack("!IB", 0, _COPY_META))
    maxlen = _attr(_CFG_QUEUE_MAXLEN, struct.pack("!I", _QUEUE_MAXLEN))
    for seq, attrs in enumerate((bind_cmd, params, maxlen), start=1):
        sock.send(_message(_MSG_CONFIG, queue, attrs, seq))
    return sock


def verdict(queue: int, packet_id: int) -> bytes:
    """The ``accept`` verdict of one queued packet."""
    header = struct.pack("!II", _NF_ACCEPT, packet_id)
    return _message(_MSG_VERDICT, queue, _attr(_VERDICT_HDR, header))


async def delay_forever(queue: int, delay_s: float) -> None:
    """Accepts every packet of ``queue`` ``delay_s`` after it arrived, until cancelled."""
    sock = bind(queue)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()

    def release(packet_id: int) -> None:
        try:
            sock.send(verdict(queue, packet_id))
        except BlockingIOError:
            loop.call_later(0.001, release, packet_id)

    def readable() -> None:
        while True:
            try:
                datagram = sock.recv(65536)
            except BlockingIOError:
                return
            except OSError as err:  # ENOBUFS: the kernel dropped queue messages; go on
                if err.errno != errno.ENOBUFS:
                    raise
                continue
            for packet_id in packet_ids(datagram):
                loop.call_later(delay_s, release, packet_id)

    loop.add_reader(sock.fileno(), readable)
    print(_READY, flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        loop.remove_reader(sock.fileno())
        sock.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the delayer until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m warm_transfer.realstack.nfqueue")
    parser.add_argument("--queue", type=int, required=True)
    parser.add_argument("--delay-ms", type=float, required=True)
    args = parser.parse_args(argv)

    async def run() -> None:
        task = asyncio.create_task(delay_forever(args.queue, args.delay_ms / 1000))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            pass

    try:
        asyncio.run(run())
    except OSError as err:
        print(f"nfqueue delayer: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
