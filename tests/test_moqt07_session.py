"""draft-07 sessions through `hang relay`: setup, announce, subscribe filters, datagrams, fetch, bridging."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import sys

import pytest

import hang
from hang.errors import NotFound
from hang.relay import Relay
from hang.session.moqt07 import Moqt07Session
from hang.wire.moqt07 import FilterType, TrackStatusCode
from tests.conftest import client_config, url
from tests.test_loopback import next_active, publish_numbered, read_numbered


def draft07(relay: Relay, compat: str = "") -> hang.ClientConfig:
    return dataclasses.replace(client_config(relay), protocol="moqt-07", compat=compat)


@pytest.mark.parametrize("scheme", ["https", "moqt"])
async def test_draft07_publisher_to_draft07_subscriber(relay: Relay, scheme: str) -> None:
    config = draft07(relay)
    async with hang.connect(url(relay, scheme), config) as pub, hang.connect(url(relay, scheme), config) as sub:
        assert pub.version.label == "draft-07"
        broadcast = hang.BroadcastProducer()
        track = broadcast.create_track("numbers")
        announcements = sub.announced("room")
        pub.publish("room/alice", broadcast.consume())
        await next_active(announcements, "room/alice")
        stop = asyncio.Event()
        writer = asyncio.ensure_future(publish_numbered(track, stop))
        consumer = await sub.subscribe("room/alice", "numbers")
        numbers = await asyncio.wait_for(read_numbered(consumer, 30), 10)
        assert numbers == list(range(numbers[0], numbers[0] + 30))
        assert numbers[0] % 5 == 0, "a subscription starts at the first object of a group"
        stop.set()
        await writer
        broadcast.close()
        await next_active(announcements, "room/alice", active=False)


@pytest.mark.parametrize("lite_publishes", [True, False], ids=["lite-to-draft07", "draft07-to-lite"])
async def test_bridge_between_moq_lite_and_draft07(relay: Relay, lite_publishes: bool) -> None:
    lite, ietf = client_config(relay, hang.Version.LITE_05), draft07(relay)
    async with hang.connect(url(relay), lite if lite_publishes else ietf) as pub, \
            hang.connect(url(relay), ietf if lite_publishes else lite) as sub:
        broadcast = hang.BroadcastProducer()
        track = broadcast.create_track("numbers")
        announcements = sub.announced("conf")
        pub.publish("conf/room42/bob", broadcast.consume())
        await next_active(announcements, "conf/room42/bob")
        stop = asyncio.Event()
        writer = asyncio.ensure_future(publish_numbered(track, stop))
        consumer = await sub.subscribe("conf/room42/bob", "numbers")
        numbers = await asyncio.wait_for(read_numbered(consumer, 25), 10)
        assert numbers == list(range(numbers[0], numbers[0] + 25))
        stop.set()
        await writer


async def test_datagram_track_is_forwarded_as_datagrams(relay: Relay) -> None:
    config = draft07(relay)
    async with hang.connect(url(relay), config) as pub, hang.connect(url(relay), config) as sub, \
            hang.connect(url(relay), client_config(relay, hang.Version.LITE_05)) as lite:
        broadcast = hang.BroadcastProducer()
        track = broadcast.create_track("dgram")
        track.datagrams = True
        pub.publish("dg/a", broadcast.consume())
        await next_active(sub.announced("dg"), "dg/a")
        stop = asyncio.Event()
        writer = asyncio.ensure_future(publish_numbered(track, stop))
        consumer = await sub.subscribe("dg/a", "dgram")
        lite_consumer = await lite.subscribe("dg/a", "dgram")
        numbers = await asyncio.wait_for(read_numbered(consumer, 20), 10)
        assert len(numbers) == 20 and numbers == sorted(numbers)
        assert consumer.producer.datagrams, "the subscriber received datagrams"
        assert await asyncio.wait_for(read_numbered(lite_consumer, 10), 10), "moq-lite gets the groups on streams"
        stop.set()
        await writer


async def test_filters_fetch_and_track_status(relay: Relay) -> None:
    config = draft07(relay)
    async with hang.connect(url(relay), config) as pub, hang.connect(url(relay), config) as sub:
        assert isinstance(sub, Moqt07Session)
        broadcast = hang.BroadcastProducer()
        track = broadcast.create_track("t")
        for sequence in range(4):
            group = track.append_group()
            for n in range(3):
                group.write_frame(f"{sequence}.{n}".encode())
        pub.publish("f/a", broadcast.consume())
        await next_active(sub.announced("f"), "f/a")
        status = await asyncio.wait_for(sub.track_status("f/a", "t"), 5)
        assert (status.status_code, status.last_group_id, status.last_object_id) == (TrackStatusCode.IN_PROGRESS, 3, 2)
        missing = await asyncio.wait_for(sub.track_status("f/a", "nope"), 5)
        assert missing.status_code == TrackStatusCode.DOES_NOT_EXIST
        with pytest.raises(NotFound):
            await asyncio.wait_for(sub.subscribe("f/nobody", "t"), 5)
        # AbsoluteRange of two future groups, and a LatestGroup subscription beside it.
        producer = await subscribe_raw(sub, "f/a", "t", FilterType.ABSOLUTE_RANGE, (5, 1), (6, 0))
        ranged, latest = producer.consume(), await sub.subscribe("f/a", "t")
        for sequence in range(4, 8):
            group = track.append_group()
            for n in range(3):
                group.write_frame(f"{sequence}.{n}".encode())
        track.append_group()
        got = []
        while (group_consumer := await asyncio.wait_for(ranged.next_group(), 5)) is not None:
            got.append([f.payload.decode() for f in await group_consumer.read_all()])
        assert got == [["5.1", "5.2"], ["6.0", "6.1", "6.2"]]
        sequences = []
        while len(sequences) < 5:
            group_consumer = await asyncio.wait_for(latest.next_group(), 5)
            assert group_consumer is not None
            sequences.append(group_consumer.sequence)
        assert sequences == [3, 4, 5, 6, 7]
        # FETCH from the relay's cache: objects 1.. of group 5 up to object 1 of group 6.
        objects = await asyncio.wait_for(sub.fetch("f/a", "t", 5, 6, start_object=1, end_object=2), 5)
        assert [(o.group_id, o.object_id, o.payload) for o in objects] == [
            (5, 1, b"5.1"), (5, 2, b"5.2"), (6, 0, b"6.0"), (6, 1, b"6.1")]
        with pytest.raises(NotFound):
            await asyncio.wait_for(sub.fetch("f/a", "t", 90, 91), 5)
        with pytest.raises(NotFound, match="code 1"):
            await subscribe_raw(sub, "f/a", "t", FilterType.ABSOLUTE_START, (0, 0), None)


async def subscribe_raw(session: Moqt07Session, path: str, name: str, filter_type: int, start: tuple[int, int],
                        end: tuple[int, int] | None) -> hang.TrackProducer:
    return await asyncio.wait_for(session.subscribe_track(path, name, filter_type=filter_type, start=start, end=end),
                                  5)


@pytest.mark.parametrize("watch_protocol", ["moq-lite", "moqt-07"])
async def test_hang_broadcast_published_over_draft07_plays_in_hang_watch(relay: Relay, watch_protocol: str) -> None:
    common = [url(relay), "--tls-fingerprint", relay.fingerprint]
    publisher = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hang", "publish", *common, "--protocol", "moqt-07", "--name", "room/ietf.hang",
        "--test-pattern", "--size", "320x240", stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        watcher = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hang", "watch", *common, "--protocol", watch_protocol, "--room", "room/",
            "--headless", "--no-audio", "--duration", "5", stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(watcher.communicate(), 30)
    finally:
        publisher.send_signal(signal.SIGINT)
        _, publish_err = await asyncio.wait_for(publisher.communicate(), 15)
    assert watcher.returncode == 0, err.decode()
    assert publisher.returncode == 0, publish_err.decode()
    assert "draft-07" in publish_err.decode()
    lines = out.decode().splitlines()
    assert "+ room/ietf.hang" in lines
    stats = [line for line in lines if line.startswith("room/ietf.hang:")]
    assert stats and " fps" in stats[-1] and "error" not in stats[-1], lines
    assert not stats[-1].split(": ", 1)[1].startswith("0.0"), stats[-1]
