"""A hostile client against the relay: it is closed with the right moq-lite code (or its streams are
bounded), and a viewer of a live broadcast on the same relay keeps receiving every frame meanwhile.

The hostile side is a bare transport session (``hang.transport.quic.dial``) writing raw bytes, over
raw QUIC and over WebTransport. Each test runs one attack while a publisher writes numbered frames
and a viewer reads them; at the end the viewer must hold every number, in order, with no hole.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest

import hang
from hang.errors import ErrorCode, StreamReset
from hang.relay import Relay
from hang.session.session import MoqSession
from hang.transport.base import Session
from hang.transport.quic import TlsOptions, dial
from hang.wire.coding import encode_varint
from hang.wire.constants import ALPN_MOQL, AnnounceStatus, BidiStream, UniStream, Version
from hang.wire.framing import StreamDecoder, encode_message
from hang.wire.messages import Announce, AnnounceRequest, Goaway, Subscribe
from tests.conftest import client_config, url
from tests.test_loopback import next_active

V2, V3, V4, V5 = Version.LITE_02, Version.LITE_03, Version.LITE_04, Version.LITE_05
TRANSPORTS = [pytest.param(False, id="quic"), pytest.param(True, id="webtransport")]
FRAMES_PER_GROUP = 5


@dataclass
class Live:
    """A publisher writing numbered frames and a viewer reading them, both through the relay."""

    relay: Relay
    received: list[int] = field(default_factory=list)
    written: int = 0
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def write(self, track: hang.TrackProducer) -> None:
        group = track.append_group()
        while not self.stop.is_set():
            if self.written and self.written % FRAMES_PER_GROUP == 0:
                group = track.append_group()
            group.write_frame(str(self.written).encode(), self.written * 1000)
            self.written += 1
            await asyncio.sleep(0.02)
        group.finish()

    async def read(self, consumer: hang.TrackConsumer) -> None:
        while (group := await consumer.next_group()) is not None:
            while (frame := await group.read_frame()) is not None:
                self.received.append(int(frame.payload))

    async def wait_frames(self, count: int, timeout: float = 10) -> None:
        async with asyncio.timeout(timeout):
            while len(self.received) < count:
                await asyncio.sleep(0.01)

    async def finish(self) -> None:
        """Stop writing; the viewer must then hold every frame from its first one to the last written."""
        await self.wait_frames(len(self.received) + 10)  # still flowing after the attack
        self.stop.set()
        await self.tasks[0]
        async with asyncio.timeout(10):
            while not self.received or self.received[-1] < self.written - 1:
                await asyncio.sleep(0.01)
        first = self.received[0]
        assert self.received == list(range(first, self.written)), "the viewer lost or reordered frames"


@pytest.fixture
async def live(relay: Relay) -> AsyncIterator[Live]:
    state = Live(relay)
    config = client_config(relay, V4)
    async with hang.connect(url(relay), config) as pub, hang.connect(url(relay), config) as viewer:
        broadcast = hang.BroadcastProducer()
        track = broadcast.create_track("numbers")
        pub.publish("room/live", broadcast.consume())
        await next_active(viewer.announced("room"), "room/live")
        consumer = await viewer.subscribe("room/live", "numbers")
        state.tasks = [asyncio.ensure_future(state.write(track)), asyncio.ensure_future(state.read(consumer))]
        await state.wait_frames(5)
        try:
            yield state
        finally:
            state.stop.set()
            for task in state.tasks:
                task.cancel()
            await asyncio.gather(*state.tasks, return_exceptions=True)


@contextlib.asynccontextmanager
async def hostile(relay: Relay, protocol: str, webtransport: bool) -> AsyncIterator[Session]:
    async with dial("127.0.0.1", relay.port, alpns=[protocol], webtransport_path="/" if webtransport else None,
                    protocols=[protocol], tls=TlsOptions([relay.fingerprint]), timeout=5) as session:
        yield session


async def close_code(session: Session, timeout: float = 10) -> int:
    info = await asyncio.wait_for(session.closed, timeout)
    return info.code


def relay_side(relay: Relay, known: set[MoqSession]) -> MoqSession:
    """The relay's session for the hostile client (the one that is not the publisher or viewer)."""
    others = [s for s in relay.sessions if s not in known]
    assert len(others) == 1
    return others[0]


def running(session: MoqSession) -> int:
    """Tasks the relay runs for a session (one per stream it serves, plus a few)."""
    return sum(not task.done() for task in session._tasks)


async def lite05_setup(session: Session) -> None:
    stream = await session.open_uni()
    stream.write_nowait(bytes([UniStream.SETUP, 1, 0]), fin=True)


async def moql_setup(session: Session, *versions: int) -> None:
    """CLIENT_SETUP over the session stream, and wait for SERVER_SETUP."""
    body = encode_varint(len(versions)) + b"".join(encode_varint(v) for v in versions) + b"\x00"
    send, recv = await session.open_bi()
    send.write_nowait(encode_varint(0x20) + len(body).to_bytes(2, "big") + body)
    data, _ = await asyncio.wait_for(recv.read(), 5)
    assert data[:1] == b"\x21"


