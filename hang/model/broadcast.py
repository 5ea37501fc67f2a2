"""Broadcasts: a named set of tracks, some created up front and some resolved on demand."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from hang.errors import NotFound
from hang.model.track import TrackConsumer, TrackInfo, TrackProducer

#: Seconds a track resolved only for its info is kept, waiting for a subscriber.
RESOLVE_LINGER = 2.0

#: Creates a track on first request (e.g. by subscribing upstream); raises NotFound if there is none.
TrackResolver = Callable[[str], Awaitable[TrackProducer]]


class BroadcastProducer:
    """The publishing side of a broadcast.

    Tracks made with :meth:`create_track` are served as they are. With a ``resolver``, a request
    for any other track creates it on demand, once, however many consumers ask; it is forgotten
    when its last consumer leaves, so the next request resolves it afresh.
    """

    def __init__(self, resolver: TrackResolver | None = None) -> None:
        self.tracks: dict[str, TrackProducer] = {}
        self.resolver = resolver
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending: dict[str, asyncio.Future[TrackProducer]] = {}

    def create_track(self, name: str, info: TrackInfo | None = None) -> TrackProducer:
        """Add a track that this broadcast serves itself."""
        track = TrackProducer(name, info)
        self.tracks[name] = track
        return track

    def close(self) -> None:
        """End the broadcast: its tracks finish and the origin unannounces it."""
        for track in self.tracks.values():
            track.finish()
        if not self.closed.done():
            self.closed.set_result(None)

    def consume(self) -> BroadcastConsumer:
        """A handle for readers (sessions serving subscribers, local players)."""
        return BroadcastConsumer(self)

    async def track(self, name: str) -> TrackProducer:
        """The track called ``name``, resolving it if needed."""
        if self.closed.done():
            raise NotFound(f"broadcast ended; no track {name!r}")
        existing = self.tracks.get(name)
        if existing is not None and not (existing.done and existing.error is not None):
            return existing
        if self.resolver is None:
            raise NotFound(f"no track {name!r}")
        pending = self._pending.get(name)
        if pending is None:
            pending = asyncio.ensure_future(self._resolve(name))
            self._pending[name] = pending
        return await asyncio.shield(pending)

    async def _resolve(self, name: str) -> TrackProducer:
        assert self.resolver is not None
        try:
            track = await self.resolver(name)
        finally:
            self._pending.pop(name, None)
        self.tracks[name] = track
        previous = track.on_unused

        def forget() -> None:
            if self.tracks.get(name) is track:
                del self.tracks[name]
            if previous is not None:
                previous()

        track.on_unused = forget
        return track


class BroadcastConsumer:
    """The reading side of a broadcast."""

    def __init__(self, producer: BroadcastProducer) -> None:
        self._producer = producer

    @property
    def closed(self) -> asyncio.Future[None]:
        """Resolves when the broadcast ends."""
        return self._producer.closed

    async def track_info(self, name: str) -> TrackInfo:
        """A track's delivery properties (resolving the track if needed)."""
        track = await self._producer.track(name)
        if track.consumers == 0 and track.on_unused is not None:
            # Resolved to answer this question; a SUBSCRIBE usually follows at once, so keep the
            # track (and its upstream subscription) a moment before letting it go.
            track.consumers += 1
            asyncio.get_running_loop().call_later(RESOLVE_LINGER, track.release)
        return track.info

    async def subscribe(self, name: str) -> TrackConsumer:
        """Read the track called ``name`` from its newest group; raises NotFound."""
        track = await self._producer.track(name)
        return track.consume()
