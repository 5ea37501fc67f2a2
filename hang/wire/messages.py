"""One frozen dataclass per moq-lite message, each with an ``encode``/``decode`` pair.

``encode(buf, version)`` writes the message *body*; ``decode(buf, version)`` reads it back.
Length prefixes and message types are added by :mod:`hang.wire.framing`, so the same body codec
serves whole streams fed at once and streams fed a byte at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Protocol, Self

from hang.errors import DecodeError
from hang.wire.coding import (
    Buffer,
    BufferReadError,
    pull_bool,
    pull_optional,
    pull_string,
    push_bool,
    push_optional,
    push_string,
    push_u8,
)
from hang.wire.constants import MAX_PATH_SEGMENTS, AnnounceStatus, Version

V3 = Version.LITE_03
V4 = Version.LITE_04
V5 = Version.LITE_05

#: The most ids a list-valued field (hops, versions, suffixes) may announce before we refuse it.
MAX_LIST = 256


class Message(Protocol):
    """What every message class provides."""

    def encode(self, buf: Buffer, version: Version) -> None: ...

    @classmethod
    def decode(cls, buf: Buffer, version: Version) -> Self: ...


def _pull_count(buf: Buffer, limit: int = MAX_LIST) -> int:
    count = buf.pull_uint_var()
    if count > limit:
        raise DecodeError(f"list of {count} entries exceeds the limit of {limit}")
    return count


@dataclass(frozen=True)
class AnnounceRequest:
    """Ask the peer for announcements under ``prefix`` (ANNOUNCE_PLEASE / ANNOUNCE_INTEREST)."""

    prefix: str
    #: 04+: do not echo broadcasts whose hop list contains this origin id (0 = none).
    exclude_hop: int = 0

    def encode(self, buf: Buffer, version: Version) -> None:
        push_string(buf, self.prefix)
        if version >= V4:
            buf.push_uint_var(self.exclude_hop)

    @classmethod
    def decode(cls, buf: Buffer, version: Version) -> Self:
        prefix = pull_string(buf)
        exclude = buf.pull_uint_var() if version >= V4 else 0
        return cls(prefix, exclude)


@dataclass(frozen=True)
class AnnounceInit:
    """01/02: the set of broadcasts active when the announce stream opened."""

    suffixes: tuple[str, ...]

    def encode(self, buf: Buffer, version: Version) -> None:
        buf.push_uint_var(len(self.suffixes))
        for suffix in self.suffixes:
            push_string(buf, suffix)

    @classmethod
    def decode(cls, buf: Buffer, version: Version) -> Self:
        count = _pull_count(buf, 1 << 16)
        return cls(tuple(pull_string(buf) for _ in range(count)))


@dataclass(frozen=True)
class AnnounceOk:
    """05: first reply on an announce stream: the announcer's origin id and how many are active."""

    origin: int
    active: int

    def encode(self, buf: Buffer, version: Version) -> None:
        buf.push_uint_var(self.origin)
        buf.push_uint_var(self.active)

    @classmethod
    def decode(cls, buf: Buffer, version: Version) -> Self:
        return cls(buf.pull_uint_var(), buf.pull_uint_var())


@dataclass(frozen=True)
class Announce:
    """A broadcast under the requested prefix became active, ended, or restarted."""

    status: AnnounceStatus
    #: Path relative to the requested prefix.
    suffix: str
    #: Origin ids this announce passed through (03 only carries their count).
    hops: tuple[int, ...] = ()

    @property
    def active(self) -> bool:
        """True unless the broadcast ended."""
        return self.status != AnnounceStatus.ENDED

    def encode(self, buf: Buffer, version: Version) -> None:
        push_u8(buf, self.status)
        push_string(buf, self.suffix)
        if version == V3:
            buf.push_uint_var(len(self.hops))
        elif version >= V4:
            buf.push_uint_var(len(self.hops))
            for hop in self.hops:
                buf.push_uint_var(hop)

    @classmethod
    def decode(cls, buf: Buffer, version: Version) -> Self:
        raw = buf.pull_uint8()
        allowed = 2 if version >= V5 else 1
        if raw > allowed:
            raise DecodeError(f"invalid announce status {raw}")
        suffix = pull_string(buf)
        hops: tuple[int, ...] = ()
        if version == V3:
            hops = (0,) * _pull_count(buf, MAX_PATH_SEGMENTS * 8)
        elif version >= V4:
            count = _pull_count(buf, MAX_PATH_SEGMENTS * 8)
            hops = tuple(buf.pull_uint_var() for _ in range(count))
        return cls(AnnounceStatus(raw), suffix, hops)


