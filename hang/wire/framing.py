"""Incremental, size-capped parsing of one moq-lite stream.

A :class:`StreamDecoder` is fed bytes as they arrive and asked for the next varint, message or
frame. It answers :data:`NEED_DATA` until enough bytes are buffered, :data:`END` once the stream
finished cleanly at a message boundary, and raises :class:`~hang.errors.DecodeError` for a stream
that ends mid-message or a message whose body is not consumed exactly.
"""

from __future__ import annotations

import enum
from typing import Final, TypeVar

from hang.errors import DecodeError, MessageTooLarge
from hang.wire.coding import Buffer, BufferReadError, encode_varint
from hang.wire.constants import MAX_FRAME_SIZE, MAX_MESSAGE_SIZE, Version
from hang.wire.messages import Message


class _Marker(enum.Enum):
    NEED_DATA = "need-data"
    END = "end"


NEED_DATA: Final = _Marker.NEED_DATA
END: Final = _Marker.END
Pending = _Marker

M = TypeVar("M", bound=Message)


class FrameTooLarge(MessageTooLarge):
    """A frame exceeded the configured frame size limit."""


class StreamDecoder:
    """Buffers one stream's bytes and pulls moq-lite units out of it."""

    def __init__(self, max_message_size: int = MAX_MESSAGE_SIZE, max_frame_size: int = MAX_FRAME_SIZE):
        self.max_message_size = max_message_size
        self.max_frame_size = max_frame_size
        self._data = bytearray()
        self._pos = 0
        self._fin = False

    def feed(self, data: bytes, fin: bool = False) -> None:
        """Append bytes received on the stream; ``fin`` marks its end."""
        if self._fin and data:
            raise DecodeError("data after the end of the stream")
        if self._pos > 65536 and self._pos * 2 > len(self._data):
            del self._data[: self._pos]
            self._pos = 0
        self._data += data
        self._fin = self._fin or fin

    @property
    def buffered(self) -> int:
        """Bytes received but not yet consumed."""
        return len(self._data) - self._pos

    @property
    def finished(self) -> bool:
        """True once the stream ended and every byte was consumed."""
        return self._fin and self.buffered == 0

    def _pending(self) -> Pending:
        if not self._fin:
            return NEED_DATA
        if self.buffered == 0:
            return END
        raise DecodeError(f"stream ended inside a message ({self.buffered} bytes left over)")

    def _peek_varint(self, at: int) -> tuple[int, int] | None:
        if at >= len(self._data):
            return None
        size = 1 << (self._data[at] >> 6)
        if at + size > len(self._data):
            return None
        value = self._data[at] & 0x3F
        for i in range(1, size):
            value = (value << 8) | self._data[at + i]
        return value, size

    def pull_varint(self) -> int | Pending:
        """Next varint (a stream type or a message type)."""
        peeked = self._peek_varint(self._pos)
        if peeked is None:
            return self._pending()
        self._pos += peeked[1]
        return peeked[0]

    def pull_message(self, cls: type[M], version: Version) -> M | Pending:
        """Next ``v(length) body`` message, decoded as ``cls``."""
        peeked = self._peek_varint(self._pos)
        if peeked is None:
            return self._pending()
        length, size = peeked
        if length > self.max_message_size:
            raise MessageTooLarge(f"{cls.__name__} of {length} bytes exceeds {self.max_message_size}")
        return self._decode_body(cls, version, size, length)

    def pull_setup_message(self, cls: type[M], version: Version) -> M | Pending:
        """Next ``u16 length`` + body message (the ``moql`` CLIENT/SERVER_SETUP form)."""
        if self._pos + 2 > len(self._data):
            return self._pending()
        length = int.from_bytes(self._data[self._pos : self._pos + 2], "big")
        if length > self.max_message_size:
            raise MessageTooLarge(f"{cls.__name__} of {length} bytes exceeds {self.max_message_size}")
        return self._decode_body(cls, version, 2, length)

    def _decode_body(self, cls: type[M], version: Version, header: int, length: int) -> M | Pending:
        start = self._pos + header
        if start + length > len(self._data):
            return self._pending()
        body = Buffer(data=bytes(self._data[start : start + length]))
        try:
            message = cls.decode(body, version)
        except BufferReadError:
            raise DecodeError(f"{cls.__name__} body is truncated") from None
        except ValueError as exc:
            raise DecodeError(f"{cls.__name__}: {exc}") from None
        if not body.eof():
            raise DecodeError(f"{cls.__name__} body has {length - body.tell()} trailing bytes")
        self._pos = start + length
        return message

    def pull_frame(self, version: Version) -> tuple[int, bytes] | Pending:
        """Next frame of a group stream: ``(zigzag timestamp delta or 0, payload)``."""
        at = self._pos
        delta = 0
        if version >= Version.LITE_05:
            peeked = self._peek_varint(at)
            if peeked is None:
                return self._pending()
            delta, size = peeked
            at += size
        peeked = self._peek_varint(at)
        if peeked is None:
            return self._pending()
        length, size = peeked
        if length > self.max_frame_size:
            raise FrameTooLarge(f"frame of {length} bytes exceeds {self.max_frame_size}")
        at += size
        if at + length > len(self._data):
            return self._pending()
        payload = bytes(self._data[at : at + length])
        self._pos = at + length
        return delta, payload


def encode_message(message: Message, version: Version) -> bytes:
    """``v(length) body`` for ``message``."""
    buf = Buffer(capacity=MAX_MESSAGE_SIZE)
    message.encode(buf, version)
    return encode_varint(buf.tell()) + buf.data


def encode_setup_message(message_type: int, message: Message, version: Version) -> bytes:
    """``type u16(length) body``: the ``moql`` CLIENT_SETUP (0x20) / SERVER_SETUP (0x21) form."""
    buf = Buffer(capacity=4096)
    message.encode(buf, version)
    return encode_varint(message_type) + buf.tell().to_bytes(2, "big") + buf.data


def encode_frame(payload: bytes, version: Version, zigzag_delta: int = 0) -> bytes:
    """One frame of a group stream; 05 puts ``zigzag_delta`` (a zigzag-encoded timestamp delta) first."""
    head = encode_varint(zigzag_delta) if version >= Version.LITE_05 else b""
    return head + encode_varint(len(payload)) + payload