# --------------------------------------------------------------------------- attacks that close the session


async def garbage_announce(session: Session) -> None:
    send, _ = await session.open_bi()
    send.write_nowait(bytes([BidiStream.ANNOUNCE, 4, 3, 0xFF, 0xFE, 0xFD]))  # prefix is not UTF-8


async def truncated_subscribe(session: Session) -> None:
    send, _ = await session.open_bi()
    # SUBSCRIBE whose declared body (3 bytes) holds a broadcast name that claims 5 bytes.
    send.write_nowait(bytes([BidiStream.SUBSCRIBE, 3, 0, 5]) + b"a")


async def subscribe_cut_by_fin(session: Session) -> None:
    send, _ = await session.open_bi()
    whole = encode_message(Subscribe(0, "room/live", "numbers", 0), V3)
    send.write_nowait(bytes([BidiStream.SUBSCRIBE]) + whole[:6], fin=True)


async def trailing_bytes(session: Session) -> None:
    send, _ = await session.open_bi()
    body = encode_message(AnnounceRequest("room"), V3)
    send.write_nowait(bytes([BidiStream.ANNOUNCE, body[0] + 2]) + body[1:] + b"xx")


async def huge_message_length(session: Session) -> None:
    send, _ = await session.open_bi()
    send.write_nowait(bytes([BidiStream.ANNOUNCE]) + encode_varint((1 << 62) - 1) + bytes(10))


async def huge_group_header(session: Session) -> None:
    stream = await session.open_uni()
    stream.write_nowait(bytes([UniStream.GROUP]) + encode_varint((1 << 62) - 1) + bytes(10))


async def empty_path_segment(session: Session) -> None:
    # Answer the relay's announce request with a broadcast path that has an empty segment.
    send, recv = await session.accept()
    assert send is not None
    decoder = StreamDecoder()
    data, _ = await recv.read()
    decoder.feed(data)
    assert decoder.pull_varint() == BidiStream.ANNOUNCE
    send.write_nowait(encode_message(Announce(AnnounceStatus.ACTIVE, "a//b", (0,)), V3))


async def unknown_stream_after_moql_setup(session: Session) -> None:
    await moql_setup(session, V2)
    send, _ = await session.open_bi()
    send.write_nowait(encode_varint(0x3F))


async def no_common_moql_version(session: Session) -> None:
    await asyncio.sleep(0)
    send, _ = await session.open_bi()
    body = encode_varint(1) + encode_varint(0xFF0DAD7F) + b"\x00"
    send.write_nowait(encode_varint(0x20) + len(body).to_bytes(2, "big") + body)


async def garbage_setup(session: Session) -> None:
    stream = await session.open_uni()
    stream.write_nowait(bytes([UniStream.SETUP, 3, 0x7F, 0xFF, 0xFF]), fin=True)  # 0x3fff parameters


async def second_setup(session: Session) -> None:
    await lite05_setup(session)
    await asyncio.sleep(0.1)
    await lite05_setup(session)


async def unread_flood(session: Session) -> None:
    # A GOAWAY, then megabytes on the same stream, which nobody reads.
    send, _ = await session.open_bi()
    send.write_nowait(bytes([BidiStream.GOAWAY]) + encode_message(Goaway(""), V4))
    chunk = bytes(64 * 1024)
    with contextlib.suppress(hang.HangError):  # the relay closes the session midway
        for _ in range(400):  # 25 MiB, beyond the relay's 16 MiB of unread data
            await send.write(chunk)


Attack = Callable[[Session], Awaitable[None]]
CLOSING: dict[str, tuple[Attack, str, ErrorCode]] = {
    "garbage-announce": (garbage_announce, V3.alpn, ErrorCode.DECODE),
    "truncated-subscribe": (truncated_subscribe, V3.alpn, ErrorCode.DECODE),
    "subscribe-cut-by-fin": (subscribe_cut_by_fin, V3.alpn, ErrorCode.DECODE),
    "trailing-bytes": (trailing_bytes, V3.alpn, ErrorCode.DECODE),
    "huge-message-length": (huge_message_length, V4.alpn, ErrorCode.BOUNDS_EXCEEDED),
    "huge-group-header": (huge_group_header, V3.alpn, ErrorCode.BOUNDS_EXCEEDED),
    "empty-path-segment": (empty_path_segment, V3.alpn, ErrorCode.DECODE),
    "unknown-stream-lite-02": (unknown_stream_after_moql_setup, ALPN_MOQL, ErrorCode.UNEXPECTED_STREAM),
    "no-common-version": (no_common_moql_version, ALPN_MOQL, ErrorCode.VERSION),
    "garbage-setup": (garbage_setup, V5.alpn, ErrorCode.DECODE),
    "second-setup": (second_setup, V5.alpn, ErrorCode.UNEXPECTED_MESSAGE),
    "unread-flood": (unread_flood, V4.alpn, ErrorCode.BOUNDS_EXCEEDED),
}