@dataclass(frozen=True)
class Subscribe:
    """Open a subscription to ``track`` of ``broadcast``."""

    id: int
    broadcast: str
    track: str
    priority: int = 0
    ordered: bool = False
    #: Milliseconds a group may lag before it is skipped (0 = unlimited).
    max_latency_ms: int = 0
    #: First group wanted; None = the latest.
    start_group: int | None = None
    #: Last group wanted (inclusive); None = open ended.
    end_group: int | None = None

    def encode(self, buf: Buffer, version: Version) -> None:
        buf.push_uint_var(self.id)
        push_string(buf, self.broadcast)
        push_string(buf, self.track)
        push_u8(buf, self.priority)
        if version >= V3:
            push_bool(buf, self.ordered)
            buf.push_uint_var(self.max_latency_ms)
            push_optional(buf, self.start_group)
            push_optional(buf, self.end_group)

    @classmethod
    def decode(cls, buf: Buffer, version: Version) -> Self:
        sub_id = buf.pull_uint_var()
        broadcast = pull_string(buf)
        track = pull_string(buf)
        priority = buf.pull_uint8()
        if version < V3:
            return cls(sub_id, broadcast, track, priority)
        return cls(
            sub_id, broadcast, track, priority,
            pull_bool(buf), buf.pull_uint_var(), pull_optional(buf), pull_optional(buf),
        )


@dataclass(frozen=True)
class SubscribeUpdate:
    """Change a live subscription (01/02 carry only the priority)."""

    priority: int = 0
    ordered: bool = False
    max_latency_ms: int = 0
    start_group: int | None = None
    end_group: int | None = None

    def encode(self, buf: Buffer, version: Version) -> None:
        push_u8(buf, self.priority)
        if version >= V3:
            push_bool(buf, self.ordered)
            buf.push_uint_var(self.max_latency_ms)
            push_optional(buf, self.start_group)
            push_optional(buf, self.end_group)

    @classmethod
    def decode(cls, buf: Buffer, version: Version) -> Self:
        priority = buf.pull_uint8()
        if version < V3:
            return cls(priority)
        return cls(priority, pull_bool(buf), buf.pull_uint_var(), pull_optional(buf), pull_optional(buf))


@dataclass(frozen=True)
class SubscribeOk:
    """The publisher accepted a subscription (01: priority only; 02: empty; 03/04: typed, type 0)."""

    priority: int = 0
    ordered: bool = False
    max_latency_ms: int = 0
    start_group: int | None = None
    end_group: int | None = None

    TYPE: ClassVar[int] = 0

    def encode(self, buf: Buffer, version: Version) -> None:
        if version == Version.LITE_02:
            return
        push_u8(buf, self.priority)
        if version >= V3:
            push_bool(buf, self.ordered)
            buf.push_uint_var(self.max_latency_ms)
            push_optional(buf, self.start_group)
            push_optional(buf, self.end_group)

    @classmethod
    def decode(cls, buf: Buffer, version: Version) -> Self:
        if version == Version.LITE_02:
            return cls()
        priority = buf.pull_uint8()
        if version < V3:
            return cls(priority)
        return cls(priority, pull_bool(buf), buf.pull_uint_var(), pull_optional(buf), pull_optional(buf))


@dataclass(frozen=True)
class SubscribeStart:
    """05: the first group that will be delivered."""

    group: int
    TYPE: ClassVar[int] = 0

    def encode(self, buf: Buffer, version: Version) -> None:
        buf.push_uint_var(self.group)

    @classmethod
    def decode(cls, buf: Buffer, version: Version) -> Self:
        return cls(buf.pull_uint_var())


@dataclass(frozen=True)
class SubscribeEnd:
    """05: no group at or after ``group`` will be delivered (exclusive end)."""

    group: int
    TYPE: ClassVar[int] = 1

    def encode(self, buf: Buffer, version: Version) -> None:
        buf.push_uint_var(self.group)

    @classmethod
    def decode(cls, buf: Buffer, version: Version) -> Self:
        return cls(buf.pull_uint_var())


@dataclass(frozen=True)
class SubscribeDrop:
    """Groups ``start``..``end`` (inclusive) will not be delivered, with an error code."""

    start: int
    end: int
    error: int

    def encode(self, buf: Buffer, version: Version) -> None:
        buf.push_uint_var(self.start)
        buf.push_uint_var(self.end)
        buf.push_uint_var(self.error)

    @classmethod
    def decode(cls, buf: Buffer, version: Version) -> Self:
        return cls(buf.pull_uint_var(), buf.pull_uint_var(), buf.pull_uint_var())


