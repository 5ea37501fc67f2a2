"""moq-lite version numbers, ALPN strings, stream types and the WebTransport error-code mapping."""

from __future__ import annotations

from enum import IntEnum


class Version(IntEnum):
    """A moq-lite version as sent on the wire (u32 sent as a varint)."""

    LITE_01 = 0xFF0DAD01
    LITE_02 = 0xFF0DAD02
    LITE_03 = 0xFF0DAD03
    LITE_04 = 0xFF0DAD04
    LITE_05 = 0xFF0DAD05

    @property
    def label(self) -> str:
        """Short human name, e.g. ``lite-03``."""
        return f"lite-{self.value & 0xFF:02d}"

    @property
    def alpn(self) -> str:
        """The ALPN / WebTransport protocol that selects this version (``moql`` means SETUP)."""
        return ALPN_BY_VERSION[self]

    @property
    def uses_setup_exchange(self) -> bool:
        """True for the versions negotiated through the ``moql`` CLIENT/SERVER_SETUP exchange."""
        return self in (Version.LITE_01, Version.LITE_02)


ALPN_MOQL = "moql"
ALPN_H3 = "h3"

ALPN_BY_VERSION: dict[Version, str] = {
    Version.LITE_01: ALPN_MOQL,
    Version.LITE_02: ALPN_MOQL,
    Version.LITE_03: "moq-lite-03",
    Version.LITE_04: "moq-lite-04",
    Version.LITE_05: "moq-lite-05",
}

#: Versions with a dedicated ALPN, newest first (the order a client offers them).
DIRECT_VERSIONS: tuple[Version, ...] = (Version.LITE_05, Version.LITE_04, Version.LITE_03)
#: Versions offered inside the ``moql`` SETUP exchange, newest first.
SETUP_VERSIONS: tuple[Version, ...] = (Version.LITE_02, Version.LITE_01)
ALL_VERSIONS: tuple[Version, ...] = DIRECT_VERSIONS + SETUP_VERSIONS


def parse_version(text: str) -> Version:
    """Parse ``lite-03``, ``03``, ``3`` or ``moq-lite-03`` into a :class:`Version`."""
    digits = text.strip().lower().removeprefix("moq-").removeprefix("lite-").removeprefix("lite")
    try:
        number = int(digits)
        if not 0 < number <= 0xFF:
            raise ValueError(number)
        return Version(0xFF0DAD00 + number)
    except ValueError:
        raise ValueError(f"unknown moq-lite version {text!r} (known: 01..05)") from None


def alpns_for(versions: tuple[Version, ...]) -> list[str]:
    """ALPN / WebTransport protocol list for a set of versions, most preferred first, no duplicates."""
    out: list[str] = []
    for version in versions:
        if version.alpn not in out:
            out.append(version.alpn)
    return out


class BidiStream(IntEnum):
    """First varint of a bidirectional stream."""

    SESSION = 0x0
    ANNOUNCE = 0x1
    SUBSCRIBE = 0x2
    FETCH = 0x3
    PROBE = 0x4
    GOAWAY = 0x5
    TRACK = 0x6
    CLIENT_SETUP = 0x20


class UniStream(IntEnum):
    """First varint of a unidirectional stream."""

    GROUP = 0x0
    SETUP = 0x1


class SetupParam(IntEnum):
    """lite-05 SETUP parameter ids."""

    PROBE = 0x1
    PATH = 0x2
    ROLE = 0x3
    COST = 0x4
    ORIGIN = 0x5


class AnnounceStatus(IntEnum):
    """Status byte of an ANNOUNCE message."""

    ENDED = 0
    ACTIVE = 1
    RESTART = 2


class SubscribeResponse(IntEnum):
    """Type of a typed reply on a subscribe stream (lite-03/04 use OK/DROP; lite-05 START/END/DROP)."""

    OK = 0
    DROP_V4 = 1
    START = 0
    END = 1
    DROP_V5 = 2


_WT_BASE = 0x52E4A40FA8DB
_WT_LAST = 0x52E4A40FA8DB + 0xFFFFFFFF + 0xFFFFFFFF // 0x1E


def to_wt_code(code: int) -> int:
    """Map an application error code into the WebTransport HTTP/3 code range."""
    return _WT_BASE + code + code // 0x1E


def from_wt_code(h3: int) -> int:
    """Inverse of :func:`to_wt_code`; codes outside the range come back unchanged."""
    if not _WT_BASE <= h3 <= _WT_LAST:
        return h3
    shifted = h3 - _WT_BASE
    return shifted - shifted // 0x1F


#: Maximum number of path segments.
MAX_PATH_SEGMENTS = 32
#: Maximum length of a path or track name in bytes.
MAX_NAME_LENGTH = 1024
#: Maximum size of one control message body.
MAX_MESSAGE_SIZE = 64 * 1024
#: Default maximum size of one frame.
MAX_FRAME_SIZE = 16 * 1024 * 1024
