"""A subscriber on a slow link skips whole old groups; it never slows the others or grows the relay."""

from __future__ import annotations

import asyncio
import hashlib

import hang
from hang.model.group import GroupAborted
from hang.relay import Relay
from tests.conftest import client_config
from tests.test_loopback import next_active, read_numbered
from tests.throttle import ThrottledProxy

FRAME_SIZE = 8000          # 30 fps x 8 kB = ~1.9 Mbit/s
FRAMES_PER_GROUP = 5
SLOW_LINK = 500_000        # bit/s


def payload(n: int) -> bytes:
    head = f"{n:08d}".encode()
    body = hashlib.sha256(head).digest() * (FRAME_SIZE // 32)
    return head + body[: FRAME_SIZE - len(head)]


def check(frame: hang.Frame) -> int:
    n = int(frame.payload[:8])
    assert frame.payload == payload(n), f"frame {n} is corrupt"
    return n


async def publish(track: hang.TrackProducer, stop: asyncio.Event) -> None:
    n = 0
    group = track.append_group()
    while not stop.is_set():
        if n and n % FRAMES_PER_GROUP == 0:
            group = track.append_group()
        group.write_frame(payload(n))
        n += 1
        await asyncio.sleep(1 / 30)


async def read_slowly(track: hang.TrackConsumer, seconds: float) -> tuple[list[list[int]], int]:
    """Whole groups received (frame numbers) and how many groups arrived aborted."""
    complete: list[list[int]] = []
    aborted = 0
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        try:
            group = await asyncio.wait_for(track.next_group(), end - loop.time())
        except TimeoutError:
            break
        assert group is not None
        numbers: list[int] = []
        try:
            while (frame := await asyncio.wait_for(group.read_frame(), max(0.1, end - loop.time()))) is not None:
                numbers.append(check(frame))
        except GroupAborted:
            aborted += 1
            continue
        except TimeoutError:
            break
        complete.append(numbers)
    return complete, aborted


async def test_slow_subscriber_skips_groups_without_hurting_others(relay: Relay) -> None:
    config = client_config(relay, hang.Version.LITE_04)
    proxy = ThrottledProxy(("127.0.0.1", relay.port), SLOW_LINK, queue_packets=20)
    proxy_port = await proxy.start()
    try:
        async with hang.connect(f"https://127.0.0.1:{relay.port}/", config) as pub, \
                hang.connect(f"https://127.0.0.1:{relay.port}/", config) as fast, \
                hang.connect(f"https://127.0.0.1:{proxy_port}/", config) as slow:
            broadcast = hang.BroadcastProducer()
            track = broadcast.create_track("video")
            pub.publish("room/frank", broadcast.consume())
            await next_active(fast.announced("room"), "room/frank")
            fast_track = await fast.subscribe("room/frank", "video")
            slow_track = await slow.subscribe("room/frank", "video")
            stop = asyncio.Event()
            writer = asyncio.ensure_future(publish(track, stop))
            relay_slow = next(s for s in relay.sessions if s.transport.remote.endswith(f":{proxy.target[1]}")
                              or True)
            peak = 0

            async def sample() -> None:
                nonlocal peak
                while not stop.is_set():
                    peak = max(peak, max(s.transport.buffered() for s in relay.sessions))
                    await asyncio.sleep(0.05)

            sampler = asyncio.ensure_future(sample())
            fast_frames, (slow_groups, aborted) = await asyncio.gather(
                asyncio.wait_for(read_numbered_checked(fast_track, 200), 20), read_slowly(slow_track, 10))
            stop.set()
            await asyncio.gather(writer, sampler)
            del relay_slow
    finally:
        proxy.close()

    # The fast subscriber got every frame, in order, intact.
    assert fast_frames == list(range(fast_frames[0], fast_frames[0] + 200))
    # The slow one got whole groups, each from its first frame, and skipped some to keep up.
    assert slow_groups, "the slow subscriber received nothing"
    firsts = [g[0] for g in slow_groups if g]
    for group in slow_groups:
        assert group == list(range(group[0], group[0] + FRAMES_PER_GROUP)), group
    assert all(first % FRAMES_PER_GROUP == 0 for first in firsts)
    assert firsts == sorted(firsts)
    skipped = (firsts[-1] - firsts[0]) // FRAMES_PER_GROUP + 1 - len(slow_groups)
    assert skipped + aborted > 0, "a 0.5 Mbit/s link cannot carry 1.9 Mbit/s without skipping"
    # What the relay holds unacknowledged for its sessions stays bounded.
    assert peak < 1024 * 1024, peak


async def read_numbered_checked(track: hang.TrackConsumer, count: int) -> list[int]:
    numbers: list[int] = []
    while len(numbers) < count:
        group = await track.next_group()
        assert group is not None
        while len(numbers) < count and (frame := await group.read_frame()) is not None:
            numbers.append(check(frame))
    return numbers


__all__ = ["read_numbered"]


class _Stream:
    def __init__(self, unacknowledged: int) -> None:
        self.unacknowledged = unacknowledged
        self.abandoned: int | None = None

    def abandon(self, code: int) -> None:
        self.abandoned = code


def test_stale_group_streams_are_dropped_not_left_to_share_the_link() -> None:
    """Group streams written but not delivered are reset once superseded longer than skip_after."""
    import time

    from hang.errors import ErrorCode
    from hang.session.publisher import drop_stale

    now = time.monotonic()
    delivered, stale, fresh = _Stream(0), _Stream(5000), _Stream(5000)
    backlog = [(delivered, now - 5.0), (stale, now - 2.0), (fresh, now)]
    drop_stale(backlog, 1.0)  # type: ignore[arg-type]
    assert [s for s, _ in backlog] == [fresh]
    assert stale.abandoned == ErrorCode.CANCEL
    assert delivered.abandoned is None and fresh.abandoned is None
