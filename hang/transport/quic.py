"""aioquic implementation of :mod:`hang.transport.base`: raw QUIC and WebTransport over HTTP/3.

This is the only module that imports aioquic's connection and HTTP/3 machinery. A faster stack
with the same shape (qh3) would replace this file and nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from aioquic._buffer import Buffer, BufferReadError
from aioquic.asyncio.client import connect as aioquic_connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.asyncio.server import QuicServer
from aioquic.asyncio.server import serve as aioquic_serve
from aioquic.buffer import encode_uint_var
from aioquic.h3.connection import H3_ALPN, FrameType, H3Connection
from aioquic.h3.events import DatagramReceived, H3Event, HeadersReceived, WebTransportStreamDataReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import (
    ConnectionTerminated,
    DatagramFrameReceived,
    HandshakeCompleted,
    ProtocolNegotiated,
    QuicEvent,
    StopSendingReceived,
    StreamDataReceived,
    StreamReset,
)
from cryptography.hazmat.primitives.serialization import Encoding

from hang.errors import ConnectError, ErrorCode, SessionClosed
from hang.errors import StreamReset as StreamResetError
from hang.transport.base import CloseInfo, RecvStream, SendStream, Session
from hang.wire.constants import from_wt_code, to_wt_code

__all__ = ["QuicServer", "TlsOptions", "TransportConfig", "bound_port", "dial", "parse_sf_list", "serve"]

log = logging.getLogger("hang.transport")

#: Bytes a stream may hold unacknowledged before ``write`` waits.
STREAM_HIGH_WATER = 256 * 1024
#: Bytes a whole connection may hold not yet sent (beyond what congestion control lets out)
#: before any ``write`` waits: this keeps queues, and so latency, short on a slow link.
CONNECTION_UNSENT_HIGH_WATER = 128 * 1024
CLOSE_WEBTRANSPORT_SESSION = 0x2843
H3_NO_ERROR = 0x100
#: Datagrams a session queues unread before it drops the oldest.
DATAGRAM_QUEUE = 1024
#: Unidirectional streams HTTP/3 itself opens (control, QPACK encoder and decoder), plus one spare.
H3_UNI_STREAMS = 4
#: Forgotten stream ids kept before those QUIC has discarded are pruned.
FORGOTTEN_PRUNE = 4096
#: PINGs per idle timeout.
KEEPALIVE_DIVISOR = 8
#: Seconds between sending CLOSE_WEBTRANSPORT_SESSION and closing the QUIC connection ourselves.
CLOSE_GRACE = 0.5


@dataclass
class TransportConfig:
    """Settings shared by the client and server side of the QUIC edge."""

    idle_timeout: float = 30.0
    max_data: int = 16 * 1024 * 1024
    max_stream_data: int = 4 * 1024 * 1024
    #: Streams of each kind the peer may have open at once (QUIC MAX_STREAMS); None: aioquic's 128.
    max_streams: int | None = None
    #: Bytes a peer may have sent on a connection's streams that hang has not read yet. aioquic
    #: grants flow-control credit as data arrives, not as it is read, so without this a peer could
    #: fill memory through a stream nobody reads; beyond it the session is closed (BoundsExceeded).
    max_unread: int = 16 * 1024 * 1024
    #: Optional aioquic QuicLogger (qlog).
    quic_logger: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def quic(self, *, is_client: bool, alpns: list[str]) -> QuicConfiguration:
        """A fresh aioquic configuration."""
        return QuicConfiguration(
            is_client=is_client,
            alpn_protocols=alpns,
            idle_timeout=self.idle_timeout,
            max_data=self.max_data,
            max_stream_data=self.max_stream_data,
            max_datagram_frame_size=65536,
            quic_logger=self.quic_logger,
        )


def parse_sf_list(value: str) -> list[str]:
    """Parse an RFC 8941 list of strings or tokens (``"a", "b"``), ignoring parameters."""
    items: list[str] = []
    for match in re.finditer(r'\s*(?:"((?:[^"\\]|\\.)*)"|([A-Za-z*][\w:/.*+-]*))[^,]*,?', value):
        text = match.group(1) if match.group(1) is not None else match.group(2)
        if text is not None:
            items.append(re.sub(r"\\(.)", r"\1", text))
    return items


class _Stream:
    """Both halves of one QUIC stream as hang sees them."""

    def __init__(self, conn: _Connection, session: _Session, stream_id: int) -> None:
        self.conn = conn
        self.session = session
        self.stream_id = stream_id
        self.chunks: asyncio.Queue[tuple[bytes, bool] | BaseException] = asyncio.Queue()
        #: Bytes queued in ``chunks`` and not read yet.
        self.unread = 0
        unidirectional = bool(stream_id & 2)
        local = bool(stream_id & 1) != conn._quic._is_client
        #: A half that does not exist counts as closed from the start.
        self.send_closed = unidirectional and not local
        self.recv_closed = unidirectional and local

    def close_send(self) -> None:
        self.send_closed = True
        self._maybe_forget()

    def consumed(self, size: int) -> None:
        if self.unread:
            self.unread -= size
            self.conn.unread -= size

    def close_recv(self) -> None:
        self.recv_closed = True
        self._maybe_forget()

    def _maybe_forget(self) -> None:
        if self.send_closed and self.recv_closed:
            self.forget()

    def forget(self) -> None:
        self.session.streams.pop(self.stream_id, None)
        if self.conn.streams.pop(self.stream_id, None) is not None:
            self.conn.unread -= self.unread
            self.unread = 0
            self.conn.forgotten(self.stream_id)


class _SendHalf(SendStream):
    def __init__(self, stream: _Stream) -> None:
        self._s = stream
        self.stream_id = stream.stream_id

    async def write(self, data: bytes) -> None:
        conn = self._s.conn
        # Each priority step buys 1 KiB more of the connection's queue, so urgent media (audio) still
        # gets in when bulk media (video) has filled it.
        limit = CONNECTION_UNSENT_HIGH_WATER + self.priority * 1024
        while not self.closed and (conn.pending_bytes(self.stream_id) > STREAM_HIGH_WATER
                                   or conn.unsent() > limit):
            await conn.wait_progress()
        self.write_nowait(data)

    def write_nowait(self, data: bytes, fin: bool = False) -> None:
        if self.closed:
            raise SessionClosed(0, "stream is closed") if self._s.session.is_closed else StreamResetError(0)
        self._s.conn.send(self.stream_id, data, fin)
        if fin:
            self._s.close_send()

    def finish(self) -> None:
        if not self.closed:
            self.write_nowait(b"", fin=True)

    def reset(self, code: int) -> None:
        if not self.closed:
            self._s.close_send()
            self._s.conn.reset(self.stream_id, to_wt_code(code))

    @property
    def closed(self) -> bool:
        return self._s.send_closed or self._s.session.is_closed

    @property
    def unacknowledged(self) -> int:
        return 0 if self._s.session.is_closed else self._s.conn.pending_bytes(self.stream_id)

    def abandon(self, code: int) -> None:
        # aioquic resets a FINed stream until all of it is acknowledged; a stream it has already
        # discarded must not be touched (it would be created again).
        if self.unacknowledged:
            self._s.close_send()
            self._s.conn.reset(self.stream_id, to_wt_code(code))


class _RecvHalf(RecvStream):
    def __init__(self, stream: _Stream) -> None:
        self._s = stream
        self.stream_id = stream.stream_id
        self._ended = False

    async def read(self) -> tuple[bytes, bool]:
        if self._ended:
            return b"", True
        item = await self._s.chunks.get()
        if isinstance(item, BaseException):
            self._s.chunks.put_nowait(item)
            raise item
        self._s.consumed(len(item[0]))
        self._ended = item[1]
        return item

    def stop(self, code: int) -> None:
        if not self._ended and not self._s.session.is_closed:
            self._ended = True
            self._s.close_recv()
            self._s.conn.stop(self.stream_id, to_wt_code(code))


class _Session(Session):
    def __init__(self, conn: _Connection, *, kind: str, protocol: str, path: str,
                 session_id: int | None) -> None:
        self.conn = conn
        self.kind = kind
        self.protocol = protocol
        self.path = path
        self.session_id = session_id
        self.remote = conn.remote
        self.incoming: asyncio.Queue[tuple[SendStream | None, RecvStream] | None] = asyncio.Queue()
        self.streams: dict[int, _Stream] = {}
        self.datagrams: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._closed: asyncio.Future[CloseInfo] = asyncio.get_running_loop().create_future()

    @property
    def is_closed(self) -> bool:
        return self._closed.done()

    @property
    def closed(self) -> asyncio.Future[CloseInfo]:
        return self._closed

    def add_stream(self, stream_id: int, *, local: bool) -> _Stream:
        stream = _Stream(self.conn, self, stream_id)
        self.streams[stream_id] = stream
        self.conn.streams[stream_id] = stream
        if not local:
            unidirectional = bool(stream_id & 2)
            send = None if unidirectional else _SendHalf(stream)
            self.incoming.put_nowait((send, _RecvHalf(stream)))
        return stream

    async def open_bi(self) -> tuple[SendStream, RecvStream]:
        self._check_open()
        stream = self.add_stream(self.conn.open_stream(self.session_id, unidirectional=False), local=True)
        return _SendHalf(stream), _RecvHalf(stream)

    async def open_uni(self) -> SendStream:
        self._check_open()
        stream = self.add_stream(self.conn.open_stream(self.session_id, unidirectional=True), local=True)
        return _SendHalf(stream)

    async def accept(self) -> tuple[SendStream | None, RecvStream]:
        item = await self.incoming.get()
        if item is None:
            self.incoming.put_nowait(None)
            info = self._closed.result()
            raise SessionClosed(info.code, info.reason)
        return item

    def buffered(self) -> int:
        return self.conn.buffered()

    def send_datagram(self, data: bytes) -> None:
        self._check_open()
        if self.session_id is None:
            self.conn._quic.send_datagram_frame(data)
        else:
            assert self.conn.h3 is not None
            self.conn.h3.send_datagram(self.session_id, data)
        self.conn.schedule_transmit()

    async def receive_datagram(self) -> bytes:
        item = await self.datagrams.get()
        if item is None:
            self.datagrams.put_nowait(None)
            info = self._closed.result()
            raise SessionClosed(info.code, info.reason)
        return item

    def deliver_datagram(self, data: bytes) -> None:
        if self.is_closed:
            return
        if self.datagrams.qsize() >= DATAGRAM_QUEUE:
            self.datagrams.get_nowait()
        self.datagrams.put_nowait(data)

    def _check_open(self) -> None:
        if self.is_closed:
            info = self._closed.result()
            raise SessionClosed(info.code, info.reason)

    def close(self, code: int = 0, reason: str = "") -> None:
        if self.is_closed:
            return
        self.conn.close_session(self, code, reason)
        self.terminate(CloseInfo(code, reason))

    def terminate(self, info: CloseInfo) -> None:
        """Mark the session ended and fail every stream still waiting."""
        if self.is_closed:
            return
        self._closed.set_result(info)
        error = SessionClosed(info.code, info.reason)
        for stream in list(self.streams.values()):
            stream.chunks.put_nowait(error)
            stream.forget()
        self.streams.clear()
        self.incoming.put_nowait(None)
        self.datagrams.put_nowait(None)


SessionHandler = Callable[[Session], None]
ProtocolSelector = Callable[[list[str]], str | None]


class _Connection(QuicConnectionProtocol):
    """One QUIC connection, hosting a raw QUIC session or WebTransport sessions."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.h3: H3Connection | None = None
        self.raw: _Session | None = None
        self.webtransport: dict[int, _Session] = {}
        self.streams: dict[int, _Stream] = {}
        self.on_session: SessionHandler | None = None
        self.select_protocol: ProtocolSelector = lambda offered: None
        self.connect_responses: dict[int, asyncio.Future[list[tuple[bytes, bytes]]]] = {}
        self._progress = asyncio.Event()
        self._transmit_scheduled = False
        self._capsules: dict[int, bytearray] = {}
        #: Streams hang is done with while QUIC may still deliver late frames for them.
        self._forgotten: set[int] = set()
        self._prune_at = FORGOTTEN_PRUNE
        self._ping_uid = 0
        self.remote = ""
        #: Bytes received on this connection's streams and not read by hang yet.
        self.unread = 0
        self.max_unread = TransportConfig.max_unread

    # -- plumbing used by streams and sessions -------------------------------------------------

    def _on_first_path(self) -> None:
        if not self.remote and self._quic._network_paths:
            host, port = self._quic._network_paths[0].addr[:2]
            host = host.removeprefix("::ffff:")
            self.remote = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def datagram_received(self, data: bytes | str, addr: Any) -> None:
        super().datagram_received(data, addr)
        self._wake()

    async def wait_connected(self) -> None:
        # As aioquic's, but a handshake abandoned by a timeout must not log "exception never retrieved".
        if self._connected:
            return
        if self._connected_waiter is None:
            self._connected_waiter = self._loop.create_future()
        waiter = self._connected_waiter
        waiter.add_done_callback(lambda f: f.cancelled() or f.exception())
        await asyncio.shield(waiter)

    def _wake(self) -> None:
        self._progress.set()
        self._progress = asyncio.Event()

    async def wait_progress(self) -> None:
        """Wait until the peer acknowledged something (or the connection ended)."""
        event = self._progress
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), 0.05)

    def buffered(self) -> int:
        return sum(s.sender._buffer_stop - s.sender._buffer_start for s in self._quic._streams.values())

    def unsent(self) -> int:
        return sum(s.sender._buffer_stop - s.sender.next_offset for s in self._quic._streams.values())

    def pending_bytes(self, stream_id: int) -> int:
        stream = self._quic._streams.get(stream_id)
        if stream is None:
            return 0
        return stream.sender._buffer_stop - stream.sender._buffer_start

    def schedule_transmit(self) -> None:
        if not self._transmit_scheduled:
            self._transmit_scheduled = True
            self._loop.call_soon(self._do_transmit)

    def _do_transmit(self) -> None:
        self._transmit_scheduled = False
        self.transmit()

    def send(self, stream_id: int, data: bytes, fin: bool) -> None:
        try:
            self._quic.send_stream_data(stream_id, data, end_stream=fin)
        except (ValueError, AssertionError) as exc:
            raise StreamResetError(0) from exc
        self.schedule_transmit()

    def reset(self, stream_id: int, code: int) -> None:
        with contextlib.suppress(ValueError, AssertionError):
            self._quic.reset_stream(stream_id, code)
        self.schedule_transmit()

    def stop(self, stream_id: int, code: int) -> None:
        with contextlib.suppress(ValueError, AssertionError):
            self._quic.stop_stream(stream_id, code)
        self.schedule_transmit()

    def open_stream(self, session_id: int | None, *, unidirectional: bool) -> int:
        if session_id is None:
            stream_id: int = self._quic.get_next_available_stream_id(is_unidirectional=unidirectional)
            # Reserve it now: aioquic hands out the same id again until something is sent on it.
            self._quic._get_or_create_stream_for_send(stream_id)
            return stream_id
        assert self.h3 is not None
        stream_id = self.h3.create_webtransport_stream(session_id, is_unidirectional=unidirectional)
        if not unidirectional:
            # aioquic 1.7.2 does not mark a locally opened WebTransport bidi stream as such, so the
            # peer's reply on it would be parsed as HTTP/3 frames.
            with self.h3._get_or_create_stream(stream_id) as h3_stream:
                h3_stream.frame_type = FrameType.WEBTRANSPORT_STREAM
                h3_stream.session_id = session_id
        self.schedule_transmit()
        return stream_id

    def close_session(self, session: _Session, code: int, reason: str) -> None:
        if session.session_id is None or self.h3 is None:
            self._quic.close(error_code=code, reason_phrase=reason)
        else:
            payload = (code & 0xFFFFFFFF).to_bytes(4, "big") + reason.encode()[:1024]
            capsule = encode_uint_var(CLOSE_WEBTRANSPORT_SESSION) + encode_uint_var(len(payload)) + payload
            with contextlib.suppress(Exception):
                self._quic.send_stream_data(session.session_id, capsule, end_stream=True)
            self.webtransport.pop(session.session_id, None)
            if not self.webtransport:
                # Closing QUIC at once would discard the capsule: give the peer a moment to read it
                # and close first.
                self._loop.call_later(CLOSE_GRACE, self._close_idle, reason)
        self.schedule_transmit()

    def _close_idle(self, reason: str) -> None:
        if not self.webtransport:
            self._quic.close(error_code=H3_NO_ERROR, reason_phrase=reason)
            self.transmit()

    # -- events --------------------------------------------------------------------------------

    def _keepalive(self) -> None:
        # PING every eighth of the negotiated idle timeout, so a live peer never times out, even when
        # a few PINGs are lost, and a dead one is noticed soon after that timeout: the first
        # ack-eliciting packet sent after the last one received restarts the idle timer (RFC 9000
        # section 10.1), so a dead peer is noticed idle timeout + one PING interval after it died.
        if self._closed.is_set():
            return
        self._ping_uid += 1
        self._quic.send_ping(self._ping_uid)
        self.transmit()
        self._loop.call_later(self._quic._idle_timeout() / KEEPALIVE_DIVISOR, self._keepalive)

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, HandshakeCompleted):
            self._loop.call_later(self._quic._idle_timeout() / KEEPALIVE_DIVISOR, self._keepalive)
        if isinstance(event, ProtocolNegotiated):
            self._on_first_path()
            self._on_negotiated(event.alpn_protocol or "")
        elif isinstance(event, ConnectionTerminated):
            self._on_terminated(event)
        elif isinstance(event, StreamReset | StopSendingReceived):
            self._on_reset(event)
        elif isinstance(event, DatagramFrameReceived) and self.h3 is None:
            if self.raw is not None:
                self.raw.deliver_datagram(event.data)
            return
        elif isinstance(event, StreamDataReceived):
            if self.h3 is None:
                self._on_raw_data(event)
                return
            session = self.webtransport.get(event.stream_id)
            if session is not None:
                self._on_capsules(session, event.data, event.end_stream)
                return
        if self.h3 is not None:
            for h3_event in self.h3.handle_event(event):
                self._on_h3_event(h3_event)

    def _on_negotiated(self, alpn: str) -> None:
        if alpn in H3_ALPN:
            self.h3 = H3Connection(self._quic, enable_webtransport=True)
            return
        self.raw = _Session(self, kind="quic", protocol=alpn, path="", session_id=None)
        if self.on_session is not None:
            self.on_session(self.raw)

    def _on_terminated(self, event: ConnectionTerminated) -> None:
        code = 0 if self.h3 is not None and event.error_code == H3_NO_ERROR else event.error_code
        info = CloseInfo(code, event.reason_phrase)
        sessions = list(self.webtransport.values()) + ([self.raw] if self.raw else [])
        for session in sessions:
            session.terminate(info)
        for future in self.connect_responses.values():
            if not future.done():
                reason = event.reason_phrase or event.error_code
                future.set_exception(ConnectError(f"connection closed: {reason}"))
        self._wake()

    def _on_reset(self, event: StreamReset | StopSendingReceived) -> None:
        stream = self.streams.get(event.stream_id)
        if stream is None:
            return
        if isinstance(event, StreamReset):
            stream.chunks.put_nowait(StreamResetError(from_wt_code(event.error_code)))
            stream.close_recv()
        else:
            stream.close_send()
            with contextlib.suppress(ValueError, AssertionError):
                self._quic.reset_stream(event.stream_id, event.error_code)
            self.schedule_transmit()

    def _on_raw_data(self, event: StreamDataReceived) -> None:
        if self.raw is None:
            return
        stream = self.streams.get(event.stream_id)
        if stream is None:
            if self.raw.is_closed or not self._is_new_peer_stream(event.stream_id):
                return
            stream = self.raw.add_stream(event.stream_id, local=False)
        self._deliver(stream, event.data, event.end_stream)

    def _deliver(self, stream: _Stream, data: bytes, fin: bool) -> None:
        if stream.recv_closed:
            return  # we stopped reading it: late data goes nowhere
        stream.chunks.put_nowait((data, fin))
        stream.unread += len(data)
        self.unread += len(data)
        if fin:
            stream.close_recv()
        if self.unread > self.max_unread:
            log.warning("%s: %d bytes sent and not read (limit %d): closing", self.remote, self.unread,
                        self.max_unread)
            stream.session.close(ErrorCode.BOUNDS_EXCEEDED, "too much unread data")

    def forgotten(self, stream_id: int) -> None:
        """Remember a stream hang is done with, until QUIC has discarded it too."""
        self._forgotten.add(stream_id)
        if len(self._forgotten) > self._prune_at:
            live = self._quic._streams
            self._forgotten = {s for s in self._forgotten if s in live}
            self._prune_at = max(FORGOTTEN_PRUNE, 2 * len(self._forgotten))

    def _is_new_peer_stream(self, stream_id: int) -> bool:
        """False for a stream we already finished with (late frames must not resurrect it).

        Streams may arrive in any order (a lower id after a higher one when a packet was lost),
        so this is a set of the ids we forgot, not a high-water mark; ids QUIC itself has discarded
        are pruned, as it drops their frames before they reach us.
        """
        return stream_id not in self._forgotten

    def _on_h3_event(self, event: H3Event) -> None:
        if isinstance(event, WebTransportStreamDataReceived):
            stream = self.streams.get(event.stream_id)
            if stream is None:
                if not self._is_new_peer_stream(event.stream_id):
                    return
                session = self.webtransport.get(event.session_id)
                if session is None or session.is_closed:
                    self.stop(event.stream_id, to_wt_code(0))
                    return
                stream = session.add_stream(event.stream_id, local=False)
            self._deliver(stream, event.data, event.stream_ended)
        elif isinstance(event, DatagramReceived):
            session = self.webtransport.get(event.stream_id)
            if session is not None:
                session.deliver_datagram(event.data)
        elif isinstance(event, HeadersReceived):
            future = self.connect_responses.pop(event.stream_id, None)
            if future is not None:
                if not future.done():
                    future.set_result(list(event.headers))
            else:
                self._on_request(event)

    def _on_request(self, event: HeadersReceived) -> None:
        assert self.h3 is not None
        headers = {k.decode(errors="replace"): v.decode(errors="replace") for k, v in event.headers}
        if headers.get(":method") != "CONNECT" or headers.get(":protocol") != "webtransport":
            self.h3.send_headers(event.stream_id, [(b":status", b"404")], end_stream=True)
            self.schedule_transmit()
            return
        offered = parse_sf_list(headers.get("wt-available-protocols", ""))
        chosen = self.select_protocol(offered) or ""
        response = [(b":status", b"200"), (b"sec-webtransport-http3-draft", b"draft02")]
        if chosen:
            response.append((b"wt-protocol", f'"{chosen}"'.encode()))
        self.h3.send_headers(event.stream_id, response)
        session = _Session(self, kind="webtransport", protocol=chosen, path=headers.get(":path", "/"),
                           session_id=event.stream_id)
        self.webtransport[event.stream_id] = session
        self.schedule_transmit()
        if self.on_session is not None:
            self.on_session(session)

    def _on_capsules(self, session: _Session, data: bytes, ended: bool) -> None:
        # After the CONNECT exchange the session stream carries capsules, which aioquic's HTTP/3
        # layer would drop as unknown frames; parse them here.
        assert session.session_id is not None
        buffer = self._capsules.setdefault(session.session_id, bytearray())
        buffer += data
        while buffer:
            buf = Buffer(data=bytes(buffer))
            try:
                kind = buf.pull_uint_var()
                payload = buf.pull_bytes(buf.pull_uint_var())
            except BufferReadError:
                break
            del buffer[: buf.tell()]
            if kind == CLOSE_WEBTRANSPORT_SESSION and len(payload) >= 4:
                code = int.from_bytes(payload[:4], "big")
                self._end_webtransport(session, CloseInfo(code, payload[4:].decode(errors="replace")))
                return
        if ended:
            self._end_webtransport(session, CloseInfo(0, "session stream ended"))

    def _end_webtransport(self, session: _Session, info: CloseInfo) -> None:
        assert session.session_id is not None
        self.webtransport.pop(session.session_id, None)
        session.terminate(info)
        with contextlib.suppress(Exception):
            self._quic.send_stream_data(session.session_id, b"", end_stream=True)
        if not self.webtransport:
            self._quic.close(error_code=H3_NO_ERROR, reason_phrase=info.reason)
        self.schedule_transmit()


