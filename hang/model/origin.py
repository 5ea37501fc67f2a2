"""Origins: broadcasts by path, and live announcements of them by prefix."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from hang.model.broadcast import BroadcastConsumer
from hang.wire.coding import join_path, normalize_path, strip_prefix


@dataclass(frozen=True)
class Announcement:
    """A broadcast became active (``active``) or ended, at ``path``."""

    path: str
    active: bool
    #: Origin ids the announcement passed through (loop detection between relays).
    hops: tuple[int, ...] = ()


class AnnouncementConsumer:
    """Announcements under one prefix: first the current set, then live changes."""

    def __init__(self, state: _State, root: str, prefix: str,
                 allow: Callable[[str], bool] | None = None) -> None:
        #: The prefix asked for, relative to the origin's root.
        self.prefix = prefix
        #: Only paths (relative to the root) this accepts are shown.
        self._allow = allow
        self._state = state
        self._root = root
        self._full_prefix = join_path(root, prefix)
        self._queue: asyncio.Queue[Announcement | None] = asyncio.Queue()

    def _offer(self, item: Announcement) -> None:
        if strip_prefix(self._full_prefix, item.path) is None:
            return
        relative = strip_prefix(self._root, item.path)
        assert relative is not None
        if self._allow is not None and not self._allow(relative):
            return
        self._queue.put_nowait(Announcement(relative, item.active, item.hops))

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
        self._state.watchers.discard(self)
        self._queue.put_nowait(None)


@dataclass
class _Entry:
    broadcast: BroadcastConsumer
    hops: tuple[int, ...]
    watcher: asyncio.Task[None] | None = None


@dataclass
class _State:
    entries: dict[str, _Entry] = field(default_factory=dict)
    watchers: set[AnnouncementConsumer] = field(default_factory=set)


class Origin:
    """Broadcasts by path. Publishing replaces any broadcast already at that path.

    :meth:`scope` gives a view of the same origin under a root path (what a relay does with
    the path a client connected to): the view's paths are relative to that root.
    """

    def __init__(self) -> None:
        self._state = _State()
        self.root = ""

    def scope(self, root: str) -> Origin:
        """A view of this origin in which every path is relative to ``root``."""
        view = Origin()
        view._state = self._state
        view.root = join_path(self.root, normalize_path(root))
        return view

    def _full(self, path: str) -> str:
        return join_path(self.root, normalize_path(path))

    def publish(self, path: str, broadcast: BroadcastConsumer, hops: tuple[int, ...] = ()) -> None:
        """Make ``broadcast`` available at ``path`` until it closes or is unpublished."""
        full = self._full(path)
        old = self._state.entries.get(full)
        if old is not None and old.watcher is not None:
            old.watcher.cancel()
        entry = _Entry(broadcast, hops)
        self._state.entries[full] = entry
        entry.watcher = asyncio.ensure_future(self._watch_close(full, entry))
        self._notify(Announcement(full, True, hops))

    async def _watch_close(self, full: str, entry: _Entry) -> None:
        await asyncio.shield(entry.broadcast.closed)
        self._remove(full, entry)

    def unpublish(self, path: str, broadcast: BroadcastConsumer | None = None) -> None:
        """Remove the broadcast at ``path`` (only if it is ``broadcast``, when given)."""
        full = self._full(path)
        entry = self._state.entries.get(full)
        if entry is not None and (broadcast is None or entry.broadcast is broadcast):
            if entry.watcher is not None:
                entry.watcher.cancel()
            self._remove(full, entry)

    def _remove(self, full: str, entry: _Entry) -> None:
        if self._state.entries.get(full) is entry:
            del self._state.entries[full]
            self._notify(Announcement(full, False, entry.hops))

    def _notify(self, item: Announcement) -> None:
        for watcher in list(self._state.watchers):
            watcher._offer(item)

    def consume(self, path: str) -> BroadcastConsumer | None:
        """The broadcast at ``path``, if active."""
        entry = self._state.entries.get(self._full(path))
        return entry.broadcast if entry else None

    def announced(self, prefix: str = "", allow: Callable[[str], bool] | None = None) -> AnnouncementConsumer:
        """Watch broadcasts under ``prefix`` (per path segment): the current set, then changes.

        ``allow``, given a path relative to this view's root, hides the paths it rejects.
        """
        watcher = AnnouncementConsumer(self._state, self.root, normalize_path(prefix), allow)
        for full, entry in sorted(self._state.entries.items()):
            watcher._offer(Announcement(full, True, entry.hops))
        self._state.watchers.add(watcher)
        return watcher

    def paths(self, prefix: str = "") -> list[str]:
        """Active broadcast paths under ``prefix``, relative to this view's root."""
        full_prefix = self._full(prefix)
        found = []
        for full in self._state.entries:
            if strip_prefix(full_prefix, full) is not None:
                relative = strip_prefix(self.root, full)
                assert relative is not None
                found.append(relative)
        return sorted(found)