def subscribe_reply_type(message: SubscribeOk | SubscribeStart | SubscribeEnd | SubscribeDrop,
                         version: Version) -> int:
    """Type varint that precedes a typed subscribe reply (03+)."""
    if isinstance(message, SubscribeDrop):
        return 2 if version >= V5 else 1
    if isinstance(message, SubscribeOk):
        if version >= V5:
            raise ValueError("SUBSCRIBE_OK does not exist in lite-05")
        return 0
    if version < V5:
        raise ValueError(f"{type(message).__name__} exists only in lite-05")
    return message.TYPE


def subscribe_reply_class(
    reply_type: int, version: Version
) -> type[SubscribeOk] | type[SubscribeStart] | type[SubscribeEnd] | type[SubscribeDrop]:
    """Class of the typed subscribe reply ``reply_type`` for ``version`` (03+)."""
    table: dict[int, type[SubscribeOk] | type[SubscribeStart] | type[SubscribeEnd] | type[SubscribeDrop]]
    if version >= V5:
        table = {0: SubscribeStart, 1: SubscribeEnd, 2: SubscribeDrop}
    else:
        table = {0: SubscribeOk, 1: SubscribeDrop}
    try:
        return table[reply_type]
    except KeyError:
        raise DecodeError(f"unknown subscribe reply type {reply_type}") from None


@dataclass(frozen=True)
class TrackRequest:
    """05: ask for a track's properties (TRACK stream)."""

    broadcast: str
    track: str

    def encode(self, buf: Buffer, version: Version) -> None:
        push_string(buf, self.broadcast)
        push_string(buf, self.track)

    @classmethod
    def decode(cls, buf: Buffer, version: Version) -> Self:
        return cls(pull_string(buf), pull_string(buf))


@dataclass(frozen=True)
class TrackInfo:
    """05: a track's properties; ``timescale`` is the unit of frame timestamps (per second)."""

    priority: int = 0
    ordered: bool = False
    max_latency_ms: int = 0
    timescale: int = 1_000_000

    def encode(self, buf: Buffer, version: Version) -> None:
        push_u8(buf, self.priority)
        push_bool(buf, self.ordered)
        buf.push_uint_var(self.max_latency_ms)
        buf.push_uint_var(self.timescale)

    @classmethod
    def decode(cls, buf: Buffer, version: Version) -> Self:
        info = cls(buf.pull_uint8(), pull_bool(buf), buf.pull_uint_var(), buf.pull_uint_var())
        if info.timescale == 0:
            raise DecodeError("TRACK_INFO timescale must not be 0")
        return info


@dataclass(frozen=True)
class GroupHeader:
    """First message of a group stream: which subscription and which group."""

    subscribe_id: int
    sequence: int

    def encode(self, buf: Buffer, version: Version) -> None:
        buf.push_uint_var(self.subscribe_id)
        buf.push_uint_var(self.sequence)

    @classmethod
    def decode(cls, buf: Buffer, version: Version) -> Self:
        return cls(buf.pull_uint_var(), buf.pull_uint_var())


@dataclass(frozen=True)
class Fetch:
    """05: fetch one whole group of a track."""

    broadcast: str
    track: str
    priority: int
    group: int

    def encode(self, buf: Buffer, version: Version) -> None:
        push_string(buf, self.broadcast)
        push_string(buf, self.track)
        push_u8(buf, self.priority)
        buf.push_uint_var(self.group)

    @classmethod
    def decode(cls, buf: Buffer, version: Version) -> Self:
        return cls(pull_string(buf), pull_string(buf), buf.pull_uint8(), buf.pull_uint_var())


@dataclass(frozen=True)
class Probe:
    """Bandwidth probe target or report (0 = unknown); ``rtt_ms`` exists from 04 on."""

    bitrate: int = 0
    rtt_ms: int = 0

    def encode(self, buf: Buffer, version: Version) -> None:
        buf.push_uint_var(self.bitrate)
        if version >= V4:
            buf.push_uint_var(self.rtt_ms)

    @classmethod
    def decode(cls, buf: Buffer, version: Version) -> Self:
        bitrate = buf.pull_uint_var()
        return cls(bitrate, buf.pull_uint_var() if version >= V4 else 0)


@dataclass(frozen=True)
class Goaway:
    """04+: the peer is going away; reconnect to ``uri`` ("" = just close)."""

    uri: str = ""

    def encode(self, buf: Buffer, version: Version) -> None:
        push_string(buf, self.uri)

    @classmethod
    def decode(cls, buf: Buffer, version: Version) -> Self:
        return cls(pull_string(buf, 8192))


@dataclass(frozen=True)
class SessionInfo:
    """01/02: informational bitrate on the session stream (0 = unknown)."""

    bitrate: int = 0

    def encode(self, buf: Buffer, version: Version) -> None:
        buf.push_uint_var(self.bitrate)

    @classmethod
    def decode(cls, buf: Buffer, version: Version) -> Self:
        return cls(buf.pull_uint_var())


