"""pull_/push_ helpers for moq-lite primitives on top of :class:`aioquic.buffer.Buffer`."""

from __future__ import annotations

from aioquic._buffer import Buffer, BufferReadError

from hang.errors import DecodeError, InvalidPath
from hang.wire.constants import MAX_NAME_LENGTH, MAX_PATH_SEGMENTS

__all__ = [
    "Buffer",
    "BufferReadError",
    "encode_varint",
    "join_path",
    "normalize_path",
    "pull_bool",
    "pull_optional",
    "pull_string",
    "push_bool",
    "push_optional",
    "push_u8",
    "push_string",
    "strip_prefix",
    "zigzag_decode",
    "zigzag_encode",
]

MAX_VARINT = (1 << 62) - 1


def encode_varint(value: int) -> bytes:
    """Return the QUIC varint encoding of ``value``."""
    buf = Buffer(capacity=8)
    buf.push_uint_var(value)
    return buf.data


def pull_bool(buf: Buffer) -> bool:
    """Read a one-byte boolean; anything but 0 or 1 is a decode error."""
    value = buf.pull_uint8()
    if value > 1:
        raise DecodeError(f"invalid boolean byte {value}")
    return value == 1


def push_bool(buf: Buffer, value: bool) -> None:
    """Write a one-byte boolean."""
    buf.push_uint8(1 if value else 0)


def push_u8(buf: Buffer, value: int) -> None:
    """Write one byte, refusing values that do not fit (aioquic would silently truncate them)."""
    if not 0 <= value <= 0xFF:
        raise ValueError(f"{value} does not fit in one byte")
    buf.push_uint8(value)


def pull_string(buf: Buffer, max_length: int = MAX_NAME_LENGTH) -> str:
    """Read a varint-length-prefixed UTF-8 string of at most ``max_length`` bytes."""
    length = buf.pull_uint_var()
    if length > max_length:
        raise DecodeError(f"string of {length} bytes exceeds the limit of {max_length}")
    raw = buf.pull_bytes(length)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError(f"string is not valid UTF-8: {exc}") from None


def push_string(buf: Buffer, value: str) -> None:
    """Write a varint-length-prefixed UTF-8 string."""
    raw = value.encode("utf-8")
    buf.push_uint_var(len(raw))
    buf.push_bytes(raw)


def pull_optional(buf: Buffer) -> int | None:
    """Read an optional sequence number: 0 is None, otherwise ``value - 1``."""
    value = buf.pull_uint_var()
    return None if value == 0 else value - 1


def push_optional(buf: Buffer, value: int | None) -> None:
    """Write an optional sequence number (None as 0, otherwise ``value + 1``)."""
    buf.push_uint_var(0 if value is None else value + 1)


def zigzag_encode(value: int) -> int:
    """Map a signed delta onto an unsigned varint value."""
    return (value << 1) ^ (value >> 63)


def zigzag_decode(value: int) -> int:
    """Inverse of :func:`zigzag_encode`."""
    return (value >> 1) ^ -(value & 1)


def normalize_path(path: str) -> str:
    """Validate a broadcast path or prefix and return it without leading or trailing ``/``.

    Raises :class:`InvalidPath` for empty inner segments, too many segments or too long a path.
    """
    if len(path.encode("utf-8")) > MAX_NAME_LENGTH:
        raise InvalidPath(f"path longer than {MAX_NAME_LENGTH} bytes")
    trimmed = path.strip("/")
    if not trimmed:
        return ""
    segments = trimmed.split("/")
    if any(segment == "" for segment in segments):
        raise InvalidPath(f"path {path!r} has an empty segment")
    if len(segments) > MAX_PATH_SEGMENTS:
        raise InvalidPath(f"path {path!r} has more than {MAX_PATH_SEGMENTS} segments")
    return trimmed


def join_path(prefix: str, suffix: str) -> str:
    """Join two normalized paths with ``/`` (either may be empty)."""
    if not prefix:
        return suffix
    if not suffix:
        return prefix
    return f"{prefix}/{suffix}"


def strip_prefix(prefix: str, path: str) -> str | None:
    """Return ``path`` relative to ``prefix`` if it lies under it (per segment), else None."""
    if not prefix:
        return path
    if path == prefix:
        return ""
    if path.startswith(prefix + "/"):
        return path[len(prefix) + 1 :]
    return None
