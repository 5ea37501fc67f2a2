"""Async adapter between a transport receive stream and the sans-I/O :class:`StreamDecoder`."""

from __future__ import annotations

from typing import TypeVar

from hang.errors import DecodeError
from hang.transport.base import RecvStream
from hang.wire.constants import MAX_FRAME_SIZE, MAX_MESSAGE_SIZE, Version
from hang.wire.framing import END, NEED_DATA, Pending, StreamDecoder
from hang.wire.messages import Message

M = TypeVar("M", bound=Message)
T = TypeVar("T")


class StreamReader:
    """Reads moq-lite units from one stream, pulling more bytes only when the decoder needs them."""

    def __init__(self, stream: RecvStream, *, max_message_size: int = MAX_MESSAGE_SIZE,
                 max_frame_size: int = MAX_FRAME_SIZE) -> None:
        self.stream = stream
        self.decoder = StreamDecoder(max_message_size, max_frame_size)

    async def _fill(self) -> None:
        data, fin = await self.stream.read()
        self.decoder.feed(data, fin)

    async def varint(self) -> int | None:
        """Next varint, or None if the stream ended cleanly first."""
        while True:
            value = self.decoder.pull_varint()
            if value is END:
                return None
            if value is not NEED_DATA:
                assert isinstance(value, int)
                return value
            await self._fill()

    async def message(self, cls: type[M], version: Version) -> M | None:
        """Next ``v(length) body`` message, or None if the stream ended cleanly first."""
        while True:
            value: M | Pending = self.decoder.pull_message(cls, version)
            if value is END:
                return None
            if value is not NEED_DATA:
                return value
            await self._fill()

    async def required(self, cls: type[M], version: Version) -> M:
        """Next message; a stream that ends first is a decode error."""
        message = await self.message(cls, version)
        if message is None:
            raise DecodeError(f"stream ended before {cls.__name__}")
        return message

    async def setup_message(self, cls: type[M], version: Version) -> M:
        """Next ``u16 length`` + body message (compat SETUP)."""
        while True:
            value: M | Pending = self.decoder.pull_setup_message(cls, version)
            if value is END:
                raise DecodeError(f"stream ended before {cls.__name__}")
            if value is not NEED_DATA:
                return value
            await self._fill()

    async def frame(self, version: Version) -> tuple[int, bytes] | None:
        """Next ``(timestamp delta, payload)`` of a group stream, or None at its end."""
        while True:
            value = self.decoder.pull_frame(version)
            if value is END:
                return None
            if value is not NEED_DATA:
                assert isinstance(value, tuple)
                return value
            await self._fill()

    async def drain(self) -> None:
        """Read and drop everything until the stream ends."""
        while not self.decoder.finished:
            self.decoder = StreamDecoder(self.decoder.max_message_size, self.decoder.max_frame_size)
            data, fin = await self.stream.read()
            if fin:
                return
