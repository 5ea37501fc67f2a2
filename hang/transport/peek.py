"""Look at the first bidirectional stream of a session without consuming it.

WebTransport has no sub-protocol negotiation in draft-07 and older moq-lite: the first bidi stream
tells which protocol the client speaks (moq-lite ``0x20`` SETUP or draft-07 ``0x40`` CLIENT_SETUP).
:func:`peek_first_stream` reads its first varint and hands back a session that replays everything.
"""

from __future__ import annotations

import asyncio

from hang.transport.base import CloseInfo, RecvStream, SendStream, Session
from hang.wire.coding import Buffer, BufferReadError

#: Bytes read from the first stream while looking for its type before giving up.
MAX_PEEK = 16


class _ReplayStream(RecvStream):
    def __init__(self, inner: RecvStream, prefix: bytes, fin: bool) -> None:
        self._inner = inner
        self._prefix: tuple[bytes, bool] | None = (prefix, fin)
        self.stream_id = inner.stream_id

    async def read(self) -> tuple[bytes, bool]:
        if self._prefix is not None:
            chunk, self._prefix = self._prefix, None
            return chunk
        return await self._inner.read()

    def stop(self, code: int) -> None:
        self._inner.stop(code)


class ReplaySession(Session):
    """A session whose already accepted streams are handed out again, first."""

    def __init__(self, inner: Session, accepted: list[tuple[SendStream | None, RecvStream]]) -> None:
        self._inner = inner
        self._accepted = accepted
        self.protocol, self.path, self.kind, self.remote = inner.protocol, inner.path, inner.kind, inner.remote

    async def open_bi(self) -> tuple[SendStream, RecvStream]:
        return await self._inner.open_bi()

    async def open_uni(self) -> SendStream:
        return await self._inner.open_uni()

    async def accept(self) -> tuple[SendStream | None, RecvStream]:
        if self._accepted:
            return self._accepted.pop(0)
        return await self._inner.accept()

    def send_datagram(self, data: bytes) -> None:
        self._inner.send_datagram(data)

    async def receive_datagram(self) -> bytes:
        return await self._inner.receive_datagram()

    def close(self, code: int = 0, reason: str = "") -> None:
        self._inner.close(code, reason)

    def buffered(self) -> int:
        return self._inner.buffered()

    @property
    def closed(self) -> asyncio.Future[CloseInfo]:
        return self._inner.closed


async def peek_first_stream(transport: Session) -> tuple[int | None, Session]:
    """The first varint of the peer's first bidi stream (None if it ended first), and a replaying session."""
    accepted: list[tuple[SendStream | None, RecvStream]] = []
    while True:
        send, recv = await transport.accept()
        if send is not None:
            break
        accepted.append((send, recv))
    data, fin = b"", False
    kind: int | None = None
    while not fin and len(data) < MAX_PEEK:
        chunk, fin = await recv.read()
        data += chunk
        try:
            kind = Buffer(data=data).pull_uint_var()
            break
        except BufferReadError:
            continue
    accepted.append((send, _ReplayStream(recv, data, fin)))
    return kind, ReplaySession(transport, accepted)
