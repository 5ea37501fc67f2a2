"""Our client through our relay over real UDP loopback: every version, both transports."""

from __future__ import annotations

import asyncio

import pytest

import hang
from hang.model.track import TrackClosed
from hang.relay import Relay
from tests.conftest import client_config, url

VERSIONS = [hang.Version.LITE_01, hang.Version.LITE_02, hang.Version.LITE_03, hang.Version.LITE_04,
            hang.Version.LITE_05]


async def next_active(announcements: object, path: str, *, active: bool = True, timeout: float = 5) -> None:
    async with asyncio.timeout(timeout):
        async for item in announcements:  # type: ignore[attr-defined]
            if item.path == path and item.active == active:
                return


async def publish_numbered(track: hang.TrackProducer, stop: asyncio.Event, per_group: int = 5,
                           interval: float = 0.01) -> None:
    """Write frames ``n`` = 0, 1, 2 ... (payload ``str(n)``, timestamp n ms) until stopped."""
    n = 0
    group = track.append_group()
    while not stop.is_set():
        if n and n % per_group == 0:
            group = track.append_group()
        group.write_frame(str(n).encode(), n * 1000)
        n += 1
        await asyncio.sleep(interval)


async def read_numbered(track: hang.TrackConsumer, count: int) -> list[int]:
    """Read ``count`` frames, returning their numbers."""
    numbers: list[int] = []
    while len(numbers) < count:
        group = await track.next_group()
        assert group is not None, "track ended early"
        while len(numbers) < count and (frame := await group.read_frame()) is not None:
            numbers.append(int(frame.payload))
    return numbers


@pytest.mark.parametrize("scheme", ["https", "moql"])
@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.label)
async def test_publish_discover_subscribe(relay: Relay, scheme: str, version: hang.Version) -> None:
    config = client_config(relay, version)
    async with hang.connect(url(relay, scheme), config) as pub, hang.connect(url(relay, scheme), config) as sub:
        assert pub.version == sub.version == version
        broadcast = hang.BroadcastProducer()
        track = broadcast.create_track("numbers")
        announcements = sub.announced("room")
        pub.publish("room/alice", broadcast.consume())
        await next_active(announcements, "room/alice")
        consumer = await sub.subscribe("room/alice", "numbers")
        stop = asyncio.Event()
        writer = asyncio.ensure_future(publish_numbered(track, stop))
        numbers = await asyncio.wait_for(read_numbered(consumer, 30), 10)
        stop.set()
        await writer
        # In order and without gaps, from wherever the subscription started.
        assert numbers == list(range(numbers[0], numbers[0] + 30))
        # A group starts at its first frame.
        assert numbers[0] % 5 == 0
        broadcast.close()
        await next_active(announcements, "room/alice", active=False)


async def test_timestamps_survive_lite05(relay: Relay) -> None:
    config = client_config(relay, hang.Version.LITE_05)
    async with hang.connect(url(relay), config) as pub, hang.connect(url(relay), config) as sub:
        broadcast = hang.BroadcastProducer()
        track = broadcast.create_track("t", hang.TrackInfo(priority=7, timescale=1000))
        pub.publish("ts", broadcast.consume())
        await next_active(sub.announced(""), "ts")
        info = await sub.track_info("ts", "t")
        assert info is not None and info.timescale == 1000 and info.priority == 7
        consumer = await sub.subscribe("ts", "t")
        stop = asyncio.Event()
        writer = asyncio.ensure_future(publish_numbered(track, stop))
        group = await asyncio.wait_for(consumer.next_group(), 5)
        assert group is not None
        frames = await asyncio.wait_for(group.read_all(), 5)
        stop.set()
        await writer
        assert [f.timestamp for f in frames] == [int(f.payload) * 1000 for f in frames]


async def test_late_subscriber_starts_at_latest_group(relay: Relay) -> None:
    config = client_config(relay)
    async with hang.connect(url(relay), config) as pub, hang.connect(url(relay), config) as early, \
            hang.connect(url(relay), config) as late:
        broadcast = hang.BroadcastProducer()
        track = broadcast.create_track("numbers")
        pub.publish("room/bob", broadcast.consume())
        await next_active(early.announced("room"), "room/bob")
        first = await early.subscribe("room/bob", "numbers")
        stop = asyncio.Event()
        writer = asyncio.ensure_future(publish_numbered(track, stop, per_group=10, interval=0.02))
        await asyncio.wait_for(read_numbered(first, 25), 10)
        # The latest group is now part-written: the late subscriber gets it from its first frame.
        second = await late.subscribe("room/bob", "numbers")
        numbers = await asyncio.wait_for(read_numbered(second, 12), 10)
        stop.set()
        await writer
        assert numbers[0] % 10 == 0 and numbers[0] >= 20
        assert numbers == list(range(numbers[0], numbers[0] + 12))


