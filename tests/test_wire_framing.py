"""Whole moq-lite streams through hang.wire.framing.StreamDecoder (sections 5-14 of moq-lite.md).

Each stream vector is the byte sequence of one direction of one stream as captured from the Rust
implementation (or constructed per the hand-checked list), plus the units a reader pulls out of it:
a stream/message type varint, a ``v(len)`` message, a ``u16``-length SETUP message or a frame. Every
vector is checked

1. whole, both directions (the encoders reproduce the bytes exactly);
2. fed whole, one byte at a time, in random chunks, and followed by trailing bytes;
3. truncated at every byte: NEED_DATA while the stream is open, DecodeError once it is finished
   (END exactly at a unit boundary).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hang.errors import DecodeError, ErrorCode, HangError, MessageTooLarge, ProtocolError
from hang.wire.coding import Buffer, encode_varint, zigzag_decode, zigzag_encode
from hang.wire.constants import (
    MAX_FRAME_SIZE,
    MAX_MESSAGE_SIZE,
    AnnounceStatus,
    BidiStream,
    UniStream,
    Version,
)
from hang.wire.framing import (
    END,
    NEED_DATA,
    FrameTooLarge,
    StreamDecoder,
    encode_frame,
    encode_message,
    encode_setup_message,
)
from hang.wire.messages import (
    Announce,
    AnnounceInit,
    AnnounceOk,
    AnnounceRequest,
    ClientSetup,
    Fetch,
    Goaway,
    GroupHeader,
    Probe,
    ServerSetup,
    SessionInfo,
    Setup,
    Subscribe,
    SubscribeDrop,
    SubscribeEnd,
    SubscribeOk,
    SubscribeStart,
    SubscribeUpdate,
    TrackInfo,
    TrackRequest,
    subscribe_reply_class,
    subscribe_reply_type,
)
from tests.wire_util import ALL, PRE5, SETUP_ERA, V1, V2, V3, V4, V5, V45, V345, hexb

ORIGIN = 0x0E1DD2A48F8E56
ACTIVE, ENDED = AnnounceStatus.ACTIVE, AnnounceStatus.ENDED


def _catalog(size: int) -> bytes:
    """A JSON catalog frame of exactly ``size`` bytes starting with ``{"v`` like the captured one."""
    head = json.dumps(
        {"video": {"renditions": {}}, "audio": {"renditions": {"audio": {"codec": "opus"}}}, "pad": ""}
    )
    pad = size - len(head)
    text = head[:-2] + "x" * pad + head[-2:]
    assert len(text) == size
    return text.encode()


CATALOG = _catalog(305)
assert CATALOG.startswith(hexb('7b 22 76'))
PAYLOAD_300 = bytes(range(256)) + bytes(44)
HANG_FRAME = hexb("80 00 4e 20 fc 01 02")  # inner varint ts 20000 + Opus fc 01 02


# --------------------------------------------------------------------------- stream units


@dataclass(frozen=True)
class Varint:
    """A bare varint: a stream type or a typed-reply type."""

    value: int

    def encode(self, version: Version) -> bytes:
        return encode_varint(self.value)

    def pull(self, dec: StreamDecoder, version: Version) -> Any:
        return dec.pull_varint()

    def expect(self, version: Version) -> Any:
        return self.value


@dataclass(frozen=True)
class Msg:
    """A ``v(len) body`` message."""

    message: Any

    def encode(self, version: Version) -> bytes:
        return encode_message(self.message, version)

    def pull(self, dec: StreamDecoder, version: Version) -> Any:
        return dec.pull_message(type(self.message), version)

    def expect(self, version: Version) -> Any:
        return self.message


@dataclass(frozen=True)
class Setup16:
    """A ``u16 length`` + body message (the lite-01/02 CLIENT/SERVER_SETUP after its type)."""

    message: Any

    def encode(self, version: Version) -> bytes:
        buf = Buffer(capacity=4096)
        self.message.encode(buf, version)
        return buf.tell().to_bytes(2, "big") + buf.data

    def pull(self, dec: StreamDecoder, version: Version) -> Any:
        return dec.pull_setup_message(type(self.message), version)

    def expect(self, version: Version) -> Any:
        return self.message


@dataclass(frozen=True)
class Frame:
    """One group frame; ``delta`` is the signed timestamp delta (lite-05 only)."""

    payload: bytes
    delta: int = 0

    def _raw(self, version: Version) -> int:
        return zigzag_encode(self.delta) if version >= V5 else 0

    def encode(self, version: Version) -> bytes:
        return encode_frame(self.payload, version, self._raw(version))

    def pull(self, dec: StreamDecoder, version: Version) -> Any:
        return dec.pull_frame(version)

    def expect(self, version: Version) -> Any:
        return (self._raw(version), self.payload)


Unit = Varint | Msg | Setup16 | Frame


@dataclass(frozen=True)
class Stream:
    name: str
    versions: tuple[Version, ...]
    data: bytes
    units: tuple[Unit, ...]

    def boundaries(self, version: Version) -> list[int]:
        """Offsets at which each unit ends."""
        out, at = [], 0
        for unit in self.units:
            at += len(unit.encode(version))
            out.append(at)
        return out


def s(name: str, versions: tuple[Version, ...], data: bytes | str, *units: Unit) -> Stream:
    return Stream(name, versions, hexb(data) if isinstance(data, str) else data, units)


def group(sub: int, seq: int) -> tuple[Varint, Msg]:
    return Varint(UniStream.GROUP), Msg(GroupHeader(sub, seq))


def reply(message: Any, version: Version) -> tuple[Varint, Msg]:
    return Varint(subscribe_reply_type(message, version)), Msg(message)


STREAMS = [
    # ---- section 5: session setup
    s("captured CLIENT_SETUP", SETUP_ERA, "20 00 12 02 c0000000ff0dad02 c0000000ff0dad01 00",
      Varint(BidiStream.CLIENT_SETUP), Setup16(ClientSetup((V2, V1)))),
    s("captured SERVER_SETUP", SETUP_ERA, "21 00 09 c0000000ff0dad02 00",
      Varint(0x21), Setup16(ServerSetup(V2))),
    s("constructed SERVER_SETUP then SessionInfo", SETUP_ERA, "21 00 09 c0000000ff0dad02 00 04 80 0f 42 40",
      Varint(0x21), Setup16(ServerSetup(V2)), Msg(SessionInfo(1_000_000))),
    s("constructed empty lite-05 SETUP", (V5,), "01 01 00", Varint(UniStream.SETUP), Msg(Setup({}))),
    s("constructed lite-05 SETUP Probe=Report", (V5,), "01 04 01 01 01 01",
      Varint(UniStream.SETUP), Msg(Setup({1: b"\x01"}))),
    s("constructed lite-05 SETUP Path", (V5,), '01 0e 01 02 0b "/anon?jwt=x"',
      Varint(UniStream.SETUP), Msg(Setup({2: b"/anon?jwt=x"}))),
    s("captured moq-ffi SETUP Probe + Origin", (V5,), "01 0e 02 01 01 01 05 08 c00e1dd2a48f8e56",
      Varint(UniStream.SETUP), Msg(Setup({1: b"\x01", 5: encode_varint(ORIGIN)}))),
    s("captured moq-ffi SETUP, another origin", (V5,), "01 0e 02 01 01 01 05 08 c123456789abcdef",
      Varint(UniStream.SETUP), Msg(Setup({1: b"\x01", 5: encode_varint(0x0123456789ABCDEF)}))),
    # ---- section 6: announce
    s("captured announce please ''", (V1, V2, V3), "01 01 00",
      Varint(BidiStream.ANNOUNCE), Msg(AnnounceRequest(""))),
    s("captured announce interest '' exclude 0", V45, "01 02 00 00",
      Varint(BidiStream.ANNOUNCE), Msg(AnnounceRequest("", 0))),
    s("captured relay announce request with exclude_hop", V45, "01 09 00 c00e1dd2a48f8e56",
      Varint(BidiStream.ANNOUNCE), Msg(AnnounceRequest("", ORIGIN))),
    s("constructed lite-03 ANNOUNCE_PLEASE room", (V1, V2, V3), '01 05 04 "room"',
      Varint(BidiStream.ANNOUNCE), Msg(AnnounceRequest("room"))),
    s("constructed lite-04/05 ANNOUNCE_INTEREST room", V45, '01 06 04 "room" 00',
      Varint(BidiStream.ANNOUNCE), Msg(AnnounceRequest("room", 0))),
    s("captured ANNOUNCE_INIT reply", SETUP_ERA, '0c 01 0a "demo/room1"', Msg(AnnounceInit(("demo/room1",)))),
    s("constructed empty ANNOUNCE_INIT reply", SETUP_ERA, "01 00", Msg(AnnounceInit(()))),
    s("captured lite-03 ANNOUNCE reply", (V3,), '0d 01 0a "demo/room1" 01',
      Msg(Announce(ACTIVE, "demo/room1", (0,)))),
    s("constructed lite-03 announce then unannounce", (V3,),
      '0d 01 0a "alice.hang" 01 0d 00 0a "alice.hang" 00',
      Msg(Announce(ACTIVE, "alice.hang", (0,))), Msg(Announce(ENDED, "alice.hang"))),
    s("captured lite-04 ANNOUNCE reply", V45, '15 01 0a "demo/room1" 01 c00e1dd2a48f8e56',
      Msg(Announce(ACTIVE, "demo/room1", (ORIGIN,)))),
    s("captured lite-05 ANNOUNCE_OK + ANNOUNCE", (V5,), '09 c00e1dd2a48f8e56 01 0d 01 0a "demo/room1" 00',
      Msg(AnnounceOk(ORIGIN, 1)), Msg(Announce(ACTIVE, "demo/room1"))),
    s("constructed lite-05 ANNOUNCE_OK(0, 0)", (V5,), "02 00 00", Msg(AnnounceOk(0, 0))),
    # ---- section 7: subscribe
    s("captured lite-02 SUBSCRIBE", SETUP_ERA, '02 12 00 0a "demo/room1" 04 "chat" 64',
      Varint(BidiStream.SUBSCRIBE), Msg(Subscribe(0, "demo/room1", "chat", 100))),
    s("captured lite-03/04 SUBSCRIBE", V345, '02 16 00 0a "demo/room1" 04 "chat" 64 00 00 00 00',
      Varint(BidiStream.SUBSCRIBE), Msg(Subscribe(id=0, broadcast="demo/room1", track="chat", priority=100))),
    s("constructed lite-05 SUBSCRIBE bbb.hang", V345,
      '02 1c 00 08 "bbb.hang" 0c "catalog.json" 64 00 00 00 00',
      Varint(BidiStream.SUBSCRIBE), Msg(Subscribe(0, "bbb.hang", "catalog.json", 100))),
    s("constructed SUBSCRIBE then SUBSCRIBE_UPDATE", V345,
      '02 16 00 0a "demo/room1" 04 "chat" 64 00 00 00 00 06 01 01 41 f4 05 00',
      Varint(BidiStream.SUBSCRIBE), Msg(Subscribe(0, "demo/room1", "chat", 100)),
      Msg(SubscribeUpdate(1, True, 500, 4, None))),
    s("captured lite-02 SUBSCRIBE_OK", (V2,), "00", Msg(SubscribeOk())),
    s("constructed lite-01 SUBSCRIBE_OK", (V1,), "01 64", Msg(SubscribeOk(100))),
    s("captured lite-03 SUBSCRIBE_OK", (V3,), "00 05 64 00 00 00 00", *reply(SubscribeOk(100), V3)),
    s("captured lite-04 SUBSCRIBE_OK", (V4,), "00 05 64 00 00 00 00", *reply(SubscribeOk(100), V4)),
    s("constructed lite-03 SUBSCRIBE_OK then SUBSCRIBE_DROP", (V3,), "00 05 64 00 00 00 00 01 03 05 07 02",
      *reply(SubscribeOk(100), V3), *reply(SubscribeDrop(5, 7, 2), V3)),
    s("captured lite-05 SUBSCRIBE_START", (V5,), "00 01 02", *reply(SubscribeStart(2), V5)),
    s("constructed lite-05 START, DROP, END", (V5,), "00 01 02 02 03 05 07 02 01 01 0a",
      *reply(SubscribeStart(2), V5), *reply(SubscribeDrop(5, 7, 2), V5), *reply(SubscribeEnd(10), V5)),
    # ---- section 8: track
    s("captured TRACK", (V5,), '06 1d 0f "room/alice.hang" 0c "catalog.json"',
      Varint(BidiStream.TRACK), Msg(TrackRequest("room/alice.hang", "catalog.json"))),
    s("captured TRACK_INFO catalog.json", (V5,), "06 64 00 53 88 43 e8",
      Msg(TrackInfo(100, False, 5000, 1000))),
    s("captured TRACK_INFO audio", (V5,), "0a 50 00 80 00 75 30 80 0f 42 40",
      Msg(TrackInfo(80, False, 30000, 1_000_000))),
    # ---- section 9: groups
    s("captured GROUP 0/0 hello", PRE5, '00 02 00 00 05 "hello"', *group(0, 0), Frame(b"hello")),
    s("captured lite-04 GROUP 0/1 world", PRE5, '00 02 00 01 05 "world"', *group(0, 1), Frame(b"world")),
    s("captured lite-05 GROUP 0/2 ts 5678", (V5,), '00 02 00 02 6c 5c 05 "world"',
      *group(0, 2), Frame(b"world", 5678)),
    s("captured lite-05 hang audio frame ts 20000", (V5,), "00 02 01 00 80 00 9c 40 07 80 00 4e 20 fc 01 02",
      *group(1, 0), Frame(HANG_FRAME, 20000)),
    s("captured lite-03 hang audio frame", PRE5, "00 02 01 00 07 80 00 4e 20 fc 01 02",
      *group(1, 0), Frame(HANG_FRAME)),
    s("captured lite-03 catalog frame (305 bytes)", PRE5, hexb("00 02 00 00 41 31") + CATALOG,
      *group(0, 0), Frame(CATALOG)),
    s("captured lite-05 catalog frame, wall-clock ts", (V5,),
      hexb("00 02 00 00 c0 00 00 65 3f ed 31 e8 41 31") + CATALOG,
      *group(0, 0), Frame(CATALOG, zigzag_decode(0x653FED31E8))),
    s("constructed lite-05 frame ts 1234, 300 bytes", (V5,), hexb("00 02 00 00 49 a4 41 2c") + PAYLOAD_300,
      *group(0, 0), Frame(PAYLOAD_300, 1234)),
    s("constructed lite-05 frames with negative and zero deltas, empty frame", (V5,),
      '00 02 00 03 40 c8 01 "a" 13 00 00 01 "b"',
      *group(0, 3), Frame(b"a", 100), Frame(b"", -10), Frame(b"b", 0)),
    s("constructed group with an empty frame", PRE5, '00 02 00 03 00 01 "z"',
      *group(0, 3), Frame(b""), Frame(b"z")),
    s("constructed group with no frames", ALL, "00 02 00 05", *group(0, 5)),
    # ---- section 11: fetch, probe, goaway
    s("constructed FETCH", (V5,), '03 18 08 "bbb.hang" 0c "catalog.json" 64 03',
      Varint(BidiStream.FETCH), Msg(Fetch("bbb.hang", "catalog.json", 100, 3))),
    s("constructed FETCH reply (bare frames)", (V5,), '80 00 9c 40 05 "hello" 02 00',
      Frame(b"hello", 20000), Frame(b"", 1)),
    s("captured bare probe stream", V345, "04", Varint(BidiStream.PROBE)),
    s("constructed lite-04 PROBE", V45, "04 02 00 00 05 80 0f 42 40 28",
      Varint(BidiStream.PROBE), Msg(Probe(0, 0)), Msg(Probe(1_000_000, 40))),
    s("constructed GOAWAY ''", V45, "05 01 00", Varint(BidiStream.GOAWAY), Msg(Goaway(""))),
]

CASES = [pytest.param(st_, v, id=f"{st_.name} @{v.label}") for st_ in STREAMS for v in st_.versions]
#: For byte-by-byte truncation, skip the large catalog/300-byte vectors' middle bytes (O(n^2)); they
#: are still covered whole, byte-at-a-time and in the random-chunk tests.
SMALL_CASES = [case for case in CASES if len(case.values[0].data) < 64]


def pull_units(dec: StreamDecoder, stream: Stream, version: Version, start: int = 0) -> tuple[int, Any]:
    """Pull units from ``start`` on; return (index of the first unit not pulled, what stopped us)."""
    index = start
    while index < len(stream.units):
        unit = stream.units[index]
        got = unit.pull(dec, version)
        if got is NEED_DATA or got is END:
            return index, got
        assert got == unit.expect(version), f"unit {index} of {stream.name}"
        index += 1
    return index, None


def next_pull(dec: StreamDecoder, stream: Stream, version: Version) -> Any:
    """What the reader would try after the last unit: another frame on a group, else a varint."""
    if isinstance(stream.units[-1], Frame) or (stream.units and isinstance(stream.units[-1], Msg)
                                               and isinstance(stream.units[-1].message, GroupHeader)):
        return dec.pull_frame(version)
    return dec.pull_varint()


# --------------------------------------------------------------------------- tier 1: both directions


@pytest.mark.parametrize(("stream", "version"), CASES)
def test_stream_encode(stream: Stream, version: Version) -> None:
    assert b"".join(unit.encode(version) for unit in stream.units) == stream.data


@pytest.mark.parametrize(("stream", "version"), CASES)
def test_stream_decode_whole(stream: Stream, version: Version) -> None:
    dec = StreamDecoder()
    dec.feed(stream.data, fin=True)
    assert pull_units(dec, stream, version) == (len(stream.units), None)
    assert next_pull(dec, stream, version) is END
    assert dec.finished


def test_setup_stream_encoders() -> None:
    """encode_setup_message itself (the Setup16 unit above encodes by hand)."""
    assert encode_setup_message(0x20, ClientSetup((V2, V1)), V2) == hexb(
        "20 00 12 02 c0000000ff0dad02 c0000000ff0dad01 00"
    )
    assert encode_setup_message(0x21, ServerSetup(V2), V2) == hexb("21 00 09 c0000000ff0dad02 00")


def test_typed_reply_classes_of_the_vectors() -> None:
    """The reply types in the subscribe vectors map back to the right classes."""
    assert subscribe_reply_class(0, V3) is SubscribeOk
    assert subscribe_reply_class(1, V4) is SubscribeDrop
    assert subscribe_reply_class(0, V5) is SubscribeStart
    assert subscribe_reply_class(1, V5) is SubscribeEnd
    assert subscribe_reply_class(2, V5) is SubscribeDrop


def test_frame_timestamps_of_the_vectors() -> None:
    """Section 14: `6c 5c` -> 5678, `80 00 9c 40` -> 20000, `49 a4` -> 1234; 01-04 frames have no ts."""
    for data, version, ts, payload in [
        ('6c 5c 05 "world"', V5, 5678, b"world"),
        ("80 00 9c 40 07 80 00 4e 20 fc 01 02", V5, 20000, HANG_FRAME),
        ("49 a4 41 2c", V5, 1234, None),
        ('05 "hello"', V3, 0, b"hello"),
    ]:
        dec = StreamDecoder()
        dec.feed(hexb(data) + (PAYLOAD_300 if payload is None else b""), fin=True)
        got = dec.pull_frame(version)
        assert got is not NEED_DATA and got is not END
        raw, body = got
        assert zigzag_decode(raw) == ts
        assert body == (PAYLOAD_300 if payload is None else payload)
        assert dec.pull_frame(version) is END


def test_group_stream_encode_with_timestamps() -> None:
    assert encode_frame(b"world", V5, zigzag_encode(5678)) == hexb('6c 5c 05 "world"')
    assert encode_frame(PAYLOAD_300, V5, zigzag_encode(1234)) == hexb("49 a4 41 2c") + PAYLOAD_300
    # Before lite-05 there is no timestamp, whatever is passed.
    assert encode_frame(b"hello", V4, 99) == hexb('05 "hello"')
    assert encode_frame(b"", V3) == b"\x00"


# --------------------------------------------------------------------------- tier 2: incremental feeding


@pytest.mark.parametrize(("stream", "version"), CASES)
def test_stream_open_then_fin(stream: Stream, version: Version) -> None:
    dec = StreamDecoder()
    dec.feed(stream.data)
    assert pull_units(dec, stream, version) == (len(stream.units), None)
    assert next_pull(dec, stream, version) is NEED_DATA
    assert not dec.finished
    dec.feed(b"", fin=True)
    assert next_pull(dec, stream, version) is END
    assert dec.finished


@pytest.mark.parametrize(("stream", "version"), CASES)
def test_stream_one_byte_at_a_time(stream: Stream, version: Version) -> None:
    dec = StreamDecoder()
    boundaries = stream.boundaries(version)
    index = 0
    for offset in range(len(stream.data)):
        dec.feed(stream.data[offset : offset + 1])
        index, stopped = pull_units(dec, stream, version, index)
        # A unit comes out exactly when its last byte arrives, never earlier.
        assert index == sum(1 for end in boundaries if end <= offset + 1)
        if index < len(stream.units):
            assert stopped is NEED_DATA
    assert index == len(stream.units)
    assert dec.buffered == 0
    dec.feed(b"", fin=True)
    assert next_pull(dec, stream, version) is END


@pytest.mark.parametrize(("stream", "version"), CASES)
def test_stream_followed_by_partial_bytes(stream: Stream, version: Version) -> None:
    """A trailing partial unit stays buffered: NEED_DATA while open, DecodeError at FIN."""
    dec = StreamDecoder()
    dec.feed(stream.data + b"\x40")  # first byte of a two-byte varint
    assert pull_units(dec, stream, version) == (len(stream.units), None)
    assert dec.buffered == 1
    assert next_pull(dec, stream, version) is NEED_DATA
    assert dec.buffered == 1
    dec.feed(b"", fin=True)
    with pytest.raises(DecodeError, match="stream ended inside a message"):
        next_pull(dec, stream, version)


@pytest.mark.parametrize(("stream", "version"), CASES)
def test_stream_followed_by_next_unit(stream: Stream, version: Version) -> None:
    """Bytes of a further unit stay in the buffer and come out on the next pull."""
    last = stream.units[-1]
    extra = last.encode(version)
    dec = StreamDecoder()
    dec.feed(stream.data + extra, fin=True)
    assert pull_units(dec, stream, version) == (len(stream.units), None)
    assert dec.buffered == len(extra)
    assert last.pull(dec, version) == last.expect(version)
    assert dec.finished
    assert last.pull(dec, version) is END


@pytest.mark.parametrize(("stream", "version"), CASES)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_stream_random_chunks(stream: Stream, version: Version, data: st.DataObject) -> None:
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(stream.data) - 1)), max_size=8)))
    dec = StreamDecoder()
    index, prev = 0, 0
    for cut in [*cuts, len(stream.data)]:
        dec.feed(stream.data[prev:cut])
        prev = cut
        index, _ = pull_units(dec, stream, version, index)
    assert index == len(stream.units)
    dec.feed(b"", fin=True)
    assert next_pull(dec, stream, version) is END


