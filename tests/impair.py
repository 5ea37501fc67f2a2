"""A UDP proxy that loses and delays datagrams in both directions, like ``tc netem loss X% delay Y``.

For kernels built without ``sch_netem``. One client per proxy; run in-process or as a script::

    python tests/impair.py --listen 10.77.1.1:4444 --target 127.0.0.1:4443 --loss 0.05 --delay 0.1
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from typing import Any


class _Side(asyncio.DatagramProtocol):
    def __init__(self, on_datagram: Any) -> None:
        self.on_datagram = on_datagram
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.on_datagram(data, addr)


class ImpairedProxy:
    """Forwards one client to ``target``; each datagram, either way, is lost with probability ``loss``
    or delivered ``delay`` seconds later (order kept, as netem with a fixed delay keeps it)."""

    def __init__(self, listen: tuple[str, int], target: tuple[str, int], loss: float, delay: float,
                 seed: int | None = None) -> None:
        self.listen = listen
        self.target = target
        self.loss = loss
        self.delay = delay
        self.random = random.Random(seed)
        self.client: tuple[str, int] | None = None
        self.counts = {"forwarded": 0, "lost": 0}
        self._front: _Side | None = None
        self._back: _Side | None = None

    async def start(self) -> int:
        loop = asyncio.get_running_loop()
        _, self._front = await loop.create_datagram_endpoint(lambda: _Side(self._from_client), local_addr=self.listen)
        _, self._back = await loop.create_datagram_endpoint(lambda: _Side(self._from_server), remote_addr=self.target)
        assert self._front.transport is not None
        port: int = self._front.transport.get_extra_info("sockname")[1]
        return port

    def _impair(self, send: Any) -> None:
        if self.random.random() < self.loss:
            self.counts["lost"] += 1
            return
        self.counts["forwarded"] += 1
        asyncio.get_running_loop().call_later(self.delay, send)

    def _from_client(self, data: bytes, addr: tuple[str, int]) -> None:
        self.client = addr
        back = self._back
        if back is not None and back.transport is not None:
            self._impair(lambda: back.transport.sendto(data) if back.transport else None)

    def _from_server(self, data: bytes, addr: tuple[str, int]) -> None:
        front, client = self._front, self.client
        if front is not None and front.transport is not None and client is not None:
            self._impair(lambda: front.transport.sendto(data, client) if front.transport else None)

    def close(self) -> None:
        for side in (self._front, self._back):
            if side is not None and side.transport is not None:
                side.transport.close()


def _addr(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


async def _main(args: argparse.Namespace) -> None:
    proxy = ImpairedProxy(_addr(args.listen), _addr(args.target), args.loss, args.delay, args.seed)
    port = await proxy.start()
    print(f"proxy ready on port {port}", flush=True)
    await asyncio.Event().wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", required=True, help="ADDR:PORT to listen on")
    parser.add_argument("--target", required=True, help="ADDR:PORT to forward to")
    parser.add_argument("--loss", type=float, default=0.05, help="probability a datagram is lost (0.05)")
    parser.add_argument("--delay", type=float, default=0.1, help="one-way delay in seconds (0.1)")
    parser.add_argument("--seed", type=int, help="random seed")
    try:
        asyncio.run(_main(parser.parse_args()))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
