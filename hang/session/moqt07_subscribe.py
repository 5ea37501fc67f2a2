"""The subscribing half of a draft-07 session: SUBSCRIBE, incoming objects, ANNOUNCE and friends."""

from __future__ import annotations

import asyncio
import functools
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from hang.errors import ErrorCode, HangError, NotFound, ProtocolError, StreamReset
from hang.model.broadcast import BroadcastProducer
from hang.model.group import GroupProducer
from hang.model.origin import Announcement
from hang.model.track import TrackConsumer, TrackProducer
from hang.session.base import log
from hang.session.moqt07_base import Moqt07Base, namespace_path, path_namespace, to_draft_priority
from hang.transport.base import RecvStream
from hang.wire.coding import normalize_path
from hang.wire.framing import END, NEED_DATA
from hang.wire.moqt07 import (
    Announce,
    AnnounceError,
    AnnounceOk,
    Fetch,
    FetchError,
    FetchOk,
    FilterType,
    GroupOrder,
    MaxSubscribeId,
    Namespace,
    Subscribe,
    SubscribeAnnounces,
    SubscribeAnnouncesError,
    SubscribeAnnouncesOk,
    SubscribeDone,
    SubscribeError,
    SubscribeOk,
    TrackStatus,
    TrackStatusRequest,
    Unannounce,
    Unsubscribe,
    UnsubscribeAnnounces,
)
from hang.wire.moqt07_data import (
    DataStreamDecoder,
    FetchHeader,
    Object,
    ObjectDatagram,
    ObjectStatus,
    SubgroupHeader,
    TrackHeader,
    decode_datagram,
)

#: Seconds a request waits for the peer to raise MAX_SUBSCRIBE_ID.
ID_WAIT = 5.0
#: Seconds after SUBSCRIBE_DONE that a subscription waits for objects still in flight.
FINAL_GRACE = 2.0
_ENDS_GROUP = (ObjectStatus.END_OF_GROUP, ObjectStatus.END_OF_SUBGROUP, ObjectStatus.END_OF_TRACK_AND_GROUP)


@dataclass
class _Incoming:
    subscribe_id: int
    alias: int
    track: TrackProducer
    reply: asyncio.Future[SubscribeOk]
    ending: bool = False
    active: int = 0
    #: From SUBSCRIBE_DONE: the last group sent, which may still be on its way.
    final_group: int | None = None

    def complete(self) -> bool:
        """Ending, and every group up to the final one has arrived and finished."""
        if not self.ending or self.active:
            return False
        latest = self.track.latest
        return self.final_group is None or (latest is not None and latest.sequence >= self.final_group)