@pytest.mark.parametrize("webtransport", TRANSPORTS)
@pytest.mark.parametrize("case", list(CLOSING))
async def test_bad_input_closes_the_session_with_its_code(live: Live, case: str, webtransport: bool) -> None:
    attack, protocol, expected = CLOSING[case]
    async with hostile(live.relay, protocol, webtransport) as bad:
        await attack(bad)
        assert await close_code(bad) == expected
    await live.finish()
    assert len(live.relay.sessions) == 2  # the publisher and the viewer


@pytest.mark.parametrize("webtransport", TRANSPORTS)
async def test_a_silent_lite05_client_is_closed_with_timeout(live: Live, webtransport: bool) -> None:
    async with hostile(live.relay, V5.alpn, webtransport) as bad:
        assert await close_code(bad, timeout=15) == ErrorCode.TIMEOUT  # no SETUP within 5 s
    await live.finish()


# --------------------------------------------------------------------------- attacks that are bounded, not fatal


@pytest.mark.parametrize("webtransport", TRANSPORTS)
async def test_unknown_stream_types_are_reset_with_unexpected_stream(live: Live, webtransport: bool) -> None:
    async with hostile(live.relay, V4.alpn, webtransport) as bad:
        send, recv = await bad.open_bi()
        send.write_nowait(encode_varint(0x3F))
        with pytest.raises(StreamReset) as reset:
            await asyncio.wait_for(recv.read(), 5)
        assert reset.value.code == ErrorCode.UNEXPECTED_STREAM
        uni = await bad.open_uni()
        uni.write_nowait(encode_varint(0x2A) + b"junk")
        # The session itself is still usable.
        send, recv = await bad.open_bi()
        send.write_nowait(bytes([BidiStream.ANNOUNCE]) + encode_message(AnnounceRequest("room"), V4))
        data, _ = await asyncio.wait_for(recv.read(), 5)
        assert data and not bad.closed.done()
    await live.finish()


async def _open_and_reset(bad: Session, count: int) -> None:
    async def one() -> None:
        send, recv = await bad.open_bi()
        send.write_nowait(encode_varint(0x3F), fin=True)
        with pytest.raises(StreamReset):
            await recv.read()

    for start in range(0, count, 100):
        await asyncio.wait_for(asyncio.gather(*(one() for _ in range(min(100, count - start)))), 30)


@pytest.mark.parametrize("webtransport", TRANSPORTS)
async def test_thousands_of_short_streams_are_freed_and_their_credit_regranted(live: Live, webtransport: bool) -> None:
    known = set(live.relay.sessions)
    async with hostile(live.relay, V4.alpn, webtransport) as bad:
        await asyncio.sleep(0.2)
        server = relay_side(live.relay, known)
        before = len(server.transport.streams)  # type: ignore[attr-defined]
        # Far more than the 128 streams QUIC grants at once: only possible if each one is freed.
        await _open_and_reset(bad, 2000)
        for _ in range(2000):
            uni = await bad.open_uni()
            uni.write_nowait(bytes([UniStream.GROUP, 2, 9, 0]), fin=True)  # a group of no subscription
        await asyncio.sleep(0.5)
        await _open_and_reset(bad, 10)  # the uni streams did not block anything
        assert len(server.transport.streams) <= before + 2  # type: ignore[attr-defined]
        assert running(server) < 20
        assert not bad.closed.done()
    await live.finish()


@pytest.mark.parametrize("webtransport", TRANSPORTS)
async def test_thousands_of_streams_held_open_are_capped_by_stream_credit(live: Live, webtransport: bool) -> None:
    known = set(live.relay.sessions)
    async with hostile(live.relay, V4.alpn, webtransport) as bad:
        await asyncio.sleep(0.2)
        server = relay_side(live.relay, known)
        request = bytes([BidiStream.ANNOUNCE]) + encode_message(AnnounceRequest("room"), V4)
        for _ in range(3000):
            send, _ = await bad.open_bi()
            send.write_nowait(request)  # never finished: the relay keeps serving it
        await asyncio.sleep(1.0)
        open_streams = len(server.transport.streams)  # type: ignore[attr-defined]
        limit = live.relay.config.limits.session.streams or 128  # the QUIC MAX_STREAMS credit the relay grants
        assert 100 <= open_streams <= limit + 2, open_streams
        assert running(server) <= limit + 12
    await live.finish()
    await asyncio.sleep(0.5)
    assert not running(server)  # everything it held was released with the session


@pytest.mark.parametrize("webtransport", TRANSPORTS)
async def test_streams_arriving_out_of_order_are_all_served(relay: Relay, webtransport: bool) -> None:
    # A lost packet makes a lower stream id arrive after a higher one; both are new streams.
    async with hostile(relay, V4.alpn, webtransport) as peer:
        first_send, first_recv = await peer.open_bi()
        second_send, second_recv = await peer.open_bi()
        second_send.write_nowait(encode_varint(0x3F), fin=True)
        with pytest.raises(StreamReset):
            await asyncio.wait_for(second_recv.read(), 5)
        first_send.write_nowait(encode_varint(0x3F), fin=True)
        with pytest.raises(StreamReset):
            await asyncio.wait_for(first_recv.read(), 5)