@dataclass(frozen=True)
class Setup:
    """05: the SETUP parameters each endpoint sends on its own uni stream.

    ``params`` maps a parameter id to its raw value bytes; helpers read the known ones.
    """

    params: dict[int, bytes] = field(default_factory=dict)

    MAX_PARAMS: ClassVar[int] = 64

    def encode(self, buf: Buffer, version: Version) -> None:
        if len(self.params) > self.MAX_PARAMS:
            raise ValueError(f"{len(self.params)} SETUP parameters exceed the limit of {self.MAX_PARAMS}")
        buf.push_uint_var(len(self.params))
        for key, value in self.params.items():
            buf.push_uint_var(key)
            buf.push_uint_var(len(value))
            buf.push_bytes(value)

    @classmethod
    def decode(cls, buf: Buffer, version: Version) -> Self:
        count = buf.pull_uint_var()
        if count > cls.MAX_PARAMS:
            raise DecodeError(f"{count} SETUP parameters exceed the limit of {cls.MAX_PARAMS}")
        params: dict[int, bytes] = {}
        for _ in range(count):
            key = buf.pull_uint_var()
            if key in params:
                raise DecodeError(f"duplicate SETUP parameter {key}")
            params[key] = buf.pull_bytes(buf.pull_uint_var())
        return cls(params)

    def varint(self, key: int) -> int | None:
        """The value of a varint parameter, or None when absent."""
        raw = self.params.get(key)
        if raw is None:
            return None
        inner = Buffer(data=raw)
        try:
            value = inner.pull_uint_var()
        except BufferReadError:
            raise DecodeError(f"SETUP parameter {key} is not a varint") from None
        if not inner.eof():
            raise DecodeError(f"SETUP parameter {key} has trailing bytes")
        return value

    def text(self, key: int) -> str | None:
        """The value of a UTF-8 parameter, or None when absent."""
        raw = self.params.get(key)
        if raw is None:
            return None
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError(f"SETUP parameter {key} is not UTF-8") from None

    @staticmethod
    def varint_value(value: int) -> bytes:
        """Encode ``value`` as the bytes of a varint parameter."""
        buf = Buffer(capacity=8)
        buf.push_uint_var(value)
        return buf.data


@dataclass(frozen=True)
class ClientSetup:
    """``moql`` compat handshake, client side: versions offered plus draft-14 style parameters."""

    versions: tuple[int, ...]
    #: Parameters: even ids carry a varint (stored as int), odd ids carry bytes.
    params: dict[int, int | bytes] = field(default_factory=dict)

    def encode(self, buf: Buffer, version: Version) -> None:
        buf.push_uint_var(len(self.versions))
        for offered in self.versions:
            buf.push_uint_var(offered)
        _push_ietf_params(buf, self.params)

    @classmethod
    def decode(cls, buf: Buffer, version: Version) -> Self:
        count = _pull_count(buf, 64)
        versions = tuple(buf.pull_uint_var() for _ in range(count))
        return cls(versions, _pull_ietf_params(buf))


@dataclass(frozen=True)
class ServerSetup:
    """``moql`` compat handshake, server side: the chosen version and a lite parameter block."""

    version: int
    params: dict[int, bytes] = field(default_factory=dict)

    def encode(self, buf: Buffer, version: Version) -> None:
        buf.push_uint_var(self.version)
        Setup(self.params).encode(buf, version)

    @classmethod
    def decode(cls, buf: Buffer, version: Version) -> Self:
        chosen = buf.pull_uint_var()
        if buf.eof():
            return cls(chosen)
        return cls(chosen, Setup.decode(buf, version).params)


def _push_ietf_params(buf: Buffer, params: dict[int, int | bytes]) -> None:
    buf.push_uint_var(len(params))
    for key, value in params.items():
        buf.push_uint_var(key)
        if key % 2 == 0:
            if not isinstance(value, int):
                raise ValueError(f"even parameter {key} takes an int")
            buf.push_uint_var(value)
        else:
            if not isinstance(value, bytes):
                raise ValueError(f"odd parameter {key} takes bytes")
            buf.push_uint_var(len(value))
            buf.push_bytes(value)


def _pull_ietf_params(buf: Buffer) -> dict[int, int | bytes]:
    count = _pull_count(buf, 64)
    params: dict[int, int | bytes] = {}
    for _ in range(count):
        key = buf.pull_uint_var()
        if key % 2 == 0:
            params[key] = buf.pull_uint_var()
        else:
            params[key] = buf.pull_bytes(buf.pull_uint_var())
    return params