async def test_publisher_disconnect_ends_track_and_unannounces(relay: Relay) -> None:
    config = client_config(relay)
    async with hang.connect(url(relay), config) as sub:
        announcements = sub.announced("room")
        async with hang.connect(url(relay), config) as pub:
            broadcast = hang.BroadcastProducer()
            track = broadcast.create_track("numbers")
            pub.publish("room/carol", broadcast.consume())
            await next_active(announcements, "room/carol")
            consumer = await sub.subscribe("room/carol", "numbers")
            stop = asyncio.Event()
            writer = asyncio.ensure_future(publish_numbered(track, stop))
            await asyncio.wait_for(read_numbered(consumer, 5), 5)
        stop.set()
        await writer
        loop = asyncio.get_running_loop()
        left = loop.time()
        await next_active(announcements, "room/carol", active=False, timeout=1.0)
        assert loop.time() - left < 1.0

        async def drain() -> None:
            with pytest.raises(TrackClosed):
                while (group := await consumer.next_group()) is not None:
                    await group.read_all()
                raise TrackClosed(0)

        await asyncio.wait_for(drain(), 2)


async def test_twenty_concurrent_subscribers_share_one_upstream(relay: Relay) -> None:
    config = client_config(relay)
    async with hang.connect(url(relay), config) as pub:
        broadcast = hang.BroadcastProducer()
        track = broadcast.create_track("numbers")
        pub.publish("room/dave", broadcast.consume())
        upstream_subscribes = 0
        serve = pub.serve_subscribe

        async def counting(send, reader):  # type: ignore[no-untyped-def]
            nonlocal upstream_subscribes
            upstream_subscribes += 1
            await serve(send, reader)

        pub._bidi[2] = counting
        sessions = [hang.connect(url(relay), config) for _ in range(20)]
        subs = [await s.__aenter__() for s in sessions]
        try:
            await next_active(subs[0].announced("room"), "room/dave")
            consumers = await asyncio.gather(*(s.subscribe("room/dave", "numbers") for s in subs))
            stop = asyncio.Event()
            writer = asyncio.ensure_future(publish_numbered(track, stop))
            results = await asyncio.wait_for(asyncio.gather(*(read_numbered(c, 40) for c in consumers)), 20)
            stop.set()
            await writer
        finally:
            for s in sessions:
                await s.__aexit__(None, None, None)
        for numbers in results:
            assert numbers == list(range(numbers[0], numbers[0] + 40))
        assert upstream_subscribes == 1


@pytest.mark.parametrize("scheme", ["https", "moql"])
async def test_connection_path_is_the_root(relay: Relay, scheme: str) -> None:
    # As with the official relay: a client at /anon publishing "room/a" is "anon/room/a" to a client at /.
    config = client_config(relay, hang.Version.LITE_05)
    async with hang.connect(url(relay, scheme, "/anon?jwt=ignored"), config) as scoped, \
            hang.connect(url(relay, scheme, "/"), config) as top, \
            hang.connect(url(relay, scheme, "/anon"), config) as peer:
        broadcast = hang.BroadcastProducer()
        track = broadcast.create_track("numbers")
        scoped.publish("room/a", broadcast.consume())
        await next_active(top.announced("anon"), "anon/room/a")
        await next_active(peer.announced("room"), "room/a")
        consumer = await top.subscribe("anon/room/a", "numbers")
        stop = asyncio.Event()
        writer = asyncio.ensure_future(publish_numbered(track, stop))
        numbers = await asyncio.wait_for(read_numbered(consumer, 10), 10)
        stop.set()
        await writer
        assert numbers == list(range(numbers[0], numbers[0] + 10))
        assert relay.origin.paths() == ["anon/room/a"]


async def test_relay_shutdown_sends_goaway() -> None:
    from hang.relay import RelayConfig

    relay = Relay(RelayConfig(host="127.0.0.1", port=0))
    await relay.start()
    async with hang.connect(url(relay), client_config(relay, hang.Version.LITE_04)) as session:
        await asyncio.sleep(0.1)
        await relay.stop()
        await asyncio.wait_for(session.going_away.wait(), 2)
        assert session.goaway == ""
        await asyncio.wait_for(session.wait_closed(), 2)


async def test_ended_subscriptions_are_forgotten(relay: Relay) -> None:
    config = client_config(relay, hang.Version.LITE_04)
    async with hang.connect(url(relay), config) as pub, hang.connect(url(relay), config) as sub:
        for round_ in range(3):
            broadcast = hang.BroadcastProducer()
            track = broadcast.create_track("t")
            pub.publish(f"room/r{round_}", broadcast.consume())
            await next_active(sub.announced("room"), f"room/r{round_}")
            consumer = await sub.subscribe(f"room/r{round_}", "t")
            track.write_frame(b"x")
            track.finish()
            while await asyncio.wait_for(consumer.next_group(), 5) is not None:
                pass
        assert sub._subscriptions == {}
