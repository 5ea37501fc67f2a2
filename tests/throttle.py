"""A UDP proxy on loopback that limits one direction's bandwidth, like a slow access link."""

from __future__ import annotations

import asyncio
import collections
from typing import Any


class _Side(asyncio.DatagramProtocol):
    def __init__(self, on_datagram: Any) -> None:
        self.on_datagram = on_datagram
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.on_datagram(data, addr)


class ThrottledProxy:
    """Forwards one client to ``target``; server-to-client traffic is paced at ``rate_bps``.

    Packets beyond a ``queue_packets`` backlog are dropped (tail drop), as a router would.
    """

    def __init__(self, target: tuple[str, int], rate_bps: int, queue_packets: int = 40) -> None:
        self.target = target
        self.rate = rate_bps / 8
        self.queue: collections.deque[bytes] = collections.deque()
        self.queue_packets = queue_packets
        self.client_addr: tuple[str, int] | None = None
        self.dropped = 0
        self.forwarded = 0
        self._front: _Side | None = None
        self._back: _Side | None = None
        self._pump: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    async def start(self) -> int:
        loop = asyncio.get_running_loop()
        _, self._front = await loop.create_datagram_endpoint(lambda: _Side(self._from_client),
                                                             local_addr=("127.0.0.1", 0))
        _, self._back = await loop.create_datagram_endpoint(lambda: _Side(self._from_server),
                                                            remote_addr=self.target)
        self._pump = asyncio.ensure_future(self._run())
        assert self._front.transport is not None
        port: int = self._front.transport.get_extra_info("sockname")[1]
        return port

    def _from_client(self, data: bytes, addr: tuple[str, int]) -> None:
        self.client_addr = addr
        assert self._back is not None and self._back.transport is not None
        self._back.transport.sendto(data)

    def _from_server(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(self.queue) >= self.queue_packets:
            self.dropped += 1
            return
        self.queue.append(data)
        self._wake.set()

    async def _run(self) -> None:
        while True:
            if not self.queue:
                self._wake.clear()
                await self._wake.wait()
            data = self.queue.popleft()
            assert self._front is not None and self._front.transport is not None
            if self.client_addr is not None:
                self._front.transport.sendto(data, self.client_addr)
                self.forwarded += 1
            await asyncio.sleep(len(data) / self.rate)

    def close(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
        for side in (self._front, self._back):
            if side is not None and side.transport is not None:
                side.transport.close()
