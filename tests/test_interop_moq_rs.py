"""Interop with the official Rust stack (PyPI moq-rs 0.5.1 / moq-ffi 0.4.18) on loopback.

1. moq-rs clients publish and subscribe through ``hang relay`` for lite-03, -04 and -05, over
   WebTransport (https://) and raw QUIC (moql://): our relay must speak each version as they do.
2. Our client publishes and subscribes through ``moq.Server`` (the official relay code).
3. Mixed: a moq-rs publisher with our subscriber, our publisher with a moq-rs subscriber.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

import hang
from hang.relay import Relay, RelayConfig
from hang.wire.constants import Version
from tests.peers.harness import peer
from tests.test_loopback import next_active, publish_numbered, read_numbered

LITE = [Version.LITE_03, Version.LITE_04, Version.LITE_05]
SCHEMES = ["https", "moql"]
FRAMES = 40


@pytest.fixture
async def moq_server() -> AsyncIterator[tuple[str, str]]:
    """The official one-node relay (moq.Server) in its own process: (address, fingerprint)."""
    async with peer("relay", "--bind", "127.0.0.1:0") as server:
        ready = await server.expect("ready")
        yield ready["addr"], ready["fingerprints"][0]


async def hang_relay(version: Version) -> Relay:
    relay = Relay(RelayConfig(host="127.0.0.1", port=0, versions=(version,)))
    await relay.start()
    return relay


def session_versions(relay: Relay) -> list[str]:
    return sorted({s.version.label for s in relay.sessions})


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("version", LITE, ids=lambda v: v.label)
async def test_moq_rs_clients_through_hang_relay(scheme: str, version: Version) -> None:
    relay = await hang_relay(version)
    try:
        target = f"{scheme}://127.0.0.1:{relay.port}/"
        pin = ["--fingerprint", relay.fingerprint]
        async with peer("subscribe", target, *pin, "--prefix", "room", "--name", "room/alice.hang",
                        "--track", "chat", "--count", str(FRAMES)) as sub, \
                peer("publish", target, *pin, "--name", "room/alice.hang", "--track", "chat",
                     "--frames", str(FRAMES), "--groups-of", "5", "--interval-ms", "10", "--wait-stdin") as pub:
            await pub.expect("announced")
            announce = await sub.expect("announce")
            assert announce == {"event": "announce", "path": "room/alice.hang", "active": True}
            await sub.expect("subscribed")
            assert session_versions(relay) == [version.label]
            await asyncio.sleep(0.5)  # let the relay's upstream subscription settle
            pub.send_line()
            await pub.expect("sent")
            done = await sub.expect("done", timeout=30)
            frames = [e for e in sub.events if e["event"] == "frame"]
            assert done["frames"] == FRAMES
            assert [f["payload"] for f in frames] == [f"frame-{i}" for i in range(FRAMES)]
            assert [f["group"] for f in frames] == sorted(f["group"] for f in frames)
            assert await sub.exit_code() == 0
            assert await pub.exit_code() == 0
    finally:
        await relay.stop()


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("version", LITE, ids=lambda v: v.label)
async def test_hang_clients_through_moq_server(moq_server: tuple[str, str], scheme: str, version: Version) -> None:
    addr, fingerprint = moq_server
    target = f"{scheme}://{addr}/"
    config = hang.ClientConfig(versions=(version,), fingerprints=[fingerprint], timeout=10)
    async with hang.connect(target, config) as pub, hang.connect(target, config) as sub:
        assert pub.version == sub.version == version
        broadcast = hang.BroadcastProducer()
        track = broadcast.create_track("numbers", hang.TrackInfo(priority=1, timescale=1_000_000))
        announcements = sub.announced("room")
        pub.publish("room/bob", broadcast.consume())
        await next_active(announcements, "room/bob", timeout=10)
        consumer = await sub.subscribe("room/bob", "numbers")
        stop = asyncio.Event()
        writer = asyncio.ensure_future(publish_numbered(track, stop))
        numbers = await asyncio.wait_for(read_numbered(consumer, FRAMES), 15)
        stop.set()
        await writer
        assert numbers == list(range(numbers[0], numbers[0] + FRAMES))
        broadcast.close()
        await next_active(announcements, "room/bob", active=False, timeout=5)


@pytest.mark.parametrize("version", LITE, ids=lambda v: v.label)
async def test_moq_rs_publisher_to_hang_subscriber(version: Version) -> None:
    relay = await hang_relay(version)
    try:
        target = f"https://127.0.0.1:{relay.port}/"
        config = hang.ClientConfig(versions=(version,), fingerprints=[relay.fingerprint])
        async with hang.connect(target, config) as sub, \
                peer("publish", target, "--fingerprint", relay.fingerprint, "--name", "room/carol.hang",
                     "--track", "chat", "--frames", str(FRAMES), "--groups-of", "4", "--interval-ms", "10",
                     "--wait-stdin") as pub:
            await pub.expect("announced")
            await next_active(sub.announced("room"), "room/carol.hang", timeout=10)
            consumer = await sub.subscribe("room/carol.hang", "chat")
            await asyncio.sleep(0.3)
            pub.send_line()
            payloads: list[str] = []
            timestamps: list[int] = []
            while len(payloads) < FRAMES:
                group = await asyncio.wait_for(consumer.next_group(), 10)
                assert group is not None
                for frame in await asyncio.wait_for(group.read_all(), 10):
                    payloads.append(frame.payload.decode())
                    timestamps.append(frame.timestamp)
            assert payloads == [f"frame-{i}" for i in range(FRAMES)]
            if version >= Version.LITE_05:
                info = consumer.info
                assert info.timescale > 0
                # The peer stamps frame i at i*10 ms; lite-05 carries it in the track's timescale.
                assert timestamps == [i * 10 * info.timescale // 1000 for i in range(FRAMES)]
            assert await pub.exit_code() == 0
    finally:
        await relay.stop()


@pytest.mark.parametrize("version", LITE, ids=lambda v: v.label)
async def test_hang_publisher_to_moq_rs_subscriber(version: Version) -> None:
    relay = await hang_relay(version)
    try:
        target = f"moql://127.0.0.1:{relay.port}/"
        config = hang.ClientConfig(versions=(version,), fingerprints=[relay.fingerprint])
        async with hang.connect(target, config) as pub:
            broadcast = hang.BroadcastProducer()
            track = broadcast.create_track("chat")
            pub.publish("room/dave.hang", broadcast.consume())
            async with peer("subscribe", target, "--fingerprint", relay.fingerprint, "--prefix", "room",
                            "--name", "room/dave.hang", "--track", "chat", "--count", "30") as sub:
                await sub.expect("subscribed")
                stop = asyncio.Event()
                writer = asyncio.ensure_future(publish_numbered(track, stop))
                done = await sub.expect("done", timeout=30)
                stop.set()
                await writer
            numbers = [int(e["payload"]) for e in sub.events if e["event"] == "frame"]
            assert done["frames"] == 30
            assert numbers == list(range(numbers[0], numbers[0] + 30))
    finally:
        await relay.stop()


@pytest.mark.parametrize("scheme", SCHEMES)
async def test_moq_rs_connection_path_is_the_root(scheme: str) -> None:
    # moq-rs sends its URL path in the CONNECT (WebTransport) or the lite-05 SETUP (raw QUIC).
    relay = await hang_relay(Version.LITE_05)
    try:
        target = f"{scheme}://127.0.0.1:{relay.port}"
        config = hang.ClientConfig(versions=(Version.LITE_05,), fingerprints=[relay.fingerprint])
        async with hang.connect(f"https://127.0.0.1:{relay.port}/", config) as top, \
                peer("publish", f"{target}/anon", "--fingerprint", relay.fingerprint, "--name", "room/erin.hang",
                     "--track", "chat", "--frames", "1", "--groups-of", "1", "--interval-ms", "10",
                     "--wait-stdin", "--linger", "3") as pub:
            await pub.expect("announced")
            await next_active(top.announced(""), "anon/room/erin.hang", timeout=10)
            assert relay.origin.paths() == ["anon/room/erin.hang"]
    finally:
        await relay.stop()


async def test_killed_publisher_is_unannounced_within_about_a_second() -> None:
    relay = await hang_relay(Version.LITE_04)
    try:
        target = f"https://127.0.0.1:{relay.port}/"
        config = hang.ClientConfig(versions=(Version.LITE_04,), fingerprints=[relay.fingerprint])
        async with hang.connect(target, config) as sub, \
                peer("publish", target, "--fingerprint", relay.fingerprint, "--name", "room/gone.hang",
                     "--track", "chat", "--frames", "1", "--groups-of", "1", "--interval-ms", "10",
                     "--wait-stdin") as pub:
            announcements = sub.announced("room")
            await pub.expect("announced")
            await next_active(announcements, "room/gone.hang", timeout=10)
            loop = asyncio.get_running_loop()
            pub.process.kill()  # no goodbye: the relay must notice the silence
            killed = loop.time()
            await next_active(announcements, "room/gone.hang", active=False, timeout=5)
            elapsed = loop.time() - killed
            print(f"unannounced {elapsed:.2f} s after the publisher was killed")
            assert elapsed < 1.5
    finally:
        await relay.stop()