# -- server ------------------------------------------------------------------------------------


async def serve(host: str, port: int, *, certfile: str, keyfile: str, alpns: list[str],
                on_session: SessionHandler, select_protocol: ProtocolSelector,
                config: TransportConfig | None = None) -> QuicServer:
    """Listen for QUIC connections; ``alpns`` may include ``h3`` for WebTransport.

    ``select_protocol`` picks the WebTransport sub-protocol from the client's offer;
    ``on_session`` is called for every raw QUIC connection and every WebTransport session.
    """
    config = config or TransportConfig()
    configuration = config.quic(is_client=False, alpns=alpns)
    configuration.load_cert_chain(certfile, keyfile)

    def create_protocol(*args: Any, **kwargs: Any) -> _Connection:
        conn = _Connection(*args, **kwargs)
        if config.max_streams is not None:
            # aioquic grants one more stream each time one closes, so this bounds the streams open at
            # once. Set before the handshake sends the transport parameters; the uni headroom is
            # for the HTTP/3 control and QPACK streams.
            conn._quic._local_max_streams_bidi.value = config.max_streams
            conn._quic._local_max_streams_uni.value = config.max_streams + H3_UNI_STREAMS
        conn.max_unread = config.max_unread
        conn.on_session = on_session
        conn.select_protocol = select_protocol
        return conn

    return await aioquic_serve(host, port, configuration=configuration, create_protocol=create_protocol)


