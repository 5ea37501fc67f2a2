"""The transport interface: a session carrying bidirectional and unidirectional streams."""

from __future__ import annotations

import abc
import asyncio
from dataclasses import dataclass


@dataclass(frozen=True)
class CloseInfo:
    """Why a transport session ended."""

    code: int = 0
    reason: str = ""


class SendStream(abc.ABC):
    """The sending half of a stream."""

    stream_id: int
    #: moq-lite priority of what the stream carries (higher is more urgent): it may queue more.
    priority: int = 0

    @abc.abstractmethod
    async def write(self, data: bytes) -> None:
        """Queue ``data``; waits while too much is queued and not yet acknowledged."""

    @abc.abstractmethod
    def write_nowait(self, data: bytes, fin: bool = False) -> None:
        """Queue ``data`` without waiting (control messages)."""

    @abc.abstractmethod
    def finish(self) -> None:
        """End the stream cleanly (FIN)."""

    @abc.abstractmethod
    def reset(self, code: int) -> None:
        """Abort the stream with a moq-lite error code."""

    @property
    @abc.abstractmethod
    def closed(self) -> bool:
        """True once finished, reset, stopped by the peer, or the session ended."""

    @property
    def unacknowledged(self) -> int:
        """Bytes written and not yet acknowledged by the peer (0 once all were delivered)."""
        return 0

    def abandon(self, code: int) -> None:
        """Drop whatever is not yet delivered, even after FIN (RESET_STREAM with ``code``)."""
        self.reset(code)


class RecvStream(abc.ABC):
    """The receiving half of a stream."""

    stream_id: int

    @abc.abstractmethod
    async def read(self) -> tuple[bytes, bool]:
        """Next chunk and whether the stream ended; raises StreamReset or SessionClosed."""

    @abc.abstractmethod
    def stop(self, code: int) -> None:
        """Ask the peer to stop sending (STOP_SENDING) with a moq-lite error code."""


class Session(abc.ABC):
    """One transport session: a raw QUIC connection or one WebTransport session."""

    #: The negotiated ALPN or WebTransport protocol ("" when nothing was negotiated).
    protocol: str
    #: Request path and query ("/room?jwt=..."); "" where the transport carries none.
    path: str
    #: "webtransport" or "quic".
    kind: str
    #: The peer's address as "host:port".
    remote: str

    @abc.abstractmethod
    async def open_bi(self) -> tuple[SendStream, RecvStream]:
        """Open a bidirectional stream."""

    @abc.abstractmethod
    async def open_uni(self) -> SendStream:
        """Open a unidirectional stream."""

    @abc.abstractmethod
    async def accept(self) -> tuple[SendStream | None, RecvStream]:
        """Next stream the peer opened (``send`` is None for a unidirectional one)."""

    @abc.abstractmethod
    def send_datagram(self, data: bytes) -> None:
        """Send one unreliable datagram (QUIC DATAGRAM, or an HTTP/3 datagram on WebTransport)."""

    @abc.abstractmethod
    async def receive_datagram(self) -> bytes:
        """Next datagram from the peer; raises SessionClosed once the session ended."""

    @abc.abstractmethod
    def close(self, code: int = 0, reason: str = "") -> None:
        """Close the session with an application code."""

    @abc.abstractmethod
    def buffered(self) -> int:
        """Bytes written on this session's streams and not yet acknowledged by the peer."""

    @property
    @abc.abstractmethod
    def closed(self) -> asyncio.Future[CloseInfo]:
        """Resolves when the session ended, for whatever reason."""
