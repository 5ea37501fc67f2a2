"""Exceptions raised by hang, each protocol error carrying its moq-lite wire code."""

from __future__ import annotations

from enum import IntEnum


class ErrorCode(IntEnum):
    """moq-lite error codes, as used in stream resets and session closes."""

    CANCEL = 0
    REQUIRED_EXTENSION = 1
    OLD = 2
    TIMEOUT = 3
    TRANSPORT = 4
    DECODE = 5
    UNAUTHORIZED = 6
    VERSION = 9
    UNEXPECTED_STREAM = 10
    BOUNDS_EXCEEDED = 11
    DUPLICATE = 12
    NOT_FOUND = 13
    WRONG_SIZE = 14
    PROTOCOL_VIOLATION = 15
    UNEXPECTED_MESSAGE = 16
    UNSUPPORTED = 17
    ENCODE = 18
    TOO_MANY_PARAMETERS = 19
    INVALID_ROLE = 20
    UNKNOWN_ALPN = 21
    DROPPED = 24
    CLOSED = 25
    LAGGED = 26
    FRAME_TOO_LARGE = 27
    TIMESTAMP_MISMATCH = 29
    UNROUTABLE = 30
    EVICTED = 31


class MoqtCode(IntEnum):
    """IETF MoQ Transport draft-07 session close codes."""

    NO_ERROR = 0x0
    INTERNAL_ERROR = 0x1
    UNAUTHORIZED = 0x2
    PROTOCOL_VIOLATION = 0x3
    DUPLICATE_TRACK_ALIAS = 0x4
    PARAMETER_LENGTH_MISMATCH = 0x5
    TOO_MANY_SUBSCRIBES = 0x6
    GOAWAY_TIMEOUT = 0x10


class HangError(Exception):
    """Base class of every error hang raises on purpose."""


class ProtocolError(HangError):
    """The peer broke the protocol; the session closes with ``error_code``."""

    error_code: ErrorCode = ErrorCode.PROTOCOL_VIOLATION
    #: The code a draft-07 session closes with for this error.
    moqt_code: MoqtCode = MoqtCode.PROTOCOL_VIOLATION


class DecodeError(ProtocolError):
    """A message could not be decoded (bad varint, wrong length, trailing bytes)."""

    error_code = ErrorCode.DECODE


class MessageTooLarge(ProtocolError):
    """A message or frame exceeded the size the reader accepts."""

    error_code = ErrorCode.BOUNDS_EXCEEDED


class UnexpectedMessage(ProtocolError):
    """A message arrived where the protocol does not allow it."""

    error_code = ErrorCode.UNEXPECTED_MESSAGE


class UnexpectedStream(ProtocolError):
    """The peer opened a stream type that is not valid here."""

    error_code = ErrorCode.UNEXPECTED_STREAM


class VersionError(ProtocolError):
    """No moq-lite version in common with the peer."""

    error_code = ErrorCode.VERSION


class InvalidPath(ProtocolError):
    """A broadcast path or prefix broke the path rules."""

    error_code = ErrorCode.DECODE


class Duplicate(ProtocolError):
    """An id or path that must be unique was used twice."""

    error_code = ErrorCode.DUPLICATE


class Truncated(DecodeError):
    """A message or object ended before all of its fields."""


class UnknownMessage(DecodeError):
    """A control message of a type this protocol does not define."""


class ParameterLengthMismatch(DecodeError):
    """A known parameter whose value does not fit its declared length."""

    moqt_code = MoqtCode.PARAMETER_LENGTH_MISMATCH


class DuplicateTrackAlias(ProtocolError):
    """draft-07: a subscriber reused a track alias of an active subscription."""

    moqt_code = MoqtCode.DUPLICATE_TRACK_ALIAS


class TooManySubscribes(ProtocolError):
    """draft-07: a subscribe id at or beyond the MAX_SUBSCRIBE_ID we granted."""

    error_code = ErrorCode.BOUNDS_EXCEEDED
    moqt_code = MoqtCode.TOO_MANY_SUBSCRIBES


class Unauthorized(ProtocolError):
    """The session's credentials do not allow this (no or bad token, or a path not granted).

    Fatal when it refuses a whole session; a refused request only resets its own stream.
    """

    error_code = ErrorCode.UNAUTHORIZED
    moqt_code = MoqtCode.UNAUTHORIZED


class LimitExceeded(ProtocolError):
    """The peer went over one of the limits a relay sets (streams, subscriptions, announcements...)."""

    error_code = ErrorCode.BOUNDS_EXCEEDED


class NotFound(HangError):
    """The broadcast or track asked for does not exist."""

    error_code = ErrorCode.NOT_FOUND


class StreamReset(HangError):
    """The peer reset a stream; ``code`` is the un-mapped moq-lite code."""

    def __init__(self, code: int) -> None:
        super().__init__(f"stream reset by peer (code {code})")
        self.code = code


class SessionClosed(HangError):
    """The session ended, cleanly or not; ``code`` is the close code."""

    def __init__(self, code: int = 0, reason: str = "") -> None:
        super().__init__(f"session closed (code {code}{': ' + reason if reason else ''})")
        self.code = code
        self.reason = reason


class ConnectError(HangError):
    """A connection to a relay could not be established."""


class MediaError(HangError):
    """Media could not be captured, encoded, decoded or presented."""