# --------------------------------------------------------------------------- tier 3: truncation


@pytest.mark.parametrize(("stream", "version"), SMALL_CASES)
def test_stream_truncated_open(stream: Stream, version: Version) -> None:
    boundaries = stream.boundaries(version)
    for cut in range(1, len(stream.data)):
        dec = StreamDecoder()
        dec.feed(stream.data[:cut])
        index, stopped = pull_units(dec, stream, version)
        assert index == sum(1 for end in boundaries if end <= cut), cut
        assert stopped is NEED_DATA, cut
        # Nothing of the incomplete unit was consumed.
        assert dec.buffered == cut - (boundaries[index - 1] if index else 0), cut


@pytest.mark.parametrize(("stream", "version"), SMALL_CASES)
def test_stream_truncated_fin(stream: Stream, version: Version) -> None:
    boundaries = stream.boundaries(version)
    for cut in range(1, len(stream.data)):
        dec = StreamDecoder()
        dec.feed(stream.data[:cut], fin=True)
        if cut in boundaries:
            # The stream ended cleanly between two units.
            index, stopped = pull_units(dec, stream, version)
            assert (index, stopped) == (boundaries.index(cut) + 1, END), cut
        else:
            with pytest.raises(DecodeError):
                pull_units(dec, stream, version)


