"""IETF MoQ Transport draft-07 control messages: one frozen dataclass each, plus incremental framing.

Every control message travels as ``Type (i) | Length (i) | Payload`` on the control stream. The
``encode(buf)`` / ``decode(buf)`` pairs below write and read the payload only;
:func:`encode_control` and :class:`ControlDecoder` add and check the type and length. Objects,
subgroup and fetch streams and datagrams live in :mod:`hang.wire.moqt07_data`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import ClassVar, Final, Protocol, Self

from hang.errors import DecodeError, MessageTooLarge, ParameterLengthMismatch, Truncated, UnknownMessage
from hang.wire.coding import Buffer, BufferReadError, encode_varint, push_u8
from hang.wire.framing import NEED_DATA, Pending


class Draft(IntEnum):
    """The IETF MoQ Transport version this module speaks."""

    DRAFT_07 = 0xFF000007

    @property
    def label(self) -> str:
        """Short human name, ``draft-07``."""
        return f"draft-{self.value & 0xFF:02d}"


VERSION: Final = Draft.DRAFT_07
#: ALPN of draft-07 over raw QUIC (WebTransport uses ``h3`` and no sub-protocol).
ALPN: Final = "moq-00"
#: Largest control message payload we accept.
MAX_CONTROL_SIZE = 64 * 1024
MAX_NAMESPACE_FIELDS = 32
MAX_FIELD_LENGTH = 4096
MAX_PARAMETERS = 64
MAX_VERSIONS = 64

Namespace = tuple[str, ...]
Params = dict[int, bytes]


class MessageType(IntEnum):
    """Control message types."""

    SUBSCRIBE_UPDATE = 0x02
    SUBSCRIBE = 0x03
    SUBSCRIBE_OK = 0x04
    SUBSCRIBE_ERROR = 0x05
    ANNOUNCE = 0x06
    ANNOUNCE_OK = 0x07
    ANNOUNCE_ERROR = 0x08
    UNANNOUNCE = 0x09
    UNSUBSCRIBE = 0x0A
    SUBSCRIBE_DONE = 0x0B
    ANNOUNCE_CANCEL = 0x0C
    TRACK_STATUS_REQUEST = 0x0D
    TRACK_STATUS = 0x0E
    GOAWAY = 0x10
    SUBSCRIBE_ANNOUNCES = 0x11
    SUBSCRIBE_ANNOUNCES_OK = 0x12
    SUBSCRIBE_ANNOUNCES_ERROR = 0x13
    UNSUBSCRIBE_ANNOUNCES = 0x14
    MAX_SUBSCRIBE_ID = 0x15
    FETCH = 0x16
    FETCH_CANCEL = 0x17
    FETCH_OK = 0x18
    FETCH_ERROR = 0x19
    CLIENT_SETUP = 0x40
    SERVER_SETUP = 0x41


class SetupParam(IntEnum):
    """Setup parameter keys (their own namespace)."""

    ROLE = 0x00
    PATH = 0x01
    MAX_SUBSCRIBE_ID = 0x02


class Param(IntEnum):
    """Version-specific parameter keys of SUBSCRIBE, ANNOUNCE and friends."""

    AUTHORIZATION_INFO = 0x02
    DELIVERY_TIMEOUT = 0x03
    MAX_CACHE_DURATION = 0x04


class Role(IntEnum):
    """ROLE setup parameter values."""

    PUBLISHER = 1
    SUBSCRIBER = 2
    PUBSUB = 3


class FilterType(IntEnum):
    """SUBSCRIBE filters."""

    LATEST_GROUP = 0x1
    LATEST_OBJECT = 0x2
    ABSOLUTE_START = 0x3
    ABSOLUTE_RANGE = 0x4


class GroupOrder(IntEnum):
    """Delivery order of groups (0 in a request: the publisher's choice)."""

    PUBLISHER = 0
    ASCENDING = 1
    DESCENDING = 2


class SubscribeErrorCode(IntEnum):
    """SUBSCRIBE_ERROR (and, by the vectors, FETCH_ERROR) codes."""

    INTERNAL_ERROR = 0x0
    INVALID_RANGE = 0x1
    RETRY_TRACK_ALIAS = 0x2
    TRACK_DOES_NOT_EXIST = 0x3
    UNAUTHORIZED = 0x4
    TIMEOUT = 0x5


class SubscribeDoneCode(IntEnum):
    """SUBSCRIBE_DONE status codes."""

    UNSUBSCRIBED = 0x0
    INTERNAL_ERROR = 0x1
    UNAUTHORIZED = 0x2
    TRACK_ENDED = 0x3
    SUBSCRIPTION_ENDED = 0x4
    GOING_AWAY = 0x5
    EXPIRED = 0x6


class TrackStatusCode(IntEnum):
    """TRACK_STATUS status codes."""

    IN_PROGRESS = 0
    DOES_NOT_EXIST = 1
    NOT_YET_BEGUN = 2
    FINISHED = 3
    RELAY_CANNOT_TELL = 4


# -- primitives ----------------------------------------------------------------------------------


def pull_field(buf: Buffer, limit: int = MAX_FIELD_LENGTH) -> bytes:
    """A ``(b)`` field: varint length then bytes."""
    length = buf.pull_uint_var()
    if length > limit:
        raise DecodeError(f"field of {length} bytes exceeds the limit of {limit}")
    return buf.pull_bytes(length)


def push_field(buf: Buffer, value: bytes) -> None:
    """Write a ``(b)`` field."""
    buf.push_uint_var(len(value))
    buf.push_bytes(value)


def pull_text(buf: Buffer, limit: int = MAX_FIELD_LENGTH) -> str:
    """A ``(b)`` field holding UTF-8 text."""
    raw = pull_field(buf, limit)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError("field is not valid UTF-8") from None


def push_text(buf: Buffer, value: str) -> None:
    """Write UTF-8 text as a ``(b)`` field."""
    push_field(buf, value.encode("utf-8"))


def pull_namespace(buf: Buffer) -> Namespace:
    """A track namespace tuple: ``v(N)`` then N fields, 1 <= N <= 32."""
    count = buf.pull_uint_var()
    if not 1 <= count <= MAX_NAMESPACE_FIELDS:
        raise DecodeError(f"namespace of {count} fields (1..{MAX_NAMESPACE_FIELDS} allowed)")
    return tuple(pull_text(buf) for _ in range(count))


def push_namespace(buf: Buffer, namespace: Namespace) -> None:
    """Write a track namespace tuple."""
    if not 1 <= len(namespace) <= MAX_NAMESPACE_FIELDS:
        raise ValueError(f"namespace of {len(namespace)} fields")
    buf.push_uint_var(len(namespace))
    for part in namespace:
        push_text(buf, part)


#: Parameter keys whose value is a varint inside the length.
VARINT_PARAMS: Final = frozenset({Param.DELIVERY_TIMEOUT, Param.MAX_CACHE_DURATION})
VARINT_SETUP_PARAMS: Final = frozenset({SetupParam.ROLE, SetupParam.MAX_SUBSCRIBE_ID})


def pull_params(buf: Buffer, varint_keys: frozenset[int] = VARINT_PARAMS) -> Params:
    """``v(count)`` then ``key (i) | length (i) | value``; a duplicate key is a decode error."""
    count = buf.pull_uint_var()
    if count > MAX_PARAMETERS:
        raise DecodeError(f"{count} parameters exceed the limit of {MAX_PARAMETERS}")
    params: Params = {}
    for _ in range(count):
        key = buf.pull_uint_var()
        value = pull_field(buf, MAX_CONTROL_SIZE)
        if key in params:
            raise DecodeError(f"parameter {key:#x} given twice")
        if key in varint_keys:
            inner = Buffer(data=value)
            try:
                inner.pull_uint_var()
            except BufferReadError:
                raise ParameterLengthMismatch(f"parameter {key:#x} value does not fit its length") from None
            if not inner.eof():
                raise ParameterLengthMismatch(f"parameter {key:#x} has {len(value)} bytes for one varint")
        params[key] = value
    return params


def push_params(buf: Buffer, params: Params) -> None:
    """Write a parameter list."""
    buf.push_uint_var(len(params))
    for key, value in params.items():
        buf.push_uint_var(key)
        push_field(buf, value)


def varint_param(value: int) -> bytes:
    """The value bytes of an integer parameter."""
    return encode_varint(value)


def param_int(params: Params, key: int) -> int | None:
    """An integer parameter's value (None when absent)."""
    raw = params.get(key)
    if raw is None:
        return None
    return Buffer(data=raw).pull_uint_var()


def _pull_u8(buf: Buffer) -> int:
    value: int = buf.pull_uint8()
    return value


def _pull_flag(buf: Buffer, what: str) -> bool:
    value = buf.pull_uint8()
    if value > 1:
        raise DecodeError(f"{what} must be 0 or 1, not {value}")
    return value == 1


# -- messages ------------------------------------------------------------------------------------


class ControlMessage(Protocol):
    """What every control message class provides."""

    TYPE: ClassVar[MessageType]

    def encode(self, buf: Buffer) -> None: ...

    @classmethod
    def decode(cls, buf: Buffer) -> Self: ...


@dataclass(frozen=True)
class ClientSetup:
    """CLIENT_SETUP: the versions the client speaks and its setup parameters."""

    TYPE: ClassVar = MessageType.CLIENT_SETUP
    supported_versions: tuple[int, ...]
    parameters: Params = field(default_factory=dict)

    def encode(self, buf: Buffer) -> None:
        buf.push_uint_var(len(self.supported_versions))
        for version in self.supported_versions:
            buf.push_uint_var(version)
        push_params(buf, self.parameters)

    @classmethod
    def decode(cls, buf: Buffer) -> Self:
        count = buf.pull_uint_var()
        if not 1 <= count <= MAX_VERSIONS:
            raise DecodeError(f"CLIENT_SETUP offers {count} versions")
        versions = tuple(buf.pull_uint_var() for _ in range(count))
        return cls(versions, pull_params(buf, VARINT_SETUP_PARAMS))


@dataclass(frozen=True)
class ServerSetup:
    """SERVER_SETUP: the version the server selected and its setup parameters."""

    TYPE: ClassVar = MessageType.SERVER_SETUP
    selected_version: int
    parameters: Params = field(default_factory=dict)

    def encode(self, buf: Buffer) -> None:
        buf.push_uint_var(self.selected_version)
        push_params(buf, self.parameters)

    @classmethod
    def decode(cls, buf: Buffer) -> Self:
        return cls(buf.pull_uint_var(), pull_params(buf, VARINT_SETUP_PARAMS))


@dataclass(frozen=True)
class Goaway:
    """GOAWAY: the server asks the client to move (empty URI: reconnect to the same one)."""

    TYPE: ClassVar = MessageType.GOAWAY
    new_session_uri: str = ""

    def encode(self, buf: Buffer) -> None:
        push_text(buf, self.new_session_uri)

    @classmethod
    def decode(cls, buf: Buffer) -> Self:
        return cls(pull_text(buf, 8192))


@dataclass(frozen=True)
class MaxSubscribeId:
    """MAX_SUBSCRIBE_ID: subscribe ids below this value may be used."""

    TYPE: ClassVar = MessageType.MAX_SUBSCRIBE_ID
    subscribe_id: int

    def encode(self, buf: Buffer) -> None:
        buf.push_uint_var(self.subscribe_id)

    @classmethod
    def decode(cls, buf: Buffer) -> Self:
        return cls(buf.pull_uint_var())


@dataclass(frozen=True)
class Subscribe:
    """SUBSCRIBE to a track, from a point given by the filter."""

    TYPE: ClassVar = MessageType.SUBSCRIBE
    subscribe_id: int
    track_alias: int
    track_namespace: Namespace
    track_name: str
    subscriber_priority: int = 128
    group_order: int = GroupOrder.PUBLISHER
    filter_type: int = FilterType.LATEST_GROUP
    start_group: int | None = None
    start_object: int | None = None
    end_group: int | None = None
    end_object: int | None = None
    parameters: Params = field(default_factory=dict)

    def encode(self, buf: Buffer) -> None:
        buf.push_uint_var(self.subscribe_id)
        buf.push_uint_var(self.track_alias)
        push_namespace(buf, self.track_namespace)
        push_text(buf, self.track_name)
        push_u8(buf, self.subscriber_priority)
        push_u8(buf, self.group_order)
        buf.push_uint_var(self.filter_type)
        if self.filter_type in (FilterType.ABSOLUTE_START, FilterType.ABSOLUTE_RANGE):
            buf.push_uint_var(self.start_group or 0)
            buf.push_uint_var(self.start_object or 0)
        if self.filter_type == FilterType.ABSOLUTE_RANGE:
            buf.push_uint_var(self.end_group or 0)
            buf.push_uint_var(self.end_object or 0)
        push_params(buf, self.parameters)

    @classmethod
    def decode(cls, buf: Buffer) -> Self:
        subscribe_id, alias = buf.pull_uint_var(), buf.pull_uint_var()
        namespace, name = pull_namespace(buf), pull_text(buf)
        priority, order = _pull_u8(buf), _pull_u8(buf)
        filter_type = buf.pull_uint_var()
        if filter_type not in FilterType._value2member_map_:
            raise DecodeError(f"unknown SUBSCRIBE filter type {filter_type}")
        start_group = start_object = end_group = end_object = None
        if filter_type in (FilterType.ABSOLUTE_START, FilterType.ABSOLUTE_RANGE):
            start_group, start_object = buf.pull_uint_var(), buf.pull_uint_var()
        if filter_type == FilterType.ABSOLUTE_RANGE:
            end_group, end_object = buf.pull_uint_var(), buf.pull_uint_var()
        return cls(subscribe_id, alias, namespace, name, priority, order, filter_type, start_group, start_object,
                   end_group, end_object, pull_params(buf))


@dataclass(frozen=True)
class SubscribeUpdate:
    """SUBSCRIBE_UPDATE: narrow a subscription (end fields are +1, 0 = open)."""

    TYPE: ClassVar = MessageType.SUBSCRIBE_UPDATE
    subscribe_id: int
    start_group: int
    start_object: int
    end_group: int
    end_object: int
    subscriber_priority: int
    parameters: Params = field(default_factory=dict)

    def encode(self, buf: Buffer) -> None:
        for value in (self.subscribe_id, self.start_group, self.start_object, self.end_group, self.end_object):
            buf.push_uint_var(value)
        push_u8(buf, self.subscriber_priority)
        push_params(buf, self.parameters)

    @classmethod
    def decode(cls, buf: Buffer) -> Self:
        sub, start_group, start_object, end_group, end_object = (buf.pull_uint_var() for _ in range(5))
        return cls(sub, start_group, start_object, end_group, end_object, _pull_u8(buf), pull_params(buf))


@dataclass(frozen=True)
class SubscribeOk:
    """SUBSCRIBE_OK, with the largest object so far when content exists."""

    TYPE: ClassVar = MessageType.SUBSCRIBE_OK
    subscribe_id: int
    expires: int = 0
    group_order: int = GroupOrder.ASCENDING
    largest_group_id: int | None = None
    largest_object_id: int | None = None
    parameters: Params = field(default_factory=dict)

    @property
    def content_exists(self) -> bool:
        """Whether the track has published anything yet."""
        return self.largest_group_id is not None

    def encode(self, buf: Buffer) -> None:
        buf.push_uint_var(self.subscribe_id)
        buf.push_uint_var(self.expires)
        push_u8(buf, self.group_order)
        push_u8(buf, 1 if self.content_exists else 0)
        if self.largest_group_id is not None:
            buf.push_uint_var(self.largest_group_id)
            buf.push_uint_var(self.largest_object_id or 0)
        push_params(buf, self.parameters)

    @classmethod
    def decode(cls, buf: Buffer) -> Self:
        subscribe_id, expires, order = buf.pull_uint_var(), buf.pull_uint_var(), _pull_u8(buf)
        group = obj = None
        if _pull_flag(buf, "ContentExists"):
            group, obj = buf.pull_uint_var(), buf.pull_uint_var()
        return cls(subscribe_id, expires, order, group, obj, pull_params(buf))


@dataclass(frozen=True)
class SubscribeError:
    """SUBSCRIBE_ERROR: the subscription was refused."""

    TYPE: ClassVar = MessageType.SUBSCRIBE_ERROR
    subscribe_id: int
    error_code: int
    reason_phrase: str
    track_alias: int

    def encode(self, buf: Buffer) -> None:
        buf.push_uint_var(self.subscribe_id)
        buf.push_uint_var(self.error_code)
        push_text(buf, self.reason_phrase)
        buf.push_uint_var(self.track_alias)

    @classmethod
    def decode(cls, buf: Buffer) -> Self:
        return cls(buf.pull_uint_var(), buf.pull_uint_var(), pull_text(buf), buf.pull_uint_var())


@dataclass(frozen=True)
class Unsubscribe:
    """UNSUBSCRIBE: stop a subscription (answered by SUBSCRIBE_DONE)."""

    TYPE: ClassVar = MessageType.UNSUBSCRIBE
    subscribe_id: int

    def encode(self, buf: Buffer) -> None:
        buf.push_uint_var(self.subscribe_id)

    @classmethod
    def decode(cls, buf: Buffer) -> Self:
        return cls(buf.pull_uint_var())


@dataclass(frozen=True)
class SubscribeDone:
    """SUBSCRIBE_DONE: the publisher will send nothing more on this subscription."""

    TYPE: ClassVar = MessageType.SUBSCRIBE_DONE
    subscribe_id: int
    status_code: int
    reason_phrase: str = ""
    final_group: int | None = None
    final_object: int | None = None

    @property
    def content_exists(self) -> bool:
        """Whether any object was sent."""
        return self.final_group is not None

    def encode(self, buf: Buffer) -> None:
        buf.push_uint_var(self.subscribe_id)
        buf.push_uint_var(self.status_code)
        push_text(buf, self.reason_phrase)
        push_u8(buf, 1 if self.content_exists else 0)
        if self.final_group is not None:
            buf.push_uint_var(self.final_group)
            buf.push_uint_var(self.final_object or 0)

    @classmethod
    def decode(cls, buf: Buffer) -> Self:
        subscribe_id, status, reason = buf.pull_uint_var(), buf.pull_uint_var(), pull_text(buf)
        if _pull_flag(buf, "ContentExists"):
            return cls(subscribe_id, status, reason, buf.pull_uint_var(), buf.pull_uint_var())
        return cls(subscribe_id, status, reason)


@dataclass(frozen=True)
class _NamespaceOnly:
    track_namespace: Namespace

    def encode(self, buf: Buffer) -> None:
        push_namespace(buf, self.track_namespace)

    @classmethod
    def decode(cls, buf: Buffer) -> Self:
        return cls(pull_namespace(buf))


@dataclass(frozen=True)
class _NamespaceError:
    track_namespace: Namespace
    error_code: int
    reason_phrase: str

    def encode(self, buf: Buffer) -> None:
        push_namespace(buf, self.track_namespace)
        buf.push_uint_var(self.error_code)
        push_text(buf, self.reason_phrase)

    @classmethod
    def decode(cls, buf: Buffer) -> Self:
        return cls(pull_namespace(buf), buf.pull_uint_var(), pull_text(buf))


@dataclass(frozen=True)
class Announce:
    """ANNOUNCE: the sender publishes tracks under a namespace."""

    TYPE: ClassVar = MessageType.ANNOUNCE
    track_namespace: Namespace
    parameters: Params = field(default_factory=dict)

    def encode(self, buf: Buffer) -> None:
        push_namespace(buf, self.track_namespace)
        push_params(buf, self.parameters)

    @classmethod
    def decode(cls, buf: Buffer) -> Self:
        return cls(pull_namespace(buf), pull_params(buf))


@dataclass(frozen=True)
class AnnounceOk(_NamespaceOnly):
    """ANNOUNCE_OK."""

    TYPE: ClassVar = MessageType.ANNOUNCE_OK


@dataclass(frozen=True)
class AnnounceError(_NamespaceError):
    """ANNOUNCE_ERROR."""

    TYPE: ClassVar = MessageType.ANNOUNCE_ERROR


@dataclass(frozen=True)
class Unannounce(_NamespaceOnly):
    """UNANNOUNCE: the namespace is withdrawn."""

    TYPE: ClassVar = MessageType.UNANNOUNCE


@dataclass(frozen=True)
class AnnounceCancel(_NamespaceError):
    """ANNOUNCE_CANCEL: the receiver no longer accepts the announced namespace."""

    TYPE: ClassVar = MessageType.ANNOUNCE_CANCEL


@dataclass(frozen=True)
class SubscribeAnnounces:
    """SUBSCRIBE_ANNOUNCES: forward ANNOUNCE / UNANNOUNCE under a namespace prefix."""

    TYPE: ClassVar = MessageType.SUBSCRIBE_ANNOUNCES
    track_namespace_prefix: Namespace
    parameters: Params = field(default_factory=dict)

    def encode(self, buf: Buffer) -> None:
        push_namespace(buf, self.track_namespace_prefix)
        push_params(buf, self.parameters)

    @classmethod
    def decode(cls, buf: Buffer) -> Self:
        return cls(pull_namespace(buf), pull_params(buf))


@dataclass(frozen=True)
class _PrefixOnly:
    track_namespace_prefix: Namespace

    def encode(self, buf: Buffer) -> None:
        push_namespace(buf, self.track_namespace_prefix)

    @classmethod
    def decode(cls, buf: Buffer) -> Self:
        return cls(pull_namespace(buf))


@dataclass(frozen=True)
class SubscribeAnnouncesOk(_PrefixOnly):
    """SUBSCRIBE_ANNOUNCES_OK."""

    TYPE: ClassVar = MessageType.SUBSCRIBE_ANNOUNCES_OK


@dataclass(frozen=True)
class UnsubscribeAnnounces(_PrefixOnly):
    """UNSUBSCRIBE_ANNOUNCES."""

    TYPE: ClassVar = MessageType.UNSUBSCRIBE_ANNOUNCES


@dataclass(frozen=True)
class SubscribeAnnouncesError:
    """SUBSCRIBE_ANNOUNCES_ERROR."""

    TYPE: ClassVar = MessageType.SUBSCRIBE_ANNOUNCES_ERROR
    track_namespace_prefix: Namespace
    error_code: int
    reason_phrase: str

    def encode(self, buf: Buffer) -> None:
        push_namespace(buf, self.track_namespace_prefix)
        buf.push_uint_var(self.error_code)
        push_text(buf, self.reason_phrase)

    @classmethod
    def decode(cls, buf: Buffer) -> Self:
        return cls(pull_namespace(buf), buf.pull_uint_var(), pull_text(buf))


@dataclass(frozen=True)
class TrackStatusRequest:
    """TRACK_STATUS_REQUEST."""

    TYPE: ClassVar = MessageType.TRACK_STATUS_REQUEST
    track_namespace: Namespace
    track_name: str

    def encode(self, buf: Buffer) -> None:
        push_namespace(buf, self.track_namespace)
        push_text(buf, self.track_name)

    @classmethod
    def decode(cls, buf: Buffer) -> Self:
        return cls(pull_namespace(buf), pull_text(buf))


@dataclass(frozen=True)
class TrackStatus:
    """TRACK_STATUS: the answer to a TRACK_STATUS_REQUEST."""

    TYPE: ClassVar = MessageType.TRACK_STATUS
    track_namespace: Namespace
    track_name: str
    status_code: int
    last_group_id: int
    last_object_id: int

    def encode(self, buf: Buffer) -> None:
        push_namespace(buf, self.track_namespace)
        push_text(buf, self.track_name)
        for value in (self.status_code, self.last_group_id, self.last_object_id):
            buf.push_uint_var(value)

    @classmethod
    def decode(cls, buf: Buffer) -> Self:
        return cls(pull_namespace(buf), pull_text(buf), buf.pull_uint_var(), buf.pull_uint_var(), buf.pull_uint_var())


@dataclass(frozen=True)
class Fetch:
    """FETCH: past objects of a track (end object +1, 0 = whole group)."""

    TYPE: ClassVar = MessageType.FETCH
    subscribe_id: int
    track_namespace: Namespace
    track_name: str
    subscriber_priority: int
    group_order: int
    start_group: int
    start_object: int
    end_group: int
    end_object: int
    parameters: Params = field(default_factory=dict)

    def encode(self, buf: Buffer) -> None:
        buf.push_uint_var(self.subscribe_id)
        push_namespace(buf, self.track_namespace)
        push_text(buf, self.track_name)
        push_u8(buf, self.subscriber_priority)
        push_u8(buf, self.group_order)
        for value in (self.start_group, self.start_object, self.end_group, self.end_object):
            buf.push_uint_var(value)
        push_params(buf, self.parameters)

    @classmethod
    def decode(cls, buf: Buffer) -> Self:
        subscribe_id, namespace, name = buf.pull_uint_var(), pull_namespace(buf), pull_text(buf)
        priority, order = _pull_u8(buf), _pull_u8(buf)
        start_group, start_object, end_group, end_object = (buf.pull_uint_var() for _ in range(4))
        return cls(subscribe_id, namespace, name, priority, order, start_group, start_object, end_group, end_object,
                   pull_params(buf))


@dataclass(frozen=True)
class FetchCancel:
    """FETCH_CANCEL."""

    TYPE: ClassVar = MessageType.FETCH_CANCEL
    subscribe_id: int

    def encode(self, buf: Buffer) -> None:
        buf.push_uint_var(self.subscribe_id)

    @classmethod
    def decode(cls, buf: Buffer) -> Self:
        return cls(buf.pull_uint_var())


@dataclass(frozen=True)
class FetchOk:
    """FETCH_OK."""

    TYPE: ClassVar = MessageType.FETCH_OK
    subscribe_id: int
    group_order: int
    end_of_track: bool
    largest_group_id: int
    largest_object_id: int
    parameters: Params = field(default_factory=dict)

    def encode(self, buf: Buffer) -> None:
        buf.push_uint_var(self.subscribe_id)
        push_u8(buf, self.group_order)
        push_u8(buf, 1 if self.end_of_track else 0)
        buf.push_uint_var(self.largest_group_id)
        buf.push_uint_var(self.largest_object_id)
        push_params(buf, self.parameters)

    @classmethod
    def decode(cls, buf: Buffer) -> Self:
        subscribe_id, order = buf.pull_uint_var(), _pull_u8(buf)
        end = _pull_flag(buf, "EndOfTrack")
        return cls(subscribe_id, order, end, buf.pull_uint_var(), buf.pull_uint_var(), pull_params(buf))


@dataclass(frozen=True)
class FetchError:
    """FETCH_ERROR."""

    TYPE: ClassVar = MessageType.FETCH_ERROR
    subscribe_id: int
    error_code: int
    reason_phrase: str

    def encode(self, buf: Buffer) -> None:
        buf.push_uint_var(self.subscribe_id)
        buf.push_uint_var(self.error_code)
        push_text(buf, self.reason_phrase)

    @classmethod
    def decode(cls, buf: Buffer) -> Self:
        return cls(buf.pull_uint_var(), buf.pull_uint_var(), pull_text(buf))


MESSAGES: Final[dict[int, type[ControlMessage]]] = {
    cls.TYPE: cls
    for cls in (
        ClientSetup, ServerSetup, Goaway, MaxSubscribeId, Subscribe, SubscribeUpdate, SubscribeOk, SubscribeError,
        Unsubscribe, SubscribeDone, Announce, AnnounceOk, AnnounceError, Unannounce, AnnounceCancel,
        SubscribeAnnounces, SubscribeAnnouncesOk, SubscribeAnnouncesError, UnsubscribeAnnounces,
        TrackStatusRequest, TrackStatus, Fetch, FetchCancel, FetchOk, FetchError,
    )
}


# -- framing -------------------------------------------------------------------------------------


def encode_control(message: ControlMessage, *, length_size: int = 0) -> bytes:
    """``Type | Length | Payload``; ``length_size`` 2 forces a two-byte length (as moxygen sends)."""
    body = Buffer(capacity=MAX_CONTROL_SIZE + 16)
    message.encode(body)
    payload = body.data
    if len(payload) > MAX_CONTROL_SIZE:
        raise ValueError(f"control message of {len(payload)} bytes")
    if length_size == 2 and len(payload) < 0x4000:
        length = (0x4000 | len(payload)).to_bytes(2, "big")
    else:
        length = encode_varint(len(payload))
    return encode_varint(message.TYPE) + length + payload


def decode_control(kind: int, payload: bytes) -> ControlMessage:
    """Decode one payload of type ``kind``; it must be consumed exactly."""
    cls = MESSAGES.get(kind)
    if cls is None:
        raise UnknownMessage(f"unknown control message type {kind:#x}")
    buf = Buffer(data=payload)
    try:
        message = cls.decode(buf)
    except BufferReadError:
        raise Truncated(f"{cls.__name__} is shorter than its fields") from None
    if not buf.eof():
        raise DecodeError(f"{cls.__name__} length {len(payload)} leaves {len(payload) - buf.tell()} bytes unread")
    return message


class ControlDecoder:
    """Buffers the control stream and pulls whole messages out of it."""

    def __init__(self, max_size: int = MAX_CONTROL_SIZE) -> None:
        self.max_size = max_size
        self._data = bytearray()
        self._fin = False

    def feed(self, data: bytes, fin: bool = False) -> None:
        """Append bytes received on the control stream."""
        self._data += data
        self._fin = self._fin or fin

    @property
    def ended(self) -> bool:
        """True once the stream finished and every byte was consumed."""
        return self._fin and not self._data

    def pull(self) -> ControlMessage | Pending:
        """The next message, or NEED_DATA; raises for unknown types, bad lengths and bad payloads."""
        buf = Buffer(data=bytes(self._data[:24]))
        try:
            kind = buf.pull_uint_var()
            length = buf.pull_uint_var()
        except BufferReadError:
            return self._need()
        if kind not in MESSAGES:
            raise UnknownMessage(f"unknown control message type {kind:#x}")
        if length > self.max_size:
            raise MessageTooLarge(f"control message of {length} bytes exceeds {self.max_size}")
        start = buf.tell()
        if len(self._data) < start + length:
            return self._need()
        payload = bytes(self._data[start : start + length])
        del self._data[: start + length]
        return decode_control(kind, payload)

    def _need(self) -> Pending:
        if self._fin and self._data:
            raise Truncated("control stream ended inside a message")
        return NEED_DATA
