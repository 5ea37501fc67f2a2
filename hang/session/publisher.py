"""The publishing half of a session: serve the peer's announce, subscribe, track and fetch requests."""

from __future__ import annotations

import asyncio
import contextlib
import time

from hang.errors import ErrorCode, HangError, NotFound, Unauthorized
from hang.model.broadcast import BroadcastConsumer
from hang.model.group import GroupAborted, GroupConsumer
from hang.model.track import TrackClosed, TrackConsumer
from hang.session.base import SessionBase, discard, finish_quietly, log, reset_quietly
from hang.session.reader import StreamReader
from hang.transport.base import SendStream
from hang.wire.coding import encode_varint, strip_prefix, zigzag_encode
from hang.wire.constants import AnnounceStatus, UniStream, Version
from hang.wire.framing import encode_frame, encode_message
from hang.wire.messages import (
    Announce,
    AnnounceInit,
    AnnounceOk,
    AnnounceRequest,
    Fetch,
    GroupHeader,
    Subscribe,
    SubscribeEnd,
    SubscribeOk,
    SubscribeStart,
    SubscribeUpdate,
    TrackInfo,
    TrackRequest,
)

#: A subscriber whose next group has been superseded for this long skips to the newest group
#: (unless its SUBSCRIBE set a max latency of its own).
DEFAULT_SKIP_AFTER = 1.0


def drop_stale(backlog: list[tuple[SendStream, float]], skip_after: float) -> None:
    """Forget delivered group streams; reset those superseded more than ``skip_after`` ago and not delivered."""
    now = time.monotonic()
    keep: list[tuple[SendStream, float]] = []
    for stream, superseded in backlog:
        if not stream.unacknowledged:
            continue
        if now - superseded > skip_after:
            with contextlib.suppress(HangError):
                stream.abandon(ErrorCode.CANCEL)
            continue
        keep.append((stream, superseded))
    backlog[:] = keep


