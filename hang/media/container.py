"""The legacy Hang frame container: a QUIC varint presentation timestamp in microseconds, then the payload."""

from __future__ import annotations

from hang.errors import MediaError
from hang.wire.coding import encode_varint

#: Largest timestamp a QUIC varint carries.
MAX_TIMESTAMP_US = (1 << 62) - 1


class ContainerError(MediaError):
    """A frame could not be wrapped or unwrapped."""


def encode_frame(timestamp_us: int, payload: bytes) -> bytes:
    """Wrap ``payload`` with its presentation timestamp (microseconds, 0 .. 2^62 - 1)."""
    if timestamp_us < 0:
        raise ContainerError(f"timestamp {timestamp_us} us is negative")
    if timestamp_us > MAX_TIMESTAMP_US:
        raise ContainerError(f"timestamp {timestamp_us} us exceeds the 62-bit varint range")
    return encode_varint(timestamp_us) + payload


def decode_frame(frame: bytes) -> tuple[int, bytes]:
    """Split a frame into ``(timestamp_us, payload)``; an empty payload is a marker to skip."""
    if not frame:
        raise ContainerError("empty frame: no timestamp")
    size = 1 << (frame[0] >> 6)
    if len(frame) < size:
        raise ContainerError(f"frame of {len(frame)} bytes ends inside its {size}-byte timestamp")
    value = frame[0] & 0x3F
    for byte in frame[1:size]:
        value = (value << 8) | byte
    return value, frame[size:]
