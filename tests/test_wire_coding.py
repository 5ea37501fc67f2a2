"""Primitive codecs of hang.wire.coding and the helpers of hang.wire.constants.

Byte forms follow the moq-lite protocol notes (docs/moq-lite.md) sections 3 (encodings), 1 (versions) and 12
(WebTransport error-code mapping).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hang.errors import DecodeError, InvalidPath, ProtocolError
from hang.wire.coding import (
    MAX_VARINT,
    Buffer,
    BufferReadError,
    encode_varint,
    join_path,
    normalize_path,
    pull_bool,
    pull_optional,
    pull_string,
    push_bool,
    push_optional,
    push_string,
    strip_prefix,
    zigzag_decode,
    zigzag_encode,
)
from hang.wire.constants import (
    ALL_VERSIONS,
    MAX_NAME_LENGTH,
    MAX_PATH_SEGMENTS,
    Version,
    alpns_for,
    from_wt_code,
    parse_version,
    to_wt_code,
)
from tests.wire_util import hexb


def body(data: bytes) -> Buffer:
    return Buffer(data=data)


# --------------------------------------------------------------------------- varints

VARINT_CASES = [
    # RFC 9000 section 16 boundaries: 1, 2, 4 and 8 byte forms.
    (0, "00"),
    (63, "3f"),
    (64, "40 40"),
    (16383, "7f ff"),
    (16384, "80 00 40 00"),
    (2**30 - 1, "bf ff ff ff"),
    (2**30, "c0 00 00 00 40 00 00 00"),
    (2**62 - 1, "ff ff ff ff ff ff ff ff"),
    # Values taken from the captured bytes in section 14.
    (100, "40 64"),
    (0xFF0DAD02, "c0 00 00 00 ff 0d ad 02"),
    (0x0E1DD2A48F8E56, "c0 0e 1d d2 a4 8f 8e 56"),
    (11356, "6c 5c"),
    (2468, "49 a4"),
    (300, "41 2c"),
]


@pytest.mark.parametrize(("value", "encoded"), VARINT_CASES)
def test_varint_encode(value: int, encoded: str) -> None:
    assert encode_varint(value) == hexb(encoded)


@pytest.mark.parametrize(("value", "encoded"), VARINT_CASES)
def test_varint_decode(value: int, encoded: str) -> None:
    buf = body(hexb(encoded))
    assert buf.pull_uint_var() == value
    assert buf.eof()


def test_max_varint_constant() -> None:
    assert MAX_VARINT == 2**62 - 1


def test_varint_too_large_is_refused() -> None:
    with pytest.raises(ValueError):
        encode_varint(2**62)


@pytest.mark.parametrize("value", [0, 63, 64, 16383, 16384, 2**30 - 1, 2**30, 2**62 - 1])
def test_varint_truncated(value: int) -> None:
    data = encode_varint(value)
    for cut in range(len(data)):
        with pytest.raises(BufferReadError):
            body(data[:cut]).pull_uint_var()


@given(st.integers(0, 2**62 - 1))
def test_varint_round_trip(value: int) -> None:
    data = encode_varint(value)
    # Minimal encoding: the smallest of the four lengths that fits.
    expected_len = 1 if value < 2**6 else 2 if value < 2**14 else 4 if value < 2**30 else 8
    assert len(data) == expected_len
    buf = body(data)
    assert buf.pull_uint_var() == value
    assert buf.eof()


# --------------------------------------------------------------------------- zigzag

ZIGZAG_CASES = [
    (0, 0),
    (-1, 1),
    (1, 2),
    (-2, 3),
    (2, 4),
    (5678, 11356),  # section 14: `6c 5c` -> 5678
    (1234, 2468),  # section 14: `49 a4` -> 1234
    (20000, 40000),  # section 14: `80 00 9c 40` -> 20000
    (-1234, 2467),
    (2**62 - 1, 2**63 - 2),
    (-(2**62), 2**63 - 1),
]


@pytest.mark.parametrize(("signed", "unsigned"), ZIGZAG_CASES)
def test_zigzag(signed: int, unsigned: int) -> None:
    assert zigzag_encode(signed) == unsigned
    assert zigzag_decode(unsigned) == signed


@given(st.integers(-(2**62), 2**62 - 1))
def test_zigzag_round_trip_fits_a_varint(value: int) -> None:
    encoded = zigzag_encode(value)
    assert 0 <= encoded <= 2**63 - 1
    assert zigzag_decode(encoded) == value
    # Small magnitudes stay small (that is the point of zigzag).
    assert encoded <= 2 * abs(value)


@given(st.integers(0, 2**62 - 1))
def test_zigzag_decode_then_encode(value: int) -> None:
    assert zigzag_encode(zigzag_decode(value)) == value


# --------------------------------------------------------------------------- bool / string / optional


def test_bool() -> None:
    assert pull_bool(body(b"\x00")) is False
    assert pull_bool(body(b"\x01")) is True
    buf = Buffer(capacity=2)
    push_bool(buf, True)
    push_bool(buf, False)
    assert buf.data == b"\x01\x00"


@pytest.mark.parametrize("raw", [2, 0x40, 0xFF])
def test_bool_invalid_byte(raw: int) -> None:
    with pytest.raises(DecodeError):
        pull_bool(body(bytes([raw])))


def test_bool_truncated() -> None:
    with pytest.raises(BufferReadError):
        pull_bool(body(b""))


@pytest.mark.parametrize(
    ("text", "encoded"),
    [
        ("", "00"),
        ("chat", '04 "chat"'),
        ("demo/room1", '0a "demo/room1"'),
        ("é", "02 c3 a9"),
        ("x" * 64, "40 40" + ' "' + "x" * 64 + '"'),
    ],
)
def test_string_round_trip(text: str, encoded: str) -> None:
    buf = Buffer(capacity=256)
    push_string(buf, text)
    assert buf.data == hexb(encoded)
    reader = body(hexb(encoded))
    assert pull_string(reader) == text
    assert reader.eof()


def test_string_bad_utf8() -> None:
    with pytest.raises(DecodeError, match="UTF-8"):
        pull_string(body(hexb("02 ff fe")))


def test_string_length_limit() -> None:
    ok = Buffer(capacity=2048)
    push_string(ok, "a" * MAX_NAME_LENGTH)
    assert pull_string(body(ok.data)) == "a" * MAX_NAME_LENGTH
    too_long = Buffer(capacity=2048)
    push_string(too_long, "a" * (MAX_NAME_LENGTH + 1))
    with pytest.raises(DecodeError):
        pull_string(body(too_long.data))
    # A caller-provided limit is honoured in both directions of the boundary.
    assert pull_string(body(hexb('03 "abc"')), max_length=3) == "abc"
    with pytest.raises(DecodeError):
        pull_string(body(hexb('03 "abc"')), max_length=2)


def test_string_length_checked_before_reading() -> None:
    # A huge declared length must be refused up front, not by trying to read it.
    with pytest.raises(DecodeError):
        pull_string(body(hexb("c0 00 00 00 ff ff ff ff")))


def test_string_truncated() -> None:
    with pytest.raises(BufferReadError):
        pull_string(body(hexb('05 "abc"')))


@pytest.mark.parametrize(
    ("value", "encoded"), [(None, "00"), (0, "01"), (1, "02"), (62, "3f"), (63, "40 40")]
)
def test_optional(value: int | None, encoded: str) -> None:
    buf = Buffer(capacity=8)
    push_optional(buf, value)
    assert buf.data == hexb(encoded)
    assert pull_optional(body(hexb(encoded))) == value


# --------------------------------------------------------------------------- paths


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("", ""),
        ("/", ""),
        ("demo/room1", "demo/room1"),
        ("/demo/room1", "demo/room1"),
        ("demo/room1/", "demo/room1"),
        ("/demo/room1/", "demo/room1"),
        ("room/alice.hang", "room/alice.hang"),
        ("/".join(["s"] * MAX_PATH_SEGMENTS), "/".join(["s"] * MAX_PATH_SEGMENTS)),
    ],
)
def test_normalize_path(raw: str, normalized: str) -> None:
    assert normalize_path(raw) == normalized


@pytest.mark.parametrize(
    "bad",
    [
        "a//b",
        "/a//b/",
        "a/b//c",
        "/".join(["s"] * (MAX_PATH_SEGMENTS + 1)),
        "a" * (MAX_NAME_LENGTH + 1),
        "é" * (MAX_NAME_LENGTH // 2 + 1),  # limit counts UTF-8 bytes, not characters
    ],
)
def test_normalize_path_rejects(bad: str) -> None:
    with pytest.raises(InvalidPath) as info:
        normalize_path(bad)
    assert isinstance(info.value, ProtocolError)


def test_normalize_path_length_boundary() -> None:
    assert normalize_path("a" * MAX_NAME_LENGTH) == "a" * MAX_NAME_LENGTH


@pytest.mark.parametrize(
    ("prefix", "suffix", "joined"),
    [
        ("", "", ""),
        ("demo", "", "demo"),
        ("", "room1", "room1"),
        ("demo", "room1", "demo/room1"),
        ("a/b", "c/d", "a/b/c/d"),
    ],
)
def test_join_path(prefix: str, suffix: str, joined: str) -> None:
    assert join_path(prefix, suffix) == joined
    # join and strip are inverses of each other.
    assert strip_prefix(prefix, joined) == suffix


@pytest.mark.parametrize(
    ("prefix", "path", "rest"),
    [
        ("", "demo/room1", "demo/room1"),
        ("", "", ""),
        ("foo", "foo", ""),
        ("foo", "foo/bar", "bar"),
        ("foo", "foo/bar/baz", "bar/baz"),
        ("foo/bar", "foo/bar/baz", "baz"),
        ("foo", "foobar", None),
        ("foo", "foobar/baz", None),
        ("foo/bar", "foo/barbaz", None),
        ("foo/bar", "foo", None),
        ("foo", "fo", None),
        ("foo", "bar/foo", None),
        ("foo", "", None),
    ],
)
def test_strip_prefix_per_segment(prefix: str, path: str, rest: str | None) -> None:
    assert strip_prefix(prefix, path) == rest


# --------------------------------------------------------------------------- WebTransport codes

WT_BASE = 0x52E4A40FA8DB


def test_wt_code_documented_values() -> None:
    assert to_wt_code(0) == 0x52E4A40FA8DB  # Cancel
    assert to_wt_code(13) == 0x52E4A40FA8E8  # NotFound
    assert from_wt_code(0x52E4A40FA8DB) == 0
    assert from_wt_code(0x52E4A40FA8E8) == 13
    # Observed on the wire (section 12): a TRACK reset with n = 51.
    assert from_wt_code(0x52E4A40FA90F) == 51
    assert to_wt_code(51) == 0x52E4A40FA90F


def test_wt_code_skips_every_thirtieth() -> None:
    # 29 maps to base+29; 30 jumps over the reserved codepoint to base+31.
    assert to_wt_code(29) == WT_BASE + 29
    assert to_wt_code(30) == WT_BASE + 31
    assert to_wt_code(60) == WT_BASE + 62


def test_wt_code_round_trip() -> None:
    seen = set()
    for code in range(1001):
        h3 = to_wt_code(code)
        assert from_wt_code(h3) == code
        # Never one of the HTTP/3 reserved (GREASE) codepoints 0x1f * N + 0x21.
        assert (h3 - 0x21) % 0x1F != 0
        seen.add(h3)
    assert len(seen) == 1001
    assert from_wt_code(to_wt_code(0xFFFFFFFF)) == 0xFFFFFFFF


@given(st.integers(0, 0xFFFFFFFF))
def test_wt_code_round_trip_u32(code: int) -> None:
    assert from_wt_code(to_wt_code(code)) == code


@pytest.mark.parametrize(
    "h3", [0, 1, 13, 0x100, WT_BASE - 1, to_wt_code(0xFFFFFFFF) + 1, 2**62 - 1]
)
def test_wt_code_identity_outside_range(h3: int) -> None:
    assert from_wt_code(h3) == h3


# --------------------------------------------------------------------------- versions


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("lite-03", Version.LITE_03),
        ("03", Version.LITE_03),
        ("3", Version.LITE_03),
        ("moq-lite-03", Version.LITE_03),
        ("lite-01", Version.LITE_01),
        ("lite-02", Version.LITE_02),
        ("04", Version.LITE_04),
        ("LITE-05", Version.LITE_05),
        (" moq-lite-05 ", Version.LITE_05),
    ],
)
def test_parse_version(text: str, version: Version) -> None:
    assert parse_version(text) is version


@pytest.mark.parametrize("text", ["", "0", "6", "lite-06", "moq-lite-06-wip", "moql", "abc", "lite-xx", "-3"])
def test_parse_version_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_version(text)


@pytest.mark.parametrize("text", ["261", "1029", "lite-261"])
def test_parse_version_rejects_out_of_range_numbers(text: str) -> None:
    # 261 = 0x105; OR-ing it into 0xff0dad00 must not alias lite-05.
    with pytest.raises(ValueError):
        parse_version(text)


def test_version_codes_and_labels() -> None:
    assert [int(v) for v in ALL_VERSIONS] == [0xFF0DAD05, 0xFF0DAD04, 0xFF0DAD03, 0xFF0DAD02, 0xFF0DAD01]
    assert [v.label for v in ALL_VERSIONS] == ["lite-05", "lite-04", "lite-03", "lite-02", "lite-01"]
    assert [v.alpn for v in ALL_VERSIONS] == ["moq-lite-05", "moq-lite-04", "moq-lite-03", "moql", "moql"]
    assert [v.uses_setup_exchange for v in ALL_VERSIONS] == [False, False, False, True, True]
    assert alpns_for(ALL_VERSIONS) == ["moq-lite-05", "moq-lite-04", "moq-lite-03", "moql"]
    # A version on the wire is an 8-byte varint (section 1).
    assert encode_varint(Version.LITE_02) == hexb("c0 00 00 00 ff 0d ad 02")