class Publisher(SessionBase):
    """Answers what the peer asks of :attr:`publish_origin`."""

    def _limited(self, send: SendStream, what: str) -> bool:
        """Count one more ``what``; if that is over the session's limit, refuse the stream instead."""
        if self.usage.acquire(what):
            return False
        log.warning("%s: refusing a request: over the limit of %s %s", self.label,
                    getattr(self.limits, what), what.replace("_", " "))
        reset_quietly(send, ErrorCode.BOUNDS_EXCEEDED)
        return True

    def _refuse(self, send: SendStream, exc: NotFound | Unauthorized) -> None:
        if isinstance(exc, Unauthorized):
            log.warning("%s: refused: %s", self.label, exc)
        reset_quietly(send, exc.error_code)

    async def serve_announce(self, send: SendStream, reader: StreamReader) -> None:
        """The peer asked for announcements under a prefix: the current set, then changes."""
        if self._limited(send, "announce_requests"):
            return
        try:
            await self._serve_announce(send, reader)
        finally:
            self.usage.release("announce_requests")

    async def _serve_announce(self, send: SendStream, reader: StreamReader) -> None:
        version = self.version
        request = await reader.required(AnnounceRequest, version)
        watcher = self.publish_origin.announced(request.prefix)
        prefix = watcher.prefix
        closed = asyncio.ensure_future(reader.drain())
        active: set[str] = set()
        try:
            initial = [await watcher.next() for _ in range(watcher.pending())]
            initial_paths = [a.path for a in initial if a is not None and self._wanted(a.hops, request)]
            if version >= Version.LITE_05:
                self.send_message(send, AnnounceOk(self.origin_id, len(initial_paths)))
            elif version.uses_setup_exchange:
                suffixes = tuple(strip_prefix(prefix, p) or "" for p in initial_paths)
                self.send_message(send, AnnounceInit(suffixes))
                active.update(initial_paths)
                initial = []
            for item in initial:
                if item is not None and item.path in initial_paths:
                    self._send_announce(send, prefix, item.path, item.hops, True, active)
            while not closed.done():
                next_item = asyncio.ensure_future(watcher.next())
                await asyncio.wait({next_item, closed}, return_when=asyncio.FIRST_COMPLETED)
                if not next_item.done():
                    discard(next_item)
                    break
                announcement = next_item.result()
                if announcement is None:
                    break
                if self._wanted(announcement.hops, request):
                    self._send_announce(send, prefix, announcement.path, announcement.hops,
                                        announcement.active, active)
        finally:
            watcher.close()
            discard(closed)
            finish_quietly(send)

    @staticmethod
    def _wanted(hops: tuple[int, ...], request: AnnounceRequest) -> bool:
        return not (request.exclude_hop and request.exclude_hop in hops)

    def _send_announce(self, send: SendStream, prefix: str, path: str, hops: tuple[int, ...],
                       is_active: bool, active: set[str]) -> None:
        version = self.version
        suffix = strip_prefix(prefix, path) or ""
        if version == Version.LITE_04:
            hops = (*hops, self.origin_id)
        elif version == Version.LITE_03:
            hops = (*hops, 0)
        if is_active:
            if path in active and version < Version.LITE_05:
                self.send_message(send, Announce(AnnounceStatus.ENDED, suffix, ()))
            active.add(path)
            self.send_message(send, Announce(AnnounceStatus.ACTIVE, suffix, hops))
        elif path in active:
            active.discard(path)
            self.send_message(send, Announce(AnnounceStatus.ENDED, suffix, ()))

    def _broadcast(self, path: str) -> BroadcastConsumer:
        broadcast = self.publish_origin.consume(path)
        if broadcast is None:
            raise NotFound(f"no broadcast {path!r}")
        return broadcast

    async def serve_subscribe(self, send: SendStream, reader: StreamReader) -> None:
        """Serve one SUBSCRIBE: reply, then deliver groups on uni streams until cancelled or ended."""
        if self._limited(send, "subscriptions"):
            return
        try:
            await self._serve_subscribe(send, reader)
        finally:
            self.usage.release("subscriptions")

    async def _serve_subscribe(self, send: SendStream, reader: StreamReader) -> None:
        version = self.version
        request = await reader.required(Subscribe, version)
        try:
            track = await self._broadcast(request.broadcast).subscribe(request.track)
        except (NotFound, Unauthorized) as exc:
            self._refuse(send, exc)
            return
        if version < Version.LITE_05:
            ok = SubscribeOk(request.priority, request.ordered, request.max_latency_ms)
            self.send_message(send, ok, kind=0 if version >= Version.LITE_03 else None)
        updates = asyncio.ensure_future(self._read_updates(reader, version))
        delivery = asyncio.ensure_future(self._deliver(send, request, track))
        try:
            # Ends when the track ends (delivery) or the subscriber cancels (FIN on its side).
            await asyncio.wait({updates, delivery}, return_when=asyncio.FIRST_COMPLETED)
            if delivery.done():
                delivery.result()
        finally:
            discard(updates, delivery)
            track.close()
            finish_quietly(send)

    @staticmethod
    async def _read_updates(reader: StreamReader, version: Version) -> None:
        while await reader.message(SubscribeUpdate, version) is not None:
            pass

    async def _deliver(self, send: SendStream, request: Subscribe, track: TrackConsumer) -> None:
        # One group at a time, each whole: a subscriber that falls behind jumps to the newest group
        # once the one it is receiving is done, so it never queues stale media without bound.
        skip_after = request.max_latency_ms / 1000 if request.max_latency_ms else DEFAULT_SKIP_AFTER
        last = -1
        # Streams of groups already written whose data may still be queued, with when each group was
        # superseded: on a link slower than the media, QUIC shares it between every stream with data
        # left, so stale groups would starve the newest one. They are dropped after ``skip_after``.
        backlog: list[tuple[SendStream, float]] = []
        while True:
            try:
                group = await track.next_group(skip_after=skip_after)
            except TrackClosed:
                group = None
            if group is None:
                break
            if request.end_group is not None and group.sequence > request.end_group:
                break
            if last < 0 and self.version >= Version.LITE_05:
                self.send_message(send, SubscribeStart(group.sequence), kind=SubscribeStart.TYPE)
            last = max(last, group.sequence)
            stream = await self._write_group(request.id, group, request.priority, backlog, skip_after)
            if stream is not None:
                backlog.append((stream, time.monotonic()))
        if self.version >= Version.LITE_05:
            self.send_message(send, SubscribeEnd(last + 1), kind=SubscribeEnd.TYPE)

    async def _write_group(self, subscribe_id: int, group: GroupConsumer, priority: int,
                           backlog: list[tuple[SendStream, float]], skip_after: float) -> SendStream | None:
        """Write one group on its own stream; the stream if it ended with a FIN (its data may still be queued)."""
        version = self.version
        stream = await self.transport.open_uni()
        stream.priority = priority
        try:
            stream.write_nowait(encode_varint(UniStream.GROUP)
                                + encode_message(GroupHeader(subscribe_id, group.sequence), version))
            previous = 0
            while (frame := await group.read_frame()) is not None:
                delta = zigzag_encode(frame.timestamp - previous)
                previous = frame.timestamp
                drop_stale(backlog, skip_after)
                await stream.write(encode_frame(frame.payload, version, delta))
            stream.finish()
            return stream
        except GroupAborted as exc:
            reset_quietly(stream, exc.code)
        except asyncio.CancelledError:
            reset_quietly(stream, ErrorCode.CANCEL)
            raise
        except HangError:
            reset_quietly(stream, ErrorCode.CANCEL)
        return None

    async def serve_track(self, send: SendStream, reader: StreamReader) -> None:
        """lite-05 TRACK: answer with the track's TRACK_INFO."""
        request = await reader.required(TrackRequest, self.version)
        try:
            info = await self._broadcast(request.broadcast).track_info(request.track)
        except (NotFound, Unauthorized) as exc:
            self._refuse(send, exc)
            return
        self.send_message(send, TrackInfo(info.priority, info.ordered, info.max_latency_ms, info.timescale))
        finish_quietly(send)

    async def serve_fetch(self, send: SendStream, reader: StreamReader) -> None:
        """lite-05 FETCH: send one cached group as bare frames, or reset if it is gone."""
        request = await reader.required(Fetch, self.version)
        try:
            track = await self._broadcast(request.broadcast).subscribe(request.track)
        except (NotFound, Unauthorized) as exc:
            self._refuse(send, exc)
            return
        try:
            group = track.fetch(request.group)
            if group is None:
                reset_quietly(send, ErrorCode.NOT_FOUND)
                return
            previous = 0
            while (frame := await group.read_frame()) is not None:
                delta = zigzag_encode(frame.timestamp - previous)
                previous = frame.timestamp
                await send.write(encode_frame(frame.payload, self.version, delta))
            finish_quietly(send)
        except GroupAborted as exc:
            reset_quietly(send, exc.code)
        finally:
            track.close()
