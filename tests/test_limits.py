"""Relay limits: going over one is an error for the offending session only; others keep working."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

import hang
from hang.errors import ErrorCode, NotFound, StreamReset
from hang.relay import Relay, RelayConfig
from hang.relay.limits import RelayLimits, default_session_limits
from hang.session.session import MoqSession
from hang.wire.constants import BidiStream
from hang.wire.messages import AnnounceRequest
from tests.conftest import client_config, url
from tests.test_auth import pump
from tests.test_loopback import next_active, read_numbered

StartRelay = Callable[..., Awaitable[Relay]]


def limited(**changes: int) -> RelayLimits:
    limits = RelayLimits(session=default_session_limits())
    for name, value in changes.items():
        if name == "sessions":
            limits.sessions = value
        else:
            setattr(limits.session, name, value)
    return limits


@pytest.fixture
async def make_relay() -> AsyncIterator[StartRelay]:
    relays: list[Relay] = []

    async def start(**changes: int) -> Relay:
        relay = Relay(RelayConfig(host="127.0.0.1", port=0, limits=limited(**changes)))
        await relay.start()
        relays.append(relay)
        return relay

    yield start
    for relay in relays:
        await relay.stop()


async def still_works(relay: Relay, path: str = "healthy") -> None:
    """A fresh publisher and subscriber pair gets media through ``relay``."""
    config = client_config(relay, hang.Version.LITE_04)
    async with hang.connect(url(relay), config) as pub, hang.connect(url(relay), config) as sub:
        broadcast = hang.BroadcastProducer()
        track = broadcast.create_track("t")
        seen = sub.announced("")
        pub.publish(path, broadcast.consume())
        await next_active(seen, path)
        consumer = await sub.subscribe(path, "t")
        stop = asyncio.Event()
        writer = asyncio.ensure_future(pump(track, stop))
        assert len(await asyncio.wait_for(read_numbered(consumer, 2), 10)) == 2
        stop.set()
        await writer


async def closed_code(session: MoqSession) -> int:
    return (await asyncio.wait_for(asyncio.shield(session.closed), 10)).code


async def test_too_many_sessions(make_relay: StartRelay, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "hang.relay")
    relay = await make_relay(sessions=2)
    config = client_config(relay, hang.Version.LITE_04)
    async with hang.connect(url(relay), config) as first, hang.connect(url(relay), config):
        async with hang.connect(url(relay), config) as third:
            assert await closed_code(third) == ErrorCode.BOUNDS_EXCEEDED
        assert not first.closed.done()
    assert any("limit of 2 sessions" in r.message for r in caplog.records)
    await still_works(relay)


async def test_too_many_subscriptions(make_relay: StartRelay) -> None:
    relay = await make_relay(subscriptions=2)
    config = client_config(relay, hang.Version.LITE_04)
    async with hang.connect(url(relay), config) as pub, hang.connect(url(relay), config) as sub:
        broadcast = hang.BroadcastProducer()
        for name in "abc":
            broadcast.create_track(name)
        seen = sub.announced("")
        pub.publish("room", broadcast.consume())
        await next_active(seen, "room")
        await sub.subscribe("room", "a")
        await sub.subscribe("room", "b")
        with pytest.raises(NotFound, match=f"code {int(ErrorCode.BOUNDS_EXCEEDED)}"):
            await sub.subscribe("room", "c")
        assert not sub.closed.done()
        await still_works(relay)


async def test_too_many_announce_requests(make_relay: StartRelay) -> None:
    relay = await make_relay(announce_requests=1)
    config = client_config(relay, hang.Version.LITE_04)
    async with hang.connect(url(relay), config) as session:
        first = session.announced("a")
        second = session.announced("b")
        held = asyncio.ensure_future(first.__anext__())  # opens the first request (it stays open)
        await asyncio.sleep(0.2)
        with pytest.raises(StreamReset) as refused:
            await asyncio.wait_for(second.__anext__(), 10)
        assert refused.value.code == ErrorCode.BOUNDS_EXCEEDED
        assert not session.closed.done()
        held.cancel()
        await asyncio.gather(held, return_exceptions=True)
    await still_works(relay)


async def test_too_many_announcements_closes_that_session(make_relay: StartRelay) -> None:
    relay = await make_relay(announcements=2)
    config = client_config(relay, hang.Version.LITE_04)
    async with hang.connect(url(relay), config) as greedy:
        for name in ("one", "two", "three"):
            greedy.publish(name, hang.BroadcastProducer().consume())
        assert await closed_code(greedy) == ErrorCode.BOUNDS_EXCEEDED
    await still_works(relay)


async def test_message_too_large_closes_that_session(make_relay: StartRelay) -> None:
    relay = await make_relay(message_size=64)
    config = client_config(relay, hang.Version.LITE_04)
    async with hang.connect(url(relay), config) as session:
        send, _ = await session.transport.open_bi()
        session.send_message(send, AnnounceRequest("x" * 200, 0), kind=BidiStream.ANNOUNCE)
        assert await closed_code(session) == ErrorCode.BOUNDS_EXCEEDED
    await still_works(relay)


async def test_frame_too_large_closes_that_session(make_relay: StartRelay) -> None:
    relay = await make_relay(frame_size=1000)
    config = client_config(relay, hang.Version.LITE_04)
    async with hang.connect(url(relay), config) as pub, hang.connect(url(relay), config) as sub:
        broadcast = hang.BroadcastProducer()
        track = broadcast.create_track("t")
        seen = sub.announced("")
        pub.publish("big", broadcast.consume())
        await next_active(seen, "big")
        await sub.subscribe("big", "t")
        await asyncio.sleep(0.3)  # let the relay subscribe upstream
        track.write_frame(b"x" * 5000)
        assert await closed_code(pub) == ErrorCode.BOUNDS_EXCEEDED
        assert not sub.closed.done()
    await still_works(relay)


async def test_group_over_the_track_cache_is_dropped(make_relay: StartRelay) -> None:
    relay = await make_relay(cache_bytes=4000)
    config = client_config(relay, hang.Version.LITE_04)
    async with hang.connect(url(relay), config) as pub, hang.connect(url(relay), config) as sub:
        broadcast = hang.BroadcastProducer()
        track = broadcast.create_track("t")
        seen = sub.announced("")
        pub.publish("cam", broadcast.consume())
        await next_active(seen, "cam")
        consumer = await sub.subscribe("cam", "t")
        await asyncio.sleep(0.3)  # let the relay subscribe upstream
        group = track.append_group()
        for _ in range(3):
            group.write_frame(b"x" * 1500)  # 4500 bytes: over the cache
        group.finish()
        small = track.append_group()
        small.write_frame(b"ok")
        small.finish()
        received = []
        async with asyncio.timeout(10):
            while not received or received[-1] != b"ok":
                got = await consumer.next_group()
                assert got is not None
                try:
                    while (frame := await got.read_frame()) is not None:
                        received.append(frame.payload)
                except Exception:
                    continue  # the oversized group arrives aborted
        assert received[-1] == b"ok"
        assert received.count(b"x" * 1500) < 3  # the oversized group never arrives whole
        assert not pub.closed.done() and not sub.closed.done()
    await still_works(relay)


async def test_streams_beyond_the_limit_wait_for_quic_flow_control(make_relay: StartRelay) -> None:
    relay = await make_relay(streams=4, announce_requests=100)
    config = client_config(relay, hang.Version.LITE_04)
    async with hang.connect(url(relay), config) as session:
        watchers = [session.announced(f"p{i}") for i in range(6)]
        opened = [asyncio.ensure_future(w.__anext__()) for w in watchers]
        await asyncio.sleep(0.5)
        served = relay.sessions and max(s.usage.counts["streams"] for s in relay.sessions)
        assert served is not None and served <= 4
        await still_works(relay)
        assert not session.closed.done()
        for task in opened:
            task.cancel()
        await asyncio.gather(*opened, return_exceptions=True)
