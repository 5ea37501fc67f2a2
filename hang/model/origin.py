"""Origins: broadcasts by path, and live announcements of them by prefix."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from hang.model.broadcast import BroadcastConsumer
from hang.wire.coding import normalize_path, strip_prefix


@dataclass(frozen=True)
class Announcement:
    """A broadcast became active (``active``) or ended, at ``path`` (absolute)."""

    path: str
    active: bool
    #: Origin ids the announcement passed through (loop detection between relays).
    hops: tuple[int, ...] = ()


class AnnouncementConsumer:
    """Announcements under one prefix: first the current set, then live changes."""

    def __init__(self, origin: Origin, prefix: str) -> None:
        self.prefix = prefix
        self._origin = origin
        self._queue: asyncio.Queue[Announcement | None] = asyncio.Queue()

    def _push(self, item: Announcement | None) -> None:
        self._queue.put_nowait(item)

    async def next(self) -> Announcement | None:
        """Next announcement, or None once closed."""
        item = await self._queue.get()
        if item is None:
            self._queue.put_nowait(None)
        return item

    def pending(self) -> int:
        """Announcements queued and not yet read."""
        return self._queue.qsize()

    def __aiter__(self) -> AnnouncementConsumer:
        return self

    async def __anext__(self) -> Announcement:
        item = await self.next()
        if item is None:
            raise StopAsyncIteration
        return item

    def close(self) -> None:
        """Stop receiving announcements."""
        self._origin._watchers.discard(self)
        self._push(None)


@dataclass
class _Entry:
    broadcast: BroadcastConsumer
    hops: tuple[int, ...]
    watcher: asyncio.Task[None] | None = None


class Origin:
    """Broadcasts by path. Publishing replaces any broadcast already at that path."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._watchers: set[AnnouncementConsumer] = set()

    def publish(self, path: str, broadcast: BroadcastConsumer, hops: tuple[int, ...] = ()) -> None:
        """Make ``broadcast`` available at ``path`` until it closes or is unpublished."""
        path = normalize_path(path)
        old = self._entries.get(path)
        if old is not None and old.watcher is not None:
            old.watcher.cancel()
        entry = _Entry(broadcast, hops)
        self._entries[path] = entry
        entry.watcher = asyncio.ensure_future(self._watch_close(path, entry))
        self._broadcast(Announcement(path, True, hops))

    async def _watch_close(self, path: str, entry: _Entry) -> None:
        await asyncio.shield(entry.broadcast.closed)
        self._remove(path, entry)

    def unpublish(self, path: str, broadcast: BroadcastConsumer | None = None) -> None:
        """Remove the broadcast at ``path`` (only if it is ``broadcast``, when given)."""
        entry = self._entries.get(normalize_path(path))
        if entry is not None and (broadcast is None or entry.broadcast is broadcast):
            if entry.watcher is not None:
                entry.watcher.cancel()
            self._remove(normalize_path(path), entry)

    def _remove(self, path: str, entry: _Entry) -> None:
        if self._entries.get(path) is entry:
            del self._entries[path]
            self._broadcast(Announcement(path, False, entry.hops))

    def _broadcast(self, item: Announcement) -> None:
        for watcher in list(self._watchers):
            if strip_prefix(watcher.prefix, item.path) is not None:
                watcher._push(item)

    def consume(self, path: str) -> BroadcastConsumer | None:
        """The broadcast at ``path``, if active."""
        entry = self._entries.get(normalize_path(path))
        return entry.broadcast if entry else None

    def hops(self, path: str) -> tuple[int, ...]:
        """The hop list of the broadcast at ``path``."""
        entry = self._entries.get(normalize_path(path))
        return entry.hops if entry else ()

    def announced(self, prefix: str = "") -> AnnouncementConsumer:
        """Watch broadcasts under ``prefix`` (per path segment): the current set, then changes."""
        watcher = AnnouncementConsumer(self, normalize_path(prefix))
        for path, entry in sorted(self._entries.items()):
            if strip_prefix(watcher.prefix, path) is not None:
                watcher._push(Announcement(path, True, entry.hops))
        self._watchers.add(watcher)
        return watcher

    def paths(self, prefix: str = "") -> list[str]:
        """Active broadcast paths under ``prefix``."""
        prefix = normalize_path(prefix)
        return sorted(p for p in self._entries if strip_prefix(prefix, p) is not None)
