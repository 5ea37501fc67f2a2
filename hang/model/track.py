"""Tracks: a live sequence of groups with a bounded cache of the newest ones."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from hang.errors import HangError
from hang.model.group import GroupConsumer, GroupProducer
from hang.model.notify import Notify

#: Bytes of recent groups a track keeps for consumers that lag (the newest group is always kept).
DEFAULT_CACHE_BYTES = 8 * 1024 * 1024
#: Groups a track keeps at most, however small.
DEFAULT_CACHE_GROUPS = 64


@dataclass(frozen=True)
class TrackInfo:
    """Delivery properties of a track (moq-lite TRACK_INFO)."""

    priority: int = 0
    ordered: bool = False
    max_latency_ms: int = 0
    #: Units per second of frame timestamps.
    timescale: int = 1_000_000


class TrackClosed(HangError):
    """The track was aborted; ``code`` is the moq-lite error code."""

    def __init__(self, code: int) -> None:
        super().__init__(f"track closed (code {code})")
        self.code = code


class TrackProducer:
    """The writing side of a track.

    Keeps the newest groups within a byte and count budget; a consumer that falls further behind
    skips to the oldest group still cached, so a slow reader never holds memory without bound.
    """

    def __init__(self, name: str, info: TrackInfo | None = None, *, cache_bytes: int = DEFAULT_CACHE_BYTES,
                 cache_groups: int = DEFAULT_CACHE_GROUPS) -> None:
        self.name = name
        self.info = info or TrackInfo()
        self.cache_bytes = cache_bytes
        self.cache_groups = cache_groups
        self.groups: list[GroupProducer] = []
        self.done = False
        self.error: int | None = None
        self.consumers = 0
        #: Called once when the last consumer goes away (used to cancel upstream subscriptions).
        self.on_unused: Callable[[], None] | None = None
        #: Called whenever a consumer starts reading (a publisher may offer a fresh keyframe).
        self.on_consume: Callable[[], None] | None = None
        #: The publisher sends this track's objects as datagrams (IETF MoQ forwarding preference).
        self.datagrams = False
        self._next_sequence = 0
        self._notify = Notify()

    @property
    def latest(self) -> GroupProducer | None:
        """The newest group, if any."""
        return self.groups[-1] if self.groups else None

    def append_group(self) -> GroupProducer:
        """Start the next group, finishing the previous one."""
        if self.groups:
            self.groups[-1].finish()
        group = self.create_group(self._next_sequence)
        assert group is not None
        return group

    def create_group(self, sequence: int) -> GroupProducer | None:
        """Add a group with an explicit sequence; None if it is a duplicate or already evicted."""
        if self.done and self.error is not None:
            return None
        if any(g.sequence == sequence for g in self.groups):
            return None
        if self.groups and sequence < self.groups[0].sequence and len(self.groups) >= self.cache_groups:
            return None
        group = GroupProducer(sequence)
        index = len(self.groups)
        while index > 0 and self.groups[index - 1].sequence > sequence:
            index -= 1
        self.groups.insert(index, group)
        self._next_sequence = max(self._next_sequence, sequence + 1)
        self._evict()
        self._notify.notify()
        return group

    def write_frame(self, payload: bytes, timestamp: int = 0) -> None:
        """Write a one-frame group."""
        group = self.append_group()
        group.write_frame(payload, timestamp)
        group.finish()

    def _evict(self) -> None:
        total = sum(g.size for g in self.groups)
        while len(self.groups) > 1 and (len(self.groups) > self.cache_groups or total > self.cache_bytes):
            dropped = self.groups.pop(0)
            total -= dropped.size

    def finish(self) -> None:
        """No more groups; consumers end after the cached ones."""
        if not self.done:
            self.done = True
            if self.groups:
                self.groups[-1].finish()
            self._notify.notify()

    def abort(self, code: int) -> None:
        """End the track with an error; unfinished groups are aborted."""
        if not self.done:
            self.done = True
            self.error = code
            for group in self.groups:
                group.abort(code)
            self._notify.notify()

    def consume(self) -> TrackConsumer:
        """A reader starting at the newest group."""
        self.consumers += 1
        if self.on_consume is not None:
            self.on_consume()
        return TrackConsumer(self)

    def release(self) -> None:
        """A consumer went away; fires :attr:`on_unused` when it was the last."""
        self.consumers -= 1
        if self.consumers == 0 and self.on_unused is not None:
            callback, self.on_unused = self.on_unused, None
            callback()

    async def wait_change(self) -> None:
        """Wait until a group is added or the track ends."""
        await self._notify.wait()


class TrackConsumer:
    """Reads a track's groups in sequence order, starting at the newest group when it subscribed."""

    def __init__(self, producer: TrackProducer) -> None:
        self._producer = producer
        self.name = producer.name
        self._cursor: int | None = producer.latest.sequence if producer.latest else None
        self._closed = False

    @property
    def info(self) -> TrackInfo:
        """The track's delivery properties."""
        return self._producer.info

    async def next_group(self, *, skip_after: float | None = None) -> GroupConsumer | None:
        """Next group in sequence, or None when the track ended.

        Groups evicted from the cache are skipped. With ``skip_after`` (seconds), a reader that
        is behind by more than that (a newer group was started that long ago) jumps straight to
        the newest group, the way a live viewer catches up.
        """
        producer = self._producer
        while not self._closed:
            waiting = [g for g in producer.groups if self._cursor is None or g.sequence >= self._cursor]
            if waiting:
                group = waiting[0]
                if skip_after is not None and len(waiting) > 1:
                    now = time.monotonic()
                    if any(newer.created <= now - skip_after for newer in waiting[1:]):
                        group = waiting[-1]
                self._cursor = group.sequence + 1
                return group.consume()
            if producer.error is not None:
                raise TrackClosed(producer.error)
            if producer.done:
                return None
            await producer.wait_change()
        return None

    @property
    def producer(self) -> TrackProducer:
        """The track this consumer reads."""
        return self._producer

    def seek(self, sequence: int) -> None:
        """Continue at group ``sequence`` (or the first group after it)."""
        self._cursor = sequence

    def fetch(self, sequence: int) -> GroupConsumer | None:
        """The cached group ``sequence`` read from its first frame, or None if it is not cached."""
        for group in self._producer.groups:
            if group.sequence == sequence:
                return group.consume()
        return None

    def close(self) -> None:
        """Stop reading; the producer learns when its last consumer is gone."""
        if not self._closed:
            self._closed = True
            self._producer.release()