@pytest.mark.parametrize(
    "stream", [st_ for st_ in STREAMS if len(st_.data) >= 64], ids=lambda st_: st_.name
)
def test_large_frame_truncated(stream: Stream) -> None:
    """The big frames, cut at a few points inside the payload."""
    version = stream.versions[0]
    for cut in (len(stream.data) - 1, len(stream.data) - 150, len(stream.data) - 299):
        open_dec = StreamDecoder()
        open_dec.feed(stream.data[:cut])
        assert pull_units(open_dec, stream, version) == (len(stream.units) - 1, NEED_DATA)
        fin_dec = StreamDecoder()
        fin_dec.feed(stream.data[:cut], fin=True)
        with pytest.raises(DecodeError):
            pull_units(fin_dec, stream, version)


def test_empty_stream() -> None:
    dec = StreamDecoder()
    assert dec.pull_varint() is NEED_DATA
    assert dec.pull_message(Subscribe, V3) is NEED_DATA
    assert dec.pull_frame(V5) is NEED_DATA
    assert dec.pull_setup_message(ClientSetup, V2) is NEED_DATA
    dec.feed(b"", fin=True)
    assert dec.pull_varint() is END
    assert dec.pull_message(Subscribe, V3) is END
    assert dec.pull_frame(V5) is END
    assert dec.pull_setup_message(ClientSetup, V2) is END
    assert dec.finished