def bound_port(server: QuicServer) -> int:
    """The UDP port a server listens on (useful with port 0)."""
    transport = server._transport
    assert transport is not None
    port: int = transport.get_extra_info("sockname")[1]
    return port


# -- client ------------------------------------------------------------------------------------


@dataclass
class TlsOptions:
    """How a client checks the server certificate."""

    fingerprints: list[str] = field(default_factory=list)
    root: str | None = None
    disable_verify: bool = False


@contextlib.asynccontextmanager
async def dial(host: str, port: int, *, alpns: list[str], webtransport_path: str | None,
               protocols: list[str], tls: TlsOptions, server_name: str | None = None,
               config: TransportConfig | None = None, timeout: float = 10.0) -> AsyncIterator[Session]:
    """Connect to ``host:port`` and yield one :class:`Session`.

    With ``webtransport_path`` set, QUIC runs HTTP/3 and an extended CONNECT to that path offering
    ``protocols``; otherwise ``alpns`` are offered directly on raw QUIC.
    """
    config = config or TransportConfig()
    configuration = config.quic(is_client=True, alpns=H3_ALPN if webtransport_path is not None else alpns)
    configuration.server_name = server_name or host
    if tls.disable_verify or tls.fingerprints:
        configuration.verify_mode = ssl.CERT_NONE
    elif tls.root:
        configuration.load_verify_locations(tls.root)
    async with contextlib.AsyncExitStack() as stack:
        try:
            conn = await asyncio.wait_for(
                stack.enter_async_context(aioquic_connect(host, port, configuration=configuration,
                                                          create_protocol=_Connection)),
                timeout,
            )
            assert isinstance(conn, _Connection)
            conn.max_unread = config.max_unread
            _check_fingerprint(conn, tls.fingerprints)
            if webtransport_path is None:
                if conn.raw is None:
                    raise ConnectError("server did not agree on a moq-lite ALPN")
                session: _Session = conn.raw
            else:
                session = await asyncio.wait_for(
                    _webtransport_connect(conn, host, port, webtransport_path, protocols), timeout)
        except TimeoutError:
            raise ConnectError(f"could not connect to {host}:{port}: timed out after {timeout:g} s") from None
        except (ConnectionError, OSError) as exc:
            raise ConnectError(f"could not connect to {host}:{port}: {exc}") from None
        try:
            yield session
        finally:
            session.close(0, "")
            conn.transmit()
            if session.kind == "webtransport":
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(conn.wait_closed(), CLOSE_GRACE)