@dataclass
class _Fetching:
    reply: asyncio.Future[FetchOk]
    objects: list[Object] = field(default_factory=list)
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Moqt07Subscriber(Moqt07Base):
    """Subscribes to the peer's tracks and learns the namespaces it announces."""

    def init_subscriber(self) -> None:
        self._incoming: dict[int, _Incoming] = {}
        self._by_alias: dict[int, int] = {}
        self._refused_aliases: set[int] = set()
        self._next_id = 0
        self._peer_max: float = math.inf if self.cloudflare else 0
        self._ids_granted = asyncio.Event()
        self._remote: dict[str, BroadcastProducer] = {}
        self._prefix_replies: dict[Namespace, asyncio.Future[None]] = {}
        self._status_replies: dict[tuple[Namespace, str], asyncio.Future[TrackStatus]] = {}
        self._fetching: dict[int, _Fetching] = {}

    # -- subscribe ids -------------------------------------------------------------------------

    def grant_ids(self, maximum: int) -> None:
        """The peer's MAX_SUBSCRIBE_ID (from SERVER_SETUP or a MAX_SUBSCRIBE_ID message)."""
        self._peer_max = maximum
        self._ids_granted.set()
        self._ids_granted = asyncio.Event()

    def on_max_subscribe_id(self, message: MaxSubscribeId) -> None:
        if message.subscribe_id <= self._peer_max and not self.cloudflare:
            raise ProtocolError(f"MAX_SUBSCRIBE_ID {message.subscribe_id} does not grow")
        self.grant_ids(message.subscribe_id)

    async def _take_id(self) -> int:
        while self._next_id >= self._peer_max:
            log.debug("%s: waiting for MAX_SUBSCRIBE_ID above %d", self.label, self._next_id)
            try:
                await asyncio.wait_for(self._ids_granted.wait(), ID_WAIT)
            except TimeoutError:
                raise NotFound(f"the peer allows no more subscriptions (MAX_SUBSCRIBE_ID {self._peer_max})") from None
        self._next_id += 1
        return self._next_id - 1

    # -- SUBSCRIBE -----------------------------------------------------------------------------

    async def subscribe_track(self, path: str, name: str, *, priority: int = 128,
                              filter_type: int = FilterType.LATEST_GROUP, start: tuple[int, int] | None = None,
                              end: tuple[int, int] | None = None) -> TrackProducer:
        """SUBSCRIBE and return the producer the objects are written into; raises NotFound if refused.

        ``start`` (group, object) goes with AbsoluteStart and AbsoluteRange, ``end`` (group, object
        + 1, 0 = the whole group) with AbsoluteRange.
        """
        namespace = path_namespace(path)
        sub_id = await self._take_id()
        producer = TrackProducer(name)
        incoming = _Incoming(sub_id, sub_id, producer, asyncio.get_running_loop().create_future())
        self._incoming[sub_id] = incoming
        self._by_alias[incoming.alias] = sub_id
        start_group, start_object = start or (None, None)
        end_group, end_object = end or (None, None)
        self.send_control(Subscribe(sub_id, incoming.alias, namespace, name, priority, 0, filter_type, start_group,
                                    start_object, end_group, end_object))
        try:
            await asyncio.shield(incoming.reply)
        except asyncio.CancelledError:
            if self.closed.done():
                raise NotFound(f"session closed before {path}/{name} was answered") from None
            raise
        producer.on_unused = lambda: self._unsubscribe(sub_id)
        return producer

    async def subscribe(self, broadcast: str, track: str, *, priority: int = 0) -> TrackConsumer:
        """Subscribe to ``track`` of ``broadcast`` (moq-lite priority: higher first)."""
        producer = await self.subscribe_track(normalize_path(broadcast), track, priority=to_draft_priority(priority))
        return producer.consume()

    def _unsubscribe(self, sub_id: int) -> None:
        incoming = self._incoming.get(sub_id)
        if incoming is not None and not incoming.ending:
            incoming.ending = True
            self.send_control(Unsubscribe(sub_id))
            self._forget(incoming)

    def _forget(self, incoming: _Incoming) -> None:
        incoming.track.finish()
        self._incoming.pop(incoming.subscribe_id, None)
        if self._by_alias.get(incoming.alias) == incoming.subscribe_id:
            del self._by_alias[incoming.alias]

    def on_subscribe_ok(self, message: SubscribeOk) -> None:
        incoming = self._incoming.get(message.subscribe_id)
        if incoming is not None and not incoming.reply.done():
            incoming.reply.set_result(message)

    def on_subscribe_error(self, message: SubscribeError) -> None:
        incoming = self._incoming.pop(message.subscribe_id, None)
        if incoming is None:
            return
        self._by_alias.pop(incoming.alias, None)
        self._refused_aliases.add(incoming.alias)
        incoming.track.abort(ErrorCode.NOT_FOUND)
        if not incoming.reply.done():
            incoming.reply.set_exception(NotFound(
                f"subscription refused (code {message.error_code}: {message.reason_phrase or 'no reason'})"))

    def on_subscribe_done(self, message: SubscribeDone) -> None:
        incoming = self._incoming.get(message.subscribe_id)
        if incoming is None:
            return
        incoming.ending = True
        incoming.final_group = message.final_group
        if not incoming.reply.done():
            incoming.reply.set_result(SubscribeOk(message.subscribe_id))
        if incoming.complete():
            self._forget(incoming)
        else:
            # Objects may still be in flight on their streams; give them a moment, not forever.
            asyncio.get_running_loop().call_later(FINAL_GRACE, self._forget, incoming)

    # -- objects -------------------------------------------------------------------------------

    def _route(self, alias: int, subscribe_id: int | None) -> _Incoming | None:
        if self.cloudflare and subscribe_id is not None and subscribe_id in self._incoming:
            return self._incoming[subscribe_id]
        sub_id = self._by_alias.get(alias)
        if sub_id is None:
            if alias in self._refused_aliases:
                raise ProtocolError(f"objects for track alias {alias} after SUBSCRIBE_ERROR")
            return None
        return self._incoming.get(sub_id)

    async def receive_objects(self, recv: RecvStream) -> None:
        """One incoming data stream: a subgroup (a group of a subscription) or a fetch's objects."""
        decoder = DataStreamDecoder(cloudflare=self.cloudflare, max_object_size=self.limits.frame_size)
        header = None
        while header is None or header is NEED_DATA:
            data, fin = await recv.read()
            decoder.feed(data, fin)
            header = decoder.pull()
            if header is END:
                return
        if isinstance(header, FetchHeader):
            await self._receive_fetch(header, recv, decoder)
            return
        assert isinstance(header, SubgroupHeader | TrackHeader)
        subscribe_id = header.subscribe_id
        incoming = self._route(header.track_alias, subscribe_id)
        if incoming is None:
            recv.stop(ErrorCode.CANCEL)
            return
        incoming.active += 1
        group: GroupProducer | None = None
        last_id = -1
        try:
            if isinstance(header, SubgroupHeader):
                group = incoming.track.create_group(header.group_id)
                if group is None:
                    recv.stop(ErrorCode.CANCEL)
                    return
            async for obj in self._objects(recv, decoder):
                if isinstance(header, TrackHeader) and (group is None or group.sequence != obj.group_id):
                    if group is not None:
                        group.finish()
                    group, last_id = incoming.track.create_group(obj.group_id or 0), -1
                    if group is None:
                        continue
                assert group is not None
                if obj.object_id < last_id:
                    raise ProtocolError("object ids decrease on a subgroup stream")
                last_id = obj.object_id
                self._write_object(incoming, group, obj.object_id, obj.payload, obj.object_status)
            if group is not None:
                group.finish()
        except StreamReset as exc:
            if group is not None:
                group.abort(exc.code)
        finally:
            if group is not None:
                group.abort(ErrorCode.CLOSED)
            incoming.active -= 1
            if incoming.complete():
                self._forget(incoming)

    @staticmethod
    async def _objects(recv: RecvStream, decoder: DataStreamDecoder) -> AsyncIterator[Object]:
        while True:
            unit = decoder.pull()
            if unit is END:
                return
            if unit is NEED_DATA:
                data, fin = await recv.read()
                decoder.feed(data, fin)
                continue
            assert isinstance(unit, Object)
            yield unit

    def _write_object(self, incoming: _Incoming, group: GroupProducer, object_id: int, payload: bytes,
                      status: int) -> None:
        if status == ObjectStatus.NORMAL:
            group.write_frame(payload)
        elif status in _ENDS_GROUP:
            group.finish()
            if status == ObjectStatus.END_OF_TRACK_AND_GROUP:
                incoming.ending = True
                incoming.track.finish()

    async def receive_datagrams(self) -> None:
        """Objects sent as datagrams: each joins (or starts) its group; a newer group ends older ones."""
        while True:
            data = await self.transport.receive_datagram()
            try:
                datagram = decode_datagram(data, self.limits.frame_size)
            except HangError as exc:
                raise ProtocolError(f"bad datagram: {exc}") from None
            self._on_datagram(datagram)

    def _on_datagram(self, datagram: ObjectDatagram) -> None:
        incoming = self._route(datagram.track_alias, None)
        if incoming is None:
            return
        track = incoming.track
        track.datagrams = True
        group = next((g for g in track.groups if g.sequence == datagram.group_id), None)
        if group is None:
            for older in track.groups:
                if older.sequence < datagram.group_id:
                    older.finish()
            group = track.create_group(datagram.group_id)
            if group is None:
                return
        self._write_object(incoming, group, datagram.object_id, datagram.payload, datagram.object_status)

    # -- FETCH and TRACK_STATUS (as a client) -------------------------------------------------

    async def _receive_fetch(self, header: FetchHeader, recv: RecvStream, decoder: DataStreamDecoder) -> None:
        fetching = self._fetching.get(header.subscribe_id)
        if fetching is None:
            recv.stop(ErrorCode.CANCEL)
            return
        async for obj in self._objects(recv, decoder):
            fetching.objects.append(obj)
        if not fetching.done.done():
            fetching.done.set_result(None)

    def on_fetch_ok(self, message: FetchOk) -> None:
        fetching = self._fetching.get(message.subscribe_id)
        if fetching is not None and not fetching.reply.done():
            fetching.reply.set_result(message)

    def on_fetch_error(self, message: FetchError) -> None:
        fetching = self._fetching.pop(message.subscribe_id, None)
        if fetching is not None and not fetching.reply.done():
            fetching.reply.set_exception(NotFound(f"fetch refused (code {message.error_code}: "
                                                  f"{message.reason_phrase})"))

    def on_track_status(self, message: TrackStatus) -> None:
        future = self._status_replies.pop((message.track_namespace, message.track_name), None)
        if future is not None and not future.done():
            future.set_result(message)

    async def fetch(self, path: str, name: str, start_group: int, end_group: int, *, start_object: int = 0,
                    end_object: int = 0) -> list[Object]:
        """FETCH cached objects (``end_object`` is +1, 0 = the whole end group); raises NotFound."""
        namespace = path_namespace(path)
        sub_id = await self._take_id()
        fetching = _Fetching(asyncio.get_running_loop().create_future())
        self._fetching[sub_id] = fetching
        self.send_control(Fetch(sub_id, namespace, name, 128, GroupOrder.ASCENDING, start_group, start_object,
                                end_group, end_object))
        try:
            await asyncio.shield(fetching.reply)
            await asyncio.shield(fetching.done)
        finally:
            self._fetching.pop(sub_id, None)
        return fetching.objects

    async def track_status(self, path: str, name: str) -> TrackStatus:
        """Ask the peer for a track's status."""
        key = (path_namespace(path), name)
        future = self._status_replies.setdefault(key, asyncio.get_running_loop().create_future())
        self.send_control(TrackStatusRequest(*key))
        return await asyncio.shield(future)

    # -- ANNOUNCE from the peer ----------------------------------------------------------------

    def on_announce(self, message: Announce) -> None:
        namespace = message.track_namespace
        try:
            path = namespace_path(namespace)
        except HangError as exc:
            self.send_control(AnnounceError(namespace, 400, str(exc)))
            return
        refusal = self.refuse_announce(path)
        if refusal:
            self.send_control(AnnounceError(namespace, 401, refusal))
            return
        old = self._remote.pop(path, None)
        if old is not None:
            old.close()
        broadcast = BroadcastProducer(resolver=functools.partial(self._resolve_remote, path))
        self._remote[path] = broadcast
        self.remote_paths.add(path)
        self.learnt_origin.publish(path, broadcast.consume())
        self.send_control(AnnounceOk(namespace))

    def refuse_announce(self, path: str) -> str:
        """Why an ANNOUNCE of ``path`` is refused ("" = accepted); a relay's access rules go here."""
        return ""

    async def _resolve_remote(self, path: str, name: str) -> TrackProducer:
        return await self.subscribe_track(path, name)

    def on_unannounce(self, message: Unannounce) -> None:
        try:
            path = namespace_path(message.track_namespace)
        except HangError:
            return
        broadcast = self._remote.pop(path, None)
        self.remote_paths.discard(path)
        if broadcast is not None:
            broadcast.close()

    def forget_broadcasts(self) -> None:
        """Unannounce everything the peer announced (the session ended)."""
        for broadcast in self._remote.values():
            broadcast.close()
        self._remote.clear()
        self.remote_paths.clear()

    # -- SUBSCRIBE_ANNOUNCES (as a client) ----------------------------------------------------

    async def announced(self, prefix: str = "") -> AsyncIterator[Announcement]:
        """Broadcasts the peer announces under ``prefix``: the current set, then live changes."""
        namespace = path_namespace(prefix)
        watcher = self.learnt_origin.announced(prefix)
        reply = self._prefix_replies.setdefault(namespace, asyncio.get_running_loop().create_future())
        self.send_control(SubscribeAnnounces(namespace))
        try:
            await asyncio.shield(reply)
            async for announcement in watcher:
                yield announcement
        finally:
            watcher.close()
            self._prefix_replies.pop(namespace, None)
            self.send_control(UnsubscribeAnnounces(namespace))

    def on_subscribe_announces_ok(self, message: SubscribeAnnouncesOk) -> None:
        future = self._prefix_replies.get(message.track_namespace_prefix)
        if future is not None and not future.done():
            future.set_result(None)

    def on_subscribe_announces_error(self, message: SubscribeAnnouncesError) -> None:
        future = self._prefix_replies.get(message.track_namespace_prefix)
        if future is not None and not future.done():
            future.set_exception(NotFound(f"announcements under {'/'.join(message.track_namespace_prefix)} "
                                          f"refused (code {message.error_code}: {message.reason_phrase})"))

    def close_subscriptions(self) -> None:
        """The session ended: every incoming track ends, every pending request fails."""
        for incoming in list(self._incoming.values()):
            incoming.track.abort(ErrorCode.CLOSED)
            for group in incoming.track.groups:
                group.abort(ErrorCode.CLOSED)
            if not incoming.reply.done():
                incoming.reply.cancel()
        self._incoming.clear()
        for futures in (self._prefix_replies, self._status_replies):
            for future in futures.values():
                if not future.done():
                    future.cancel()
        for fetching in self._fetching.values():
            if not fetching.reply.done():
                fetching.reply.cancel()
        self.forget_broadcasts()