def test_data_after_fin() -> None:
    dec = StreamDecoder()
    dec.feed(b"\x04", fin=True)
    dec.feed(b"", fin=True)  # an empty FIN again is harmless
    with pytest.raises(DecodeError):
        dec.feed(b"\x00")
    assert dec.pull_varint() == 4


def test_trailing_bytes_inside_declared_length() -> None:
    dec = StreamDecoder()
    dec.feed(hexb('02 17 00 0a "demo/room1" 04 "chat" 64 00 00 00 00 00'), fin=True)
    assert dec.pull_varint() == 2
    with pytest.raises(DecodeError, match="trailing bytes"):
        dec.pull_message(Subscribe, V3)
    # A failed pull consumes nothing.
    assert dec.buffered == 0x18


def test_truncated_body_inside_declared_length() -> None:
    dec = StreamDecoder()
    dec.feed(hexb('15 00 0a "demo/room1" 04 "chat" 64 00 00 00'))
    with pytest.raises(DecodeError, match="truncated"):
        dec.pull_message(Subscribe, V3)


# --------------------------------------------------------------------------- size limits


def test_message_over_max_message_size() -> None:
    data = hexb('16 00 0a "demo/room1" 04 "chat" 64 00 00 00 00')
    dec = StreamDecoder(max_message_size=0x15)
    dec.feed(data[:1])  # only the length prefix: refused before the body arrives
    with pytest.raises(MessageTooLarge) as info:
        dec.pull_message(Subscribe, V3)
    assert isinstance(info.value, ProtocolError)
    assert info.value.error_code == ErrorCode.BOUNDS_EXCEEDED
    at_limit = StreamDecoder(max_message_size=0x16)
    at_limit.feed(data)
    assert at_limit.pull_message(Subscribe, V3) == Subscribe(0, "demo/room1", "chat", 100)


