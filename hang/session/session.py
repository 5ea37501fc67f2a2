"""A moq-lite session: handshake, the stream dispatch table, and the error boundary."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Awaitable, Callable

from hang.errors import ErrorCode, ProtocolError, UnexpectedMessage, UnexpectedStream
from hang.model.origin import Origin
from hang.session.base import log, reset_quietly
from hang.session.handshake import (
    SetupStream,
    client_setup,
    direct_version,
    needs_setup_exchange,
    send_lite05_setup,
    server_setup,
)
from hang.session.limits import SessionLimits
from hang.session.publisher import Publisher
from hang.session.reader import StreamReader
from hang.session.subscriber import Subscriber
from hang.transport.base import RecvStream, SendStream, Session
from hang.wire.constants import ALL_VERSIONS, BidiStream, SetupParam, UniStream, Version
from hang.wire.messages import Goaway, Setup

#: Seconds a lite-05 server waits for the client's SETUP stream.
SETUP_TIMEOUT = 5.0
#: Seconds to wait for the peer's close code after its moql session stream ended.
SESSION_CLOSE_GRACE = 0.5

BidiHandler = Callable[[SendStream, StreamReader], Awaitable[None]]


def new_origin_id() -> int:
    """A random non-zero origin id for loop detection (62-bit varint range)."""
    return secrets.randbits(62) or 1


class MoqSession(Publisher, Subscriber):
    """One moq-lite session, symmetric: both ends may publish and subscribe.

    Create it with :meth:`start` (client or server side), then use :meth:`publish`,
    :meth:`announced` and :meth:`subscribe`. ``subscribe_origin`` makes the session learn every
    broadcast the peer announces (a relay passes its shared origin as both origins).
    """

    def __init__(self, transport: Session, *, is_server: bool, versions: tuple[Version, ...] = ALL_VERSIONS,
                 publish: Origin | None = None, subscribe: Origin | None = None,
                 origin_id: int | None = None, limits: SessionLimits | None = None) -> None:
        super().__init__(transport, publish=publish, subscribe=subscribe,
                         origin_id=origin_id if origin_id is not None else new_origin_id(), limits=limits)
        self.init_subscriber()
        self.is_server = is_server
        self.versions = versions
        self.peer_setup: Setup | None = None
        self._peer_setup: asyncio.Future[Setup] = asyncio.get_running_loop().create_future()
        self._ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        #: Called once the handshake is done and before any stream is served (the relay checks the
        #: session's token and scopes its origins to its path here; raising refuses the session).
        self.on_ready: Callable[[MoqSession], None] | None = None
        #: The reconnect URI from the peer's GOAWAY ("" = none given); set with :attr:`going_away`.
        self.goaway: str | None = None
        self.going_away = asyncio.Event()
        self._setup_stream: SetupStream | None = None
        self._bidi: dict[int, BidiHandler] = {
            BidiStream.ANNOUNCE: self.serve_announce,
            BidiStream.SUBSCRIBE: self.serve_subscribe,
            BidiStream.TRACK: self.serve_track,
            BidiStream.FETCH: self.serve_fetch,
            BidiStream.PROBE: self._ignore_probe,
            BidiStream.GOAWAY: self._receive_goaway,
        }

    async def start(self) -> None:
        """Negotiate the version and start serving the peer's streams."""
        transport = self.transport
        self.spawn(self._watch_transport(), "transport")
        self.spawn(self._accept_loop(), "accept")
        version = direct_version(transport.protocol, self.versions)
        if version is not None:
            self.set_version(version)
        elif not needs_setup_exchange(transport.protocol):
            raise ProtocolError(f"unsupported protocol {transport.protocol!r}")
        elif not self.is_server:
            version, self._setup_stream = await client_setup(transport, self.versions)
            self.set_version(version)
            self.spawn(self._watch_setup_stream(StreamReader(self._setup_stream.recv)), "session stream")
        version = await self.wait_version()
        if version >= Version.LITE_05:
            path = transport.path if transport.kind == "quic" and not self.is_server else None
            await send_lite05_setup(transport, path=path or None, origin_id=self.origin_id)
            if self.is_server:
                # Like the Rust server: serve nobody before their SETUP (it carries the path on QUIC).
                await asyncio.wait_for(asyncio.shield(self._peer_setup), SETUP_TIMEOUT)
        if self.on_ready is not None:
            self.on_ready(self)
        self._ready.set_result(None)
        if self.subscribe_origin is not None:
            self.spawn(self.learn_broadcasts(""), "announcements")
        log.debug("%s: session up, %s", self.label, version.label)

    @property
    def path(self) -> str:
        """The path (and query) the client connected to: the URL on WebTransport, SETUP on lite-05 QUIC."""
        if self.transport.path:
            return self.transport.path
        if self.peer_setup is not None:
            return self.peer_setup.text(SetupParam.PATH) or ""
        return ""

    async def wait_ready(self) -> None:
        """Wait until the handshake finished and the session serves streams."""
        await asyncio.shield(self._ready)

    async def _accept_loop(self) -> None:
        while True:
            send, recv = await self.transport.accept()
            if not self.usage.acquire("streams"):
                log.warning("%s: refusing a stream: over the limit of %s served at once", self.label,
                            self.limits.streams)
                if send is not None:
                    reset_quietly(send, ErrorCode.BOUNDS_EXCEEDED)
                recv.stop(ErrorCode.BOUNDS_EXCEEDED)
                continue
            coro = self._dispatch_uni(recv) if send is None else self._dispatch_bidi(send, recv)
            task = self.spawn(coro, "uni stream" if send is None else "bidi stream")
            task.add_done_callback(lambda _: self.usage.release("streams"))

    def _reader(self, recv: RecvStream) -> StreamReader:
        return StreamReader(recv, max_message_size=self.limits.message_size, max_frame_size=self.limits.frame_size)

    async def _dispatch_bidi(self, send: SendStream, recv: RecvStream) -> None:
        reader = self._reader(recv)
        kind = await reader.varint()
        if kind is None:
            return
        if kind == BidiStream.CLIENT_SETUP and self.is_server:
            await self._serve_setup(send, reader)
            return
        await self.wait_ready()
        handler = self._bidi.get(kind)
        if handler is None:
            if self.version.uses_setup_exchange:
                raise UnexpectedStream(f"unknown bidi stream type {kind:#x}")
            log.debug("%s: resetting unknown bidi stream type %#x", self.label, kind)
            reset_quietly(send, ErrorCode.UNEXPECTED_STREAM)
            recv.stop(ErrorCode.UNEXPECTED_STREAM)
            return
        try:
            await handler(send, reader)
        except ProtocolError:
            reset_quietly(send, ErrorCode.CANCEL)
            raise

    async def _dispatch_uni(self, recv: RecvStream) -> None:
        reader = self._reader(recv)
        kind = await reader.varint()
        if kind is None:
            return
        await self.wait_version()
        if kind == UniStream.GROUP:
            await self.wait_ready()
            await self.receive_group(recv, reader)
        elif kind == UniStream.SETUP and self.version >= Version.LITE_05:
            if self.peer_setup is not None or self._peer_setup.done():
                raise UnexpectedMessage("second SETUP stream")
            self.peer_setup = await reader.required(Setup, self.version)
            self._peer_setup.set_result(self.peer_setup)
        elif self.version.uses_setup_exchange:
            raise UnexpectedStream(f"unknown uni stream type {kind:#x}")
        else:
            recv.stop(ErrorCode.UNEXPECTED_STREAM)

    async def _serve_setup(self, send: SendStream, reader: StreamReader) -> None:
        version = await server_setup(send, reader, self.versions)
        if self._version.done() and self._version.result() != version:
            log.warning("%s: client ran SETUP after negotiating %s", self.label, self.version.label)
        self.set_version(version)
        self._setup_stream = SetupStream(send, reader.stream)
        await self._watch_setup_stream(reader)

    async def _watch_setup_stream(self, reader: StreamReader) -> None:
        # The moql session stream lives as long as the session; only SESSION_INFO may arrive on it.
        with contextlib.suppress(Exception):
            await reader.drain()
        # A peer closing the session usually ends this stream first: give its close code a moment
        # to arrive (the transport watcher then closes us with it).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.transport.closed), SESSION_CLOSE_GRACE)
        self.close(0, "session stream closed")

    async def _ignore_probe(self, send: SendStream, reader: StreamReader) -> None:
        await reader.drain()

    async def _receive_goaway(self, send: SendStream, reader: StreamReader) -> None:
        message = await reader.message(Goaway, self.version)
        self.goaway = message.uri if message else ""
        self.going_away.set()
        log.info("%s: peer is going away%s", self.label, f" (to {self.goaway})" if self.goaway else "")

    async def send_goaway(self, uri: str = "") -> None:
        """Tell the peer we are going away (lite-04+), optionally where to reconnect."""
        if self.closed.done() or not self._ready.done() or self.version < Version.LITE_04:
            return
        send, _ = await self.transport.open_bi()
        self.send_message(send, Goaway(uri), kind=BidiStream.GOAWAY)
        send.finish()

    def on_closed(self) -> None:
        for future in (self._ready, self._peer_setup):
            if not future.done():
                future.cancel()
        self.close_subscriptions()