def _check_fingerprint(conn: _Connection, fingerprints: list[str]) -> None:
    if not fingerprints:
        return
    cert = conn._quic.tls._peer_certificate
    if cert is None:
        raise ConnectError("server presented no certificate")
    digest = hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()
    wanted = {f.replace(":", "").lower() for f in fingerprints}
    if digest not in wanted:
        raise ConnectError(f"server certificate fingerprint {digest} is not the pinned one")


async def _webtransport_connect(conn: _Connection, host: str, port: int, path: str,
                                protocols: list[str]) -> _Session:
    h3 = conn.h3
    if h3 is None:
        raise ConnectError("server did not negotiate HTTP/3")
    stream_id = conn._quic.get_next_available_stream_id()
    future: asyncio.Future[list[tuple[bytes, bytes]]] = asyncio.get_running_loop().create_future()
    conn.connect_responses[stream_id] = future
    headers = [
        (b":method", b"CONNECT"), (b":protocol", b"webtransport"), (b":scheme", b"https"),
        (b":authority", f"{host}:{port}".encode()), (b":path", path.encode()),
        (b"sec-webtransport-http3-draft02", b"1"),
    ]
    if protocols:
        headers.append((b"wt-available-protocols", ", ".join(f'"{p}"' for p in protocols).encode()))
    h3.send_headers(stream_id, headers)
    conn.transmit()
    response = {k.decode(): v.decode(errors="replace") for k, v in await future}
    if response.get(":status") != "200":
        raise ConnectError(f"WebTransport CONNECT refused with status {response.get(':status')}")
    chosen = parse_sf_list(response.get("wt-protocol", ""))
    protocol = chosen[0] if chosen and chosen[0] in protocols else ""
    session = _Session(conn, kind="webtransport", protocol=protocol, path=path, session_id=stream_id)
    conn.webtransport[stream_id] = session
    return session