def test_message_default_size_limit() -> None:
    assert MAX_MESSAGE_SIZE == 65536
    over = StreamDecoder()
    over.feed(encode_varint(MAX_MESSAGE_SIZE + 1))
    with pytest.raises(MessageTooLarge):
        over.pull_message(Setup, V5)
    huge = StreamDecoder()
    huge.feed(hexb("ff ff ff ff ff ff ff ff"))
    with pytest.raises(MessageTooLarge):
        huge.pull_message(Setup, V5)
    at = StreamDecoder()
    at.feed(encode_varint(MAX_MESSAGE_SIZE))
    assert at.pull_message(Setup, V5) is NEED_DATA


@pytest.mark.parametrize("version", ALL)
def test_frame_over_max_frame_size(version: Version) -> None:
    head = b"\x00" if version >= V5 else b""
    dec = StreamDecoder(max_frame_size=4)
    dec.feed(head + b"\x05")  # size only: refused before the payload arrives
    with pytest.raises(FrameTooLarge) as info:
        dec.pull_frame(version)
    assert isinstance(info.value, MessageTooLarge)
    assert info.value.error_code == ErrorCode.BOUNDS_EXCEEDED
    ok = StreamDecoder(max_frame_size=4)
    ok.feed(head + b"\x04abcd", fin=True)
    assert ok.pull_frame(version) == (0, b"abcd")
    assert ok.pull_frame(version) is END


