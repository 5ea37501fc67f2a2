"""The legacy frame container: varint microsecond timestamp + payload."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hang.media.container import MAX_TIMESTAMP_US, ContainerError, decode_frame, encode_frame

# hang-format.md section 7.
VECTORS = [
    (0, "00"),
    (20000, "80004e20"),
    (33333, "80008235"),
    (1234567, "8012d687"),
]


@pytest.mark.parametrize(("timestamp", "head"), VECTORS)
def test_vectors_both_ways(timestamp: int, head: str) -> None:
    frame = bytes.fromhex(head) + b"\xfc\x00payload"
    assert encode_frame(timestamp, b"\xfc\x00payload") == frame
    assert decode_frame(frame) == (timestamp, b"\xfc\x00payload")


def test_captured_video_frame() -> None:
    frame = bytes.fromhex("8007a12000000001674 2c00d".replace(" ", ""))
    assert decode_frame(frame) == (500000, bytes.fromhex("00000001 6742c00d".replace(" ", "")))


def test_largest_timestamp_and_errors() -> None:
    assert decode_frame(encode_frame(MAX_TIMESTAMP_US, b"x")) == (MAX_TIMESTAMP_US, b"x")
    with pytest.raises(ContainerError, match="62-bit"):
        encode_frame(MAX_TIMESTAMP_US + 1, b"x")
    with pytest.raises(ContainerError, match="negative"):
        encode_frame(-1, b"x")
    with pytest.raises(ContainerError, match="no timestamp"):
        decode_frame(b"")
    with pytest.raises(ContainerError, match="inside its 4-byte timestamp"):
        decode_frame(b"\x80\x00\x4e")


def test_empty_payload_is_a_marker() -> None:
    assert decode_frame(b"\x05") == (5, b"")


@given(st.integers(0, MAX_TIMESTAMP_US), st.binary(max_size=64))
def test_round_trip(timestamp: int, payload: bytes) -> None:
    assert decode_frame(encode_frame(timestamp, payload)) == (timestamp, payload)


@given(st.binary(max_size=16))
def test_any_bytes_decode_or_raise_container_error(data: bytes) -> None:
    try:
        timestamp, payload = decode_frame(data)
    except ContainerError:
        return
    assert 0 <= timestamp <= MAX_TIMESTAMP_US and data.endswith(payload)
