"""IETF MoQ Transport draft-07 objects: subgroup and fetch streams, and object datagrams.

Every data stream and datagram starts with its type. A subgroup stream carries a header and then
objects (``ObjectID | PayloadLen | [Status if len = 0] | Payload``) until FIN; a fetch stream
carries objects that name their own group and subgroup. The Cloudflare profile puts a Subscribe
ID in front of the subgroup header and still knows the older per-track stream (0x02).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from hang.errors import DecodeError, MessageTooLarge, Truncated, UnexpectedStream
from hang.wire.coding import Buffer, BufferReadError, encode_varint, push_u8
from hang.wire.constants import MAX_FRAME_SIZE
from hang.wire.framing import END, NEED_DATA, Pending


class DataType(IntEnum):
    """First varint of a data stream or datagram."""

    OBJECT_DATAGRAM = 0x01
    STREAM_HEADER_TRACK = 0x02  # draft-06, still spoken by the Cloudflare relay
    STREAM_HEADER_SUBGROUP = 0x04
    FETCH_HEADER = 0x05


class ObjectStatus(IntEnum):
    """Object status (only sent when the payload is empty)."""

    NORMAL = 0x0
    DOES_NOT_EXIST = 0x1
    END_OF_GROUP = 0x3
    END_OF_TRACK_AND_GROUP = 0x4
    END_OF_SUBGROUP = 0x5


_STATUSES: Final = frozenset(int(s) for s in ObjectStatus)


@dataclass(frozen=True)
class SubgroupHeader:
    """STREAM_HEADER_SUBGROUP (``subscribe_id`` only in the Cloudflare form)."""

    track_alias: int
    group_id: int
    subgroup_id: int = 0
    publisher_priority: int = 128
    subscribe_id: int | None = None


@dataclass(frozen=True)
class TrackHeader:
    """The draft-06 STREAM_HEADER_TRACK (receive only, Cloudflare profile)."""

    subscribe_id: int
    track_alias: int
    publisher_priority: int


@dataclass(frozen=True)
class FetchHeader:
    """FETCH_HEADER: the objects of one FETCH follow."""

    subscribe_id: int


@dataclass(frozen=True)
class Object:
    """One object as read from a stream or datagram (ids a stream does not carry are None)."""

    object_id: int
    payload: bytes = b""
    object_status: int = ObjectStatus.NORMAL
    group_id: int | None = None
    subgroup_id: int | None = None
    publisher_priority: int | None = None


@dataclass(frozen=True)
class ObjectDatagram:
    """OBJECT_DATAGRAM: one whole object in one QUIC datagram."""

    track_alias: int
    group_id: int
    object_id: int
    publisher_priority: int
    payload: bytes = b""
    object_status: int = ObjectStatus.NORMAL


def _push_payload(buf: Buffer, payload: bytes, status: int) -> None:
    buf.push_uint_var(len(payload))
    if payload:
        if status != ObjectStatus.NORMAL:
            raise ValueError("an object with a payload has status Normal")
        buf.push_bytes(payload)
    else:
        buf.push_uint_var(status)


def _pull_payload(buf: Buffer, max_size: int) -> tuple[bytes, int]:
    length = buf.pull_uint_var()
    if length > max_size:
        raise MessageTooLarge(f"object of {length} bytes exceeds the limit of {max_size}")
    if length == 0:
        status = buf.pull_uint_var()
        if status not in _STATUSES:
            raise DecodeError(f"unknown object status {status}")
        return b"", status
    return buf.pull_bytes(length), ObjectStatus.NORMAL


def encode_subgroup_header(header: SubgroupHeader) -> bytes:
    """The start of a subgroup stream (with the Subscribe ID when the header carries one)."""
    buf = Buffer(capacity=48)
    buf.push_uint_var(DataType.STREAM_HEADER_SUBGROUP)
    if header.subscribe_id is not None:
        buf.push_uint_var(header.subscribe_id)
    buf.push_uint_var(header.track_alias)
    buf.push_uint_var(header.group_id)
    buf.push_uint_var(header.subgroup_id)
    push_u8(buf, header.publisher_priority)
    return buf.data


def encode_subgroup_object(object_id: int, payload: bytes = b"", status: int = ObjectStatus.NORMAL) -> bytes:
    """One object on a subgroup stream."""
    buf = Buffer(capacity=len(payload) + 24)
    buf.push_uint_var(object_id)
    _push_payload(buf, payload, status)
    return buf.data


def encode_fetch_header(subscribe_id: int) -> bytes:
    """The start of a fetch stream."""
    return encode_varint(DataType.FETCH_HEADER) + encode_varint(subscribe_id)


def encode_fetch_object(obj: Object) -> bytes:
    """One object on a fetch stream."""
    buf = Buffer(capacity=len(obj.payload) + 48)
    buf.push_uint_var(obj.group_id or 0)
    buf.push_uint_var(obj.subgroup_id or 0)
    buf.push_uint_var(obj.object_id)
    push_u8(buf, obj.publisher_priority if obj.publisher_priority is not None else 128)
    _push_payload(buf, obj.payload, obj.object_status)
    return buf.data


def encode_datagram(datagram: ObjectDatagram) -> bytes:
    """An OBJECT_DATAGRAM (status only when the payload is empty, as the vectors and moxygen do)."""
    buf = Buffer(capacity=len(datagram.payload) + 48)
    buf.push_uint_var(DataType.OBJECT_DATAGRAM)
    buf.push_uint_var(datagram.track_alias)
    buf.push_uint_var(datagram.group_id)
    buf.push_uint_var(datagram.object_id)
    push_u8(buf, datagram.publisher_priority)
    _push_payload(buf, datagram.payload, datagram.object_status)
    return buf.data


def decode_datagram(data: bytes, max_size: int = MAX_FRAME_SIZE) -> ObjectDatagram:
    """Parse one OBJECT_DATAGRAM; it must fill the datagram exactly."""
    buf = Buffer(data=data)
    try:
        kind = buf.pull_uint_var()
        if kind != DataType.OBJECT_DATAGRAM:
            raise UnexpectedStream(f"datagram of type {kind:#x}")
        alias, group, obj = buf.pull_uint_var(), buf.pull_uint_var(), buf.pull_uint_var()
        priority: int = buf.pull_uint8()
        payload, status = _pull_payload(buf, max_size)
    except BufferReadError:
        raise Truncated("datagram shorter than its fields") from None
    if not buf.eof():
        raise DecodeError("trailing bytes after a datagram object")
    return ObjectDatagram(alias, group, obj, priority, payload, status)


DataUnit = SubgroupHeader | TrackHeader | FetchHeader | Object


class DataStreamDecoder:
    """Pulls the header and then the objects of one incoming data stream.

    ``cloudflare`` reads the subgroup header with its leading Subscribe ID.
    """

    def __init__(self, *, cloudflare: bool = False, max_object_size: int = MAX_FRAME_SIZE) -> None:
        self.cloudflare = cloudflare
        self.max_object_size = max_object_size
        self.kind: int | None = None
        self._data = bytearray()
        self._fin = False
        self._need = 1  # bytes needed before parsing is worth trying again

    def feed(self, data: bytes, fin: bool = False) -> None:
        """Append received bytes; ``fin`` marks the end of the stream."""
        self._data += data
        self._fin = self._fin or fin

    def pull(self) -> DataUnit | Pending:
        """The header first, then each object; NEED_DATA, or END at a clean FIN between objects."""
        if not self._data:
            return END if self._fin and self.kind is not None else self._pending()
        if len(self._data) < self._need:
            return self._pending()
        buf = Buffer(data=bytes(self._data))
        try:
            unit = self._parse(buf)
        except BufferReadError:
            self._need = max(self._need, len(self._data) + 1)
            return self._pending()
        del self._data[: buf.tell()]
        self._need = 1
        return unit

    def _pending(self) -> Pending:
        if self._fin:
            raise Truncated("data stream ended inside its header or an object")
        return NEED_DATA

    def _payload(self, buf: Buffer) -> tuple[bytes, int]:
        # Learn the payload length first so a large object is not re-parsed for every chunk.
        start = buf.tell()
        length = buf.pull_uint_var()
        if length > self.max_object_size:
            raise MessageTooLarge(f"object of {length} bytes exceeds the limit of {self.max_object_size}")
        if length and buf.capacity - buf.tell() < length:
            self._need = buf.tell() + length
            raise BufferReadError
        buf.seek(start)
        return _pull_payload(buf, self.max_object_size)

    def _parse(self, buf: Buffer) -> DataUnit:
        if self.kind is None:
            kind = buf.pull_uint_var()
            if kind == DataType.STREAM_HEADER_SUBGROUP:
                sub = buf.pull_uint_var() if self.cloudflare else None
                alias, group, subgroup = buf.pull_uint_var(), buf.pull_uint_var(), buf.pull_uint_var()
                header: DataUnit = SubgroupHeader(alias, group, subgroup, buf.pull_uint8(), sub)
            elif kind == DataType.FETCH_HEADER:
                header = FetchHeader(buf.pull_uint_var())
            elif kind == DataType.STREAM_HEADER_TRACK and self.cloudflare:
                header = TrackHeader(buf.pull_uint_var(), buf.pull_uint_var(), buf.pull_uint8())
            else:
                raise UnexpectedStream(f"unknown data stream type {kind:#x}")
            self.kind = kind
            return header
        if self.kind == DataType.FETCH_HEADER:
            group, subgroup, obj = buf.pull_uint_var(), buf.pull_uint_var(), buf.pull_uint_var()
            priority: int = buf.pull_uint8()
            payload, status = self._payload(buf)
            return Object(obj, payload, status, group, subgroup, priority)
        if self.kind == DataType.STREAM_HEADER_TRACK:
            group, obj = buf.pull_uint_var(), buf.pull_uint_var()
            payload, status = self._payload(buf)
            return Object(obj, payload, status, group)
        obj = buf.pull_uint_var()
        payload, status = self._payload(buf)
        return Object(obj, payload, status)