def test_frame_default_size_limit() -> None:
    assert MAX_FRAME_SIZE == 16 * 1024 * 1024
    dec = StreamDecoder()
    dec.feed(encode_varint(MAX_FRAME_SIZE + 1))
    with pytest.raises(FrameTooLarge):
        dec.pull_frame(V3)
    at = StreamDecoder()
    at.feed(encode_varint(MAX_FRAME_SIZE))
    assert at.pull_frame(V3) is NEED_DATA


def test_frame_size_limit_is_independent_of_message_limit() -> None:
    dec = StreamDecoder(max_message_size=8)
    payload = bytes(1000)
    dec.feed(encode_frame(payload, V5, 2), fin=True)
    assert dec.pull_frame(V5) == (2, payload)


def test_long_stream_is_compacted_correctly() -> None:
    """Many frames through one decoder (exercises the internal buffer compaction)."""
    frames = [bytes([i % 251]) * (i % 97) for i in range(6000)]
    data = b"".join(encode_frame(frame, V5, zigzag_encode(i)) for i, frame in enumerate(frames))
    assert len(data) > 3 * 65536
    dec = StreamDecoder()
    got: list[tuple[int, bytes]] = []
    for at in range(0, len(data), 1000):
        dec.feed(data[at : at + 1000])
        while (frame := dec.pull_frame(V5)) is not NEED_DATA:
            assert frame is not END
            got.append(frame)
    assert [(zigzag_decode(raw), payload) for raw, payload in got] == list(enumerate(frames))
    assert dec.buffered == 0


