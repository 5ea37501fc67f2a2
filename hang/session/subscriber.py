"""The subscribing half of a session: announce requests, subscriptions and incoming groups."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from dataclasses import dataclass

from hang.errors import DecodeError, ErrorCode, LimitExceeded, NotFound, StreamReset, Unauthorized
from hang.model.broadcast import BroadcastProducer
from hang.model.origin import Announcement, Origin
from hang.model.track import TrackConsumer, TrackInfo, TrackProducer
from hang.session.base import SessionBase, finish_quietly, log
from hang.session.limits import SessionLimits
from hang.session.reader import StreamReader
from hang.transport.base import RecvStream, SendStream
from hang.wire.coding import join_path, normalize_path, zigzag_decode
from hang.wire.constants import BidiStream, Version
from hang.wire.messages import (
    Announce,
    AnnounceInit,
    AnnounceOk,
    AnnounceRequest,
    GroupHeader,
    Subscribe,
    SubscribeDrop,
    SubscribeEnd,
    SubscribeOk,
    TrackRequest,
    subscribe_reply_class,
)
from hang.wire.messages import TrackInfo as TrackInfoMessage


@dataclass
class _Subscription:
    track: TrackProducer
    send: SendStream
    ending: bool = False
    active_groups: int = 0


class Subscriber(SessionBase):
    """Asks the peer for announcements and tracks, and feeds incoming groups into track producers."""

    def init_subscriber(self) -> None:
        self._subscriptions: dict[int, _Subscription] = {}
        self._next_subscribe_id = 0
        self._remote: dict[str, BroadcastProducer] = {}

    async def announced(self, prefix: str = "") -> AsyncIterator[Announcement]:
        """Broadcasts the peer announces under ``prefix``: the current set, then live changes."""
        prefix = normalize_path(prefix)
        version = await self.wait_version()
        send, recv = await self.transport.open_bi()
        exclude = self.origin_id if self.subscribe_origin is not None else 0
        self.send_message(send, AnnounceRequest(prefix, exclude), kind=BidiStream.ANNOUNCE)
        reader = StreamReader(recv)
        peer_origin = 0
        try:
            if version >= Version.LITE_05:
                peer_origin = (await reader.required(AnnounceOk, version)).origin
            elif version.uses_setup_exchange:
                for suffix in (await reader.required(AnnounceInit, version)).suffixes:
                    yield Announcement(join_path(prefix, normalize_path(suffix)), True)
            while (message := await reader.message(Announce, version)) is not None:
                hops = message.hops + ((peer_origin,) if peer_origin else ())
                yield Announcement(join_path(prefix, normalize_path(message.suffix)), message.active, hops)
        finally:
            finish_quietly(send)

    async def learn_broadcasts(self, prefix: str = "") -> None:
        """Publish everything the peer announces into :attr:`subscribe_origin` (what a relay does)."""
        origin = self.subscribe_origin
        assert origin is not None
        try:
            async for announcement in self.announced(prefix):
                path = announcement.path
                if announcement.active and self.origin_id in announcement.hops:
                    continue
                old = self._remote.pop(path, None)
                if old is not None:
                    old.close()
                if announcement.active:
                    self._learn(origin, path, announcement.hops)
        finally:
            self.forget_broadcasts()

    def _learn(self, origin: Origin, path: str, hops: tuple[int, ...]) -> None:
        if SessionLimits.over(len(self._remote) + 1, self.limits.announcements):
            raise LimitExceeded(f"announced more than {self.limits.announcements} broadcasts")
        broadcast = BroadcastProducer(resolver=functools.partial(self._resolve_remote, path))
        try:
            origin.publish(path, broadcast.consume(), hops)
        except Unauthorized as exc:
            # Like the official relay: an announce outside what the session may publish is
            # ignored, and the rest of the session goes on.
            log.warning("%s: ignoring the announce of %r: %s", self.label, path, exc)
            broadcast.close()
            return
        self._remote[path] = broadcast

    async def _resolve_remote(self, broadcast: str, track: str) -> TrackProducer:
        return await self.subscribe_track(broadcast, track)

    def forget_broadcasts(self) -> None:
        """Unannounce every broadcast learnt from this peer."""
        for broadcast in self._remote.values():
            broadcast.close()
        self._remote.clear()

    async def subscribe(self, broadcast: str, track: str, *, priority: int = 0) -> TrackConsumer:
        """Subscribe to ``track`` of ``broadcast``, starting at its newest group."""
        producer = await self.subscribe_track(normalize_path(broadcast), track, priority=priority)
        return producer.consume()

    async def track_info(self, broadcast: str, track: str) -> TrackInfo | None:
        """lite-05: ask the peer for a track's properties (None before lite-05)."""
        version = await self.wait_version()
        if version < Version.LITE_05:
            return None
        send, recv = await self.transport.open_bi()
        self.send_message(send, TrackRequest(broadcast, track), kind=BidiStream.TRACK)
        try:
            info = await StreamReader(recv).required(TrackInfoMessage, version)
        except StreamReset as exc:
            if exc.code == ErrorCode.UNAUTHORIZED:
                raise Unauthorized(f"track {track!r} of {broadcast!r} is not granted") from None
            raise NotFound(f"peer has no track {track!r} in {broadcast!r}") from None
        except DecodeError:
            raise NotFound(f"peer has no track {track!r} in {broadcast!r}") from None
        finally:
            finish_quietly(send)
        return TrackInfo(info.priority, info.ordered, info.max_latency_ms, info.timescale)

    async def subscribe_track(self, broadcast: str, track: str, *, priority: int = 0) -> TrackProducer:
        """Open a subscription and return the producer its groups are written into."""
        version = await self.wait_version()
        info = await self.track_info(broadcast, track) or TrackInfo(priority=priority)
        sub_id = self._next_subscribe_id
        self._next_subscribe_id += 1
        send, recv = await self.transport.open_bi()
        self.send_message(send, Subscribe(sub_id, broadcast, track, priority or info.priority),
                          kind=BidiStream.SUBSCRIBE)
        cache = self.limits.cache_bytes
        producer = TrackProducer(track, info) if cache is None else TrackProducer(track, info, cache_bytes=cache)
        sub = _Subscription(producer, send)
        self._subscriptions[sub_id] = sub
        reader = StreamReader(recv)
        if version < Version.LITE_05:
            try:
                await self._read_reply(reader, version, sub)
            except StreamReset as exc:
                self._subscriptions.pop(sub_id, None)
                if exc.code == ErrorCode.UNAUTHORIZED:
                    raise Unauthorized(f"subscription to {broadcast}/{track} is not granted") from None
                raise NotFound(f"subscription to {broadcast}/{track} refused (code {exc.code})") from None
        producer.on_unused = lambda: self._unsubscribe(sub_id)
        self.spawn(self._watch_subscription(sub_id, reader, version), f"subscription {broadcast}/{track}")
        return producer

    async def _read_reply(self, reader: StreamReader, version: Version, sub: _Subscription) -> bool:
        """Read one reply; False once the stream ended (the track ended)."""
        if version < Version.LITE_03:
            return await reader.message(SubscribeOk, version) is not None
        kind = await reader.varint()
        if kind is None:
            return False
        reply = await reader.required(subscribe_reply_class(kind, version), version)
        if isinstance(reply, SubscribeDrop):
            log.debug("%s: groups %d..%d dropped (code %d)", self.label, reply.start, reply.end, reply.error)
        elif isinstance(reply, SubscribeEnd):
            sub.ending = True
        return True

    async def _watch_subscription(self, sub_id: int, reader: StreamReader, version: Version) -> None:
        sub = self._subscriptions.get(sub_id)
        if sub is None:
            return
        try:
            while await self._read_reply(reader, version, sub):
                pass
            sub.ending = True
            if sub.active_groups == 0:
                self._finished(sub_id, sub)
        except StreamReset as exc:
            sub.track.abort(exc.code)
            self._subscriptions.pop(sub_id, None)

    def _finished(self, sub_id: int, sub: _Subscription) -> None:
        """The track ended and its last group arrived: end it and forget the subscription."""
        sub.track.finish()
        if self._subscriptions.get(sub_id) is sub:
            del self._subscriptions[sub_id]

    def _unsubscribe(self, sub_id: int) -> None:
        sub = self._subscriptions.pop(sub_id, None)
        if sub is not None:
            finish_quietly(sub.send)
            sub.track.finish()

    async def receive_group(self, recv: RecvStream, reader: StreamReader) -> None:
        """An incoming group stream (its type already read)."""
        version = self.version
        header = await reader.required(GroupHeader, version)
        sub = self._subscriptions.get(header.subscribe_id)
        group = sub.track.create_group(header.sequence) if sub is not None else None
        if sub is None or group is None:
            recv.stop(ErrorCode.CANCEL)
            return
        sub.active_groups += 1
        timestamp = 0
        try:
            cap = self.limits.cache_bytes
            while (frame := await reader.frame(version)) is not None:
                timestamp += zigzag_decode(frame[0])
                if cap is not None and group.size + len(frame[1]) > cap:
                    log.warning("%s: group %d of subscription %d is over the %d-byte track cache: dropped",
                                self.label, header.sequence, header.subscribe_id, cap)
                    group.abort(ErrorCode.BOUNDS_EXCEEDED)
                    recv.stop(ErrorCode.BOUNDS_EXCEEDED)
                    return
                group.write_frame(frame[1], timestamp)
            group.finish()
        except StreamReset as exc:
            group.abort(exc.code)
        except DecodeError:
            group.abort(ErrorCode.DECODE)
            raise
        finally:
            group.abort(ErrorCode.CLOSED)  # cut short (session gone, cancelled): never leave it open
            sub.active_groups -= 1
            if sub.ending and sub.active_groups == 0:
                self._finished(header.subscribe_id, sub)

    def close_subscriptions(self) -> None:
        """End every subscription (the session is gone)."""
        for sub in self._subscriptions.values():
            sub.track.abort(ErrorCode.CLOSED)
            for group in sub.track.groups:
                group.abort(ErrorCode.CLOSED)  # a finished track may still have groups in flight
        self._subscriptions.clear()
        self.forget_broadcasts()

