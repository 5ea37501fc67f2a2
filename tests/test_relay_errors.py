"""Bad input closes only the offending session, with the moq-lite error code; everyone else goes on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

import hang
from hang.errors import ErrorCode
from hang.relay import Relay
from hang.transport.base import Session
from hang.transport.quic import TlsOptions, dial
from hang.wire.coding import encode_varint
from hang.wire.constants import AnnounceStatus, BidiStream, Version
from hang.wire.framing import StreamDecoder, encode_message
from hang.wire.messages import Announce, AnnounceRequest
from tests.conftest import client_config, url
from tests.test_loopback import next_active, publish_numbered, read_numbered


async def raw_session(relay: Relay, version: Version, webtransport: bool) -> AsyncIterator[Session]:
    async with dial("127.0.0.1", relay.port, alpns=[version.alpn], webtransport_path="/" if webtransport else None,
                    protocols=[version.alpn], tls=TlsOptions([relay.fingerprint])) as session:
        yield session


async def close_code(session: Session, timeout: float = 5) -> int:
    info = await asyncio.wait_for(session.closed, timeout)
    return info.code


async def truncated_subscribe(session: Session) -> None:
    send, _ = await session.open_bi()
    # SUBSCRIBE whose declared body (3 bytes) holds a broadcast name that claims 5 bytes.
    send.write_nowait(bytes([BidiStream.SUBSCRIBE, 3, 0, 5]) + b"a")


async def oversized_message(session: Session) -> None:
    send, _ = await session.open_bi()
    send.write_nowait(bytes([BidiStream.ANNOUNCE]) + encode_varint(1 << 30))


async def trailing_bytes(session: Session) -> None:
    send, _ = await session.open_bi()
    body = encode_message(AnnounceRequest("room"), Version.LITE_03)
    send.write_nowait(bytes([BidiStream.ANNOUNCE, body[0] + 2]) + body[1:] + b"xx")


async def empty_path_segment(session: Session) -> None:
    # Answer the relay's announce request with a broadcast path that has an empty segment.
    send, recv = await session.accept()
    assert send is not None
    decoder = StreamDecoder()
    data, _ = await recv.read()
    decoder.feed(data)
    assert decoder.pull_varint() == BidiStream.ANNOUNCE
    send.write_nowait(encode_message(Announce(AnnounceStatus.ACTIVE, "a//b", (0,)), Version.LITE_03))


CASES = {
    "truncated-subscribe": (truncated_subscribe, ErrorCode.DECODE),
    "oversized-message": (oversized_message, ErrorCode.BOUNDS_EXCEEDED),
    "trailing-bytes": (trailing_bytes, ErrorCode.DECODE),
    "empty-path-segment": (empty_path_segment, ErrorCode.DECODE),
}


@pytest.mark.parametrize("webtransport", [False, True], ids=["quic", "webtransport"])
@pytest.mark.parametrize("case", list(CASES))
async def test_malformed_message_closes_only_that_session(relay: Relay, case: str, webtransport: bool) -> None:
    attack, expected = CASES[case]
    config = client_config(relay, Version.LITE_03)
    async with hang.connect(url(relay), config) as pub, hang.connect(url(relay), config) as sub:
        broadcast = hang.BroadcastProducer()
        track = broadcast.create_track("numbers")
        pub.publish("room/eve", broadcast.consume())
        await next_active(sub.announced("room"), "room/eve")
        consumer = await sub.subscribe("room/eve", "numbers")
        stop = asyncio.Event()
        writer = asyncio.ensure_future(publish_numbered(track, stop))
        before = await asyncio.wait_for(read_numbered(consumer, 10), 5)

        async for bad in raw_session(relay, Version.LITE_03, webtransport):
            await attack(bad)
            assert await close_code(bad) == expected

        after = await asyncio.wait_for(read_numbered(consumer, 20), 5)
        stop.set()
        await writer
        numbers = before + after
        assert numbers == list(range(numbers[0], numbers[0] + 30)), "the good subscriber lost frames"
        assert len(relay.sessions) == 2


async def test_unknown_stream_type_is_reset_not_fatal(relay: Relay) -> None:
    async for session in raw_session(relay, Version.LITE_04, False):
        send, recv = await session.open_bi()
        send.write_nowait(encode_varint(0x3F))
        with pytest.raises(hang.HangError):
            await asyncio.wait_for(recv.read(), 5)
        # The session itself is still usable.
        send2, recv2 = await session.open_bi()
        send2.write_nowait(bytes([BidiStream.ANNOUNCE]) + encode_message(AnnounceRequest(""), Version.LITE_04))
        await asyncio.sleep(0.2)
        assert not session.closed.done()