def test_error_hierarchy() -> None:
    for cls in (DecodeError, MessageTooLarge, FrameTooLarge):
        assert issubclass(cls, ProtocolError)
        assert issubclass(cls, HangError)
    assert DecodeError.error_code == ErrorCode.DECODE


# --------------------------------------------------------------------------- fuzzing

MESSAGE_CLASSES = [
    Subscribe, SubscribeUpdate, SubscribeOk, SubscribeStart, SubscribeEnd, SubscribeDrop, Announce,
    AnnounceRequest, AnnounceInit, AnnounceOk, TrackRequest, TrackInfo, GroupHeader, Fetch, Probe, Goaway,
    SessionInfo, Setup, ClientSetup, ServerSetup,
]
OPS = (
    [("varint", None), ("frame", None)]
    + [("message", cls) for cls in MESSAGE_CLASSES]
    + [("setup", cls) for cls in (ClientSetup, ServerSetup)]
)


def run_op(dec: StreamDecoder, op: tuple[str, Any], version: Version) -> Any:
    kind, cls = op
    if kind == "varint":
        return dec.pull_varint()
    if kind == "frame":
        return dec.pull_frame(version)
    if kind == "message":
        return dec.pull_message(cls, version)
    return dec.pull_setup_message(cls, version)


def run_ops(
    chunks: list[bytes], ops: list[tuple[str, Any]], version: Version, limits: dict[str, int]
) -> list[Any]:
    """Feed ``chunks`` (FIN after the last) and run ``ops`` in order; record what each produced."""
    dec = StreamDecoder(**limits)
    results: list[Any] = []
    pending = list(chunks)
    fin_sent = False
    op_index = 0
    while op_index < len(ops):
        before = dec.buffered
        try:
            got = run_op(dec, ops[op_index], version)
        except HangError as exc:
            # A failed pull consumes nothing.
            assert dec.buffered == before
            results.append(type(exc))
            return results
        if got is NEED_DATA:
            assert dec.buffered == before
            if pending:
                dec.feed(pending.pop(0))
            elif not fin_sent:
                dec.feed(b"", fin=True)
                fin_sent = True
            else:  # pragma: no cover - NEED_DATA after FIN would be a bug
                raise AssertionError("NEED_DATA after FIN")
            continue
        if got is END:
            assert dec.finished
            results.append(END)
            return results
        assert dec.buffered < before, "a successful pull must consume bytes"
        results.append(got)
        op_index += 1
    return results


