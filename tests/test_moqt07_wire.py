"""draft-07 codecs against the third-party vectors (both ways), the notes' bytes, and chopped input."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hang.errors import DecodeError, HangError, ParameterLengthMismatch, Truncated, UnknownMessage
from hang.wire.coding import Buffer, BufferReadError
from hang.wire.framing import END, NEED_DATA
from hang.wire.moqt07 import (
    MESSAGES,
    Announce,
    ClientSetup,
    ControlDecoder,
    ControlMessage,
    Param,
    ServerSetup,
    SetupParam,
    Subscribe,
    SubscribeOk,
    decode_control,
    encode_control,
    varint_param,
)
from hang.wire.moqt07_data import (
    DataStreamDecoder,
    FetchHeader,
    Object,
    ObjectDatagram,
    ObjectStatus,
    SubgroupHeader,
    decode_datagram,
    encode_datagram,
    encode_fetch_header,
    encode_fetch_object,
    encode_subgroup_header,
    encode_subgroup_object,
)

VECTORS = Path(__file__).parent / "vectors" / "moqt-draft07.txt"
PARAM_NAMES = {"role": SetupParam.ROLE, "max_subscribe_id": SetupParam.MAX_SUBSCRIBE_ID,
               "delivery_timeout": Param.DELIVERY_TIMEOUT}


@dataclass
class Vector:
    group: str
    name: str
    data: bytes
    expected: dict[str, Any] | None
    error: str | None
    canonical: bool

    @property
    def id(self) -> str:
        return f"{self.group}/{self.name}"


def load_vectors() -> list[Vector]:
    vectors = []
    group = ""
    for line in VECTORS.read_text().splitlines():
        if line.startswith("## "):
            group = line[3:].strip()
            continue
        if not line.startswith("   "):
            continue
        name, hexdata, rest = line.strip().split(" ", 2)
        canonical = not rest.endswith("(non-canonical)")
        rest = rest.removesuffix("(non-canonical)").strip()
        if rest.startswith("ERROR:"):
            vectors.append(Vector(group, name, bytes.fromhex(hexdata), None, rest[6:], canonical))
        else:
            vectors.append(Vector(group, name, bytes.fromhex(hexdata), json.loads(rest), None, canonical))
    return vectors


ALL = load_vectors()
CONTROL = [v for v in ALL if not v.group.startswith(("object", "varint"))]
OBJECTS = [v for v in ALL if v.group.startswith("object")]
VARINTS = [v for v in ALL if v.group.startswith("varint")]


def test_every_vector_group_is_covered() -> None:
    assert len(ALL) == 92
    kinds = {int(v.group.split()[1], 16) for v in CONTROL if v.group.split()[1] != "None"}
    assert kinds - {0x3F} == set(MESSAGES)


def _pull_one(data: bytes) -> ControlMessage:
    decoder = ControlDecoder()
    decoder.feed(data, fin=True)
    message = decoder.pull()
    assert message is not NEED_DATA
    assert decoder.ended, "bytes left after the message"
    return message  # type: ignore[return-value]


def _as_json(value: Any) -> Any:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, tuple):
        return [_as_json(v) for v in value]
    return value


def _check_fields(message: Any, expected: dict[str, Any]) -> None:
    for key, want in expected.items():
        if key == "parameters":
            names = {PARAM_NAMES[name]: value for name, value in want.items()}
            got = {key: str(Buffer(data=raw).pull_uint_var()) for key, raw in message.parameters.items()}
            assert got == names
        elif key == "content_exists":
            assert str(int(message.content_exists)) == want
        else:
            assert _as_json(getattr(message, key)) == want, key
    for optional in ("largest_group_id", "final_group", "start_group", "end_group"):
        if optional not in expected and hasattr(message, optional):
            assert getattr(message, optional) is None, optional


@pytest.mark.parametrize("vector", [v for v in CONTROL if v.error is None], ids=lambda v: v.id)
def test_control_vector_decodes(vector: Vector) -> None:
    message = _pull_one(vector.data)
    assert type(message).TYPE == int(vector.group.split()[1], 16)
    assert vector.expected is not None
    _check_fields(message, vector.expected)
    if vector.canonical:
        assert encode_control(message) == vector.data


@pytest.mark.parametrize("vector", [v for v in CONTROL if v.error is not None], ids=lambda v: v.id)
def test_control_error_vector_is_an_error(vector: Vector) -> None:
    decoder = ControlDecoder()
    decoder.feed(vector.data)
    if vector.error == "incomplete":
        try:
            assert decoder.pull() is NEED_DATA
        except Truncated:
            return
        decoder.feed(b"", fin=True)
        with pytest.raises(Truncated):
            decoder.pull()
    elif vector.error == "unknown_message":
        with pytest.raises(UnknownMessage):
            decoder.pull()
    else:
        with pytest.raises(DecodeError) as info:
            decoder.pull()
        assert not isinstance(info.value, Truncated)


@pytest.mark.parametrize("vector", [v for v in CONTROL if v.error is None], ids=lambda v: v.id)
def test_control_vector_byte_by_byte(vector: Vector) -> None:
    decoder = ControlDecoder()
    for i, byte in enumerate(vector.data):
        decoder.feed(bytes([byte]))
        result = decoder.pull()
        if i < len(vector.data) - 1:
            assert result is NEED_DATA
    assert result is not NEED_DATA


@pytest.mark.parametrize("vector", [v for v in CONTROL if v.error is None and v.data[1] > 0], ids=lambda v: v.id)
def test_length_mismatch_closes(vector: Vector) -> None:
    # The same payload with a length one larger (a trailing byte) or one shorter must be refused.
    kind_size = 2 if vector.data[0] == 0x40 else 1
    kind, payload = vector.data[:kind_size], _pull_payload(vector.data, kind_size)
    longer = kind + bytes([len(payload) + 1]) + payload + b"\x00" if len(payload) < 62 else None
    if longer is not None:
        with pytest.raises(DecodeError):
            _pull_one(longer)
    shorter = kind + bytes([len(payload) - 1]) + payload[:-1] if len(payload) < 64 else None
    if shorter is not None:
        with pytest.raises(DecodeError):
            _pull_one(shorter)


def _pull_payload(data: bytes, kind_size: int) -> bytes:
    buf = Buffer(data=data[kind_size:])
    length = buf.pull_uint_var()
    return buf.pull_bytes(length)


def _object_json(obj: Object) -> dict[str, str]:
    return {"object_id": str(obj.object_id), "object_status": str(obj.object_status),
            "payload_length": str(len(obj.payload)), "payload_hex": obj.payload.hex()}


@pytest.mark.parametrize("vector", OBJECTS, ids=lambda v: v.id)
@pytest.mark.parametrize("chunk", [0, 1])
def test_object_vectors(vector: Vector, chunk: int) -> None:
    if vector.group == "object 0x01":
        if vector.error:
            with pytest.raises(Truncated):
                decode_datagram(vector.data)
            return
        assert vector.expected is not None
        datagram = decode_datagram(vector.data)
        expected = {k: v for k, v in vector.expected.items() if k != "stream_type"}
        got = {"track_alias": datagram.track_alias, "group_id": datagram.group_id, "object_id": datagram.object_id,
               "publisher_priority": datagram.publisher_priority, "object_status": datagram.object_status,
               "payload_length": len(datagram.payload), "payload_hex": datagram.payload.hex()}
        assert {k: str(v) for k, v in got.items()} == expected
        assert encode_datagram(datagram) == vector.data
        return
    decoder = DataStreamDecoder()
    units: list[Any] = []
    pieces = [vector.data] if chunk == 0 else [bytes([b]) for b in vector.data]
    for piece in pieces:
        decoder.feed(piece)
        while (unit := decoder.pull()) is not NEED_DATA:
            units.append(unit)
    decoder.feed(b"", fin=True)
    if vector.error:
        with pytest.raises(Truncated):
            decoder.pull()
        return
    assert decoder.pull() is END
    assert vector.expected is not None
    header, objects = units[0], units[1:]
    if isinstance(header, FetchHeader):
        assert str(header.subscribe_id) == vector.expected["subscribe_id"]
        want = vector.expected["objects"]
        assert [{**_object_json(o), "group_id": str(o.group_id), "subgroup_id": str(o.subgroup_id),
                 "publisher_priority": str(o.publisher_priority)} for o in objects] == want
        encoded = encode_fetch_header(header.subscribe_id) + b"".join(encode_fetch_object(o) for o in objects)
    else:
        assert isinstance(header, SubgroupHeader)
        assert [str(header.track_alias), str(header.group_id), str(header.subgroup_id),
                str(header.publisher_priority)] == [vector.expected[k] for k in
                                                    ("track_alias", "group_id", "subgroup_id", "publisher_priority")]
        assert [_object_json(o) for o in objects] == vector.expected["objects"]
        encoded = encode_subgroup_header(header) + b"".join(
            encode_subgroup_object(o.object_id, o.payload, o.object_status) for o in objects)
    assert encoded == vector.data


@pytest.mark.parametrize("vector", VARINTS, ids=lambda v: v.id)
def test_varint_vectors(vector: Vector) -> None:
    buf = Buffer(data=vector.data)
    if vector.error:
        with pytest.raises(BufferReadError):
            buf.pull_uint_var()
        return
    assert vector.expected is not None
    assert str(buf.pull_uint_var()) == vector.expected["value"]
    assert buf.eof()


# -- bytes from the notes (Cloudflare profile, chat, interop cases) ------------------------------


def test_notes_bytes() -> None:
    assert encode_control(ClientSetup((0xFF000007,), {SetupParam.ROLE: varint_param(3)})).hex() == \
        "40400d01c0000000ff00000701000103"
    assert encode_control(ServerSetup(0xFF000007, {SetupParam.ROLE: varint_param(3)})).hex() == \
        "40410cc0000000ff00000701000103"
    chat = ("moq-chat", "room1", "alice", "12345", "1700000000")
    assert encode_control(Announce(chat)) == bytes.fromhex("0628 05 08") + b"moq-chat" + b"\x05room1\x05alice" \
        + b"\x0512345\x0a1700000000\x00"
    sub = Subscribe(0, 0, ("moq-chat", "room1", "bob", "12345", "1700000001"), "chat", 0, 1)
    assert encode_control(sub)[:2] == bytes.fromhex("0330")
    assert encode_control(SubscribeOk(0, 0, 1, 4, 0)).hex() == "04070000010104" + "0000"
    # moxygen writes every control length as a two-byte varint; we must read that.
    moxygen = encode_control(ClientSetup((0xFF000007,), {SetupParam.ROLE: varint_param(3),
                                                         SetupParam.MAX_SUBSCRIBE_ID: varint_param(100)}),
                             length_size=2)
    assert moxygen.hex() == "4040401101c0000000ff0000070200010302024064"
    assert _pull_one(moxygen) == ClientSetup((0xFF000007,), {0: b"\x03", 2: b"\x40\x64"})


def test_cloudflare_subgroup_header() -> None:
    cloudflare = encode_subgroup_header(SubgroupHeader(0, 3, 0, 0, subscribe_id=0)) + encode_subgroup_object(0, b"hi")
    assert cloudflare.hex() == "040000030000" + "00026869"
    decoder = DataStreamDecoder(cloudflare=True)
    decoder.feed(cloudflare, fin=True)
    assert decoder.pull() == SubgroupHeader(0, 3, 0, 0, subscribe_id=0)
    assert decoder.pull() == Object(0, b"hi")
    assert decoder.pull() is END


def test_chat_leave_marker() -> None:
    data = encode_subgroup_header(SubgroupHeader(0, 7, 0, 0)) + encode_subgroup_object(
        0, b"", ObjectStatus.END_OF_TRACK_AND_GROUP)
    assert data.hex() == "0400070000" + "000004"


def test_parameter_length_mismatch() -> None:
    # DELIVERY_TIMEOUT with two bytes that are not one varint.
    body = bytes.fromhex("0201" + "01046c697665" + "05766964656f" + "800001" + "01" + "0302" + "0102")
    with pytest.raises(ParameterLengthMismatch):
        decode_control(0x03, body)


def test_duplicate_parameter_is_an_error() -> None:
    body = bytes.fromhex("01046c69766502" + "0201" + "61" + "0201" + "62")
    with pytest.raises(DecodeError):
        decode_control(0x06, body)


def test_huge_object_length_is_refused_without_allocating() -> None:
    decoder = DataStreamDecoder(max_object_size=1024)
    decoder.feed(encode_subgroup_header(SubgroupHeader(1, 0)) + bytes.fromhex("00 bfffffff"))
    assert isinstance(decoder.pull(), SubgroupHeader)
    with pytest.raises(HangError):
        decoder.pull()


def test_large_object_in_small_chunks() -> None:
    payload = bytes(range(256)) * 4000
    data = encode_subgroup_header(SubgroupHeader(1, 0)) + encode_subgroup_object(0, payload)
    decoder = DataStreamDecoder()
    units = []
    for i in range(0, len(data), 1200):
        decoder.feed(data[i : i + 1200])
        while (unit := decoder.pull()) is not NEED_DATA:
            units.append(unit)
    assert units[1] == Object(0, payload)


namespaces = st.lists(st.text(max_size=8), min_size=1, max_size=4).map(tuple)


@given(st.builds(Subscribe, st.integers(0, 2**62 - 1), st.integers(0, 2**62 - 1), namespaces, st.text(max_size=8),
                 st.integers(0, 255), st.integers(0, 2), st.sampled_from([1, 2])))
def test_subscribe_round_trip(message: Subscribe) -> None:
    assert _pull_one(encode_control(message)) == message


@given(st.builds(ObjectDatagram, st.integers(0, 2**62 - 1), st.integers(0, 2**62 - 1), st.integers(0, 2**62 - 1),
                 st.integers(0, 255), st.binary(min_size=1, max_size=64)))
def test_datagram_round_trip(datagram: ObjectDatagram) -> None:
    assert decode_datagram(encode_datagram(datagram)) == datagram


@given(st.binary(max_size=64))
def test_control_fuzz_only_hang_errors(data: bytes) -> None:
    decoder = ControlDecoder()
    decoder.feed(data, fin=True)
    try:
        while decoder.pull() is not NEED_DATA and not decoder.ended:
            pass
    except HangError:
        pass


@given(st.binary(max_size=64), st.booleans())
def test_data_fuzz_only_hang_errors(data: bytes, cloudflare: bool) -> None:
    decoder = DataStreamDecoder(cloudflare=cloudflare)
    decoder.feed(data, fin=True)
    try:
        while decoder.pull() not in (NEED_DATA, END):
            pass
    except HangError:
        pass
    try:
        decode_datagram(data)
    except HangError:
        pass