@settings(max_examples=400, deadline=None)
@given(
    raw=st.binary(max_size=96),
    ops=st.lists(st.sampled_from(OPS), min_size=1, max_size=6),
    version=st.sampled_from(ALL),
    chunk=st.integers(1, 8),
    limits=st.fixed_dictionaries({}, optional={"max_message_size": st.integers(0, 64),
                                               "max_frame_size": st.integers(0, 64)}),
)
def test_random_bytes_only_raise_hang_errors(
    raw: bytes, ops: list[tuple[str, Any]], version: Version, chunk: int, limits: dict[str, int]
) -> None:
    """Arbitrary input never escapes as IndexError/ValueError/UnicodeError, and chunking is invisible."""
    whole = run_ops([raw], ops, version, limits)
    chunked = run_ops([raw[i : i + chunk] for i in range(0, len(raw), chunk)], ops, version, limits)
    assert chunked == whole


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_mutated_vectors_only_raise_hang_errors(data: st.DataObject) -> None:
    """Vectors with one byte changed, inserted or removed: a result or a HangError, nothing else."""
    stream = data.draw(st.sampled_from(STREAMS))
    version = data.draw(st.sampled_from(stream.versions))
    raw = bytearray(stream.data)
    pos = data.draw(st.integers(0, len(raw) - 1))
    action = data.draw(st.sampled_from(["flip", "insert", "delete"]))
    if action == "flip":
        raw[pos] ^= data.draw(st.integers(1, 255))
    elif action == "insert":
        raw.insert(pos, data.draw(st.integers(0, 255)))
    else:
        del raw[pos]
    dec = StreamDecoder()
    dec.feed(bytes(raw), fin=True)
    try:
        for unit in stream.units:
            if unit.pull(dec, version) is END:
                break
        next_pull(dec, stream, version)
    except HangError:
        pass
