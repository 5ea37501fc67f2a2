"""The publishing half of a draft-07 session: SUBSCRIBE, FETCH, TRACK_STATUS and SUBSCRIBE_ANNOUNCES."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from hang.errors import DuplicateTrackAlias, HangError, NotFound, ProtocolError, TooManySubscribes
from hang.model.group import GroupAborted, GroupConsumer
from hang.model.track import TrackClosed, TrackConsumer
from hang.session.base import log, reset_quietly
from hang.session.moqt07_base import Moqt07Base, namespace_path, path_namespace
from hang.transport.base import SendStream
from hang.wire.moqt07 import (
    Announce,
    Fetch,
    FetchCancel,
    FetchError,
    FetchOk,
    FilterType,
    GroupOrder,
    MaxSubscribeId,
    Namespace,
    Param,
    Subscribe,
    SubscribeAnnounces,
    SubscribeAnnouncesError,
    SubscribeAnnouncesOk,
    SubscribeDone,
    SubscribeDoneCode,
    SubscribeError,
    SubscribeErrorCode,
    SubscribeOk,
    SubscribeUpdate,
    TrackStatus,
    TrackStatusCode,
    TrackStatusRequest,
    Unannounce,
    Unsubscribe,
    UnsubscribeAnnounces,
    param_int,
)
from hang.wire.moqt07_data import Object as WireObject
from hang.wire.moqt07_data import (
    ObjectDatagram,
    ObjectStatus,
    SubgroupHeader,
    encode_datagram,
    encode_fetch_header,
    encode_fetch_object,
    encode_subgroup_header,
    encode_subgroup_object,
)

#: Largest object sent as a datagram; bigger ones of a datagram track go on a subgroup stream.
MAX_DATAGRAM_OBJECT = 1100
#: Seconds a TRACK_STATUS_REQUEST waits for a first group of a track that was just resolved.
STATUS_WAIT = 0.5


class RequestRefused(HangError):
    """A SUBSCRIBE or FETCH that is answered with an error code (the session goes on)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code


@dataclass
class _Delivery:
    status: int = SubscribeDoneCode.TRACK_ENDED
    reason: str = "track ended"
    #: The last (group, object) sent.
    last: tuple[int, int] | None = None


@dataclass
class _Served:
    request: Subscribe
    task: asyncio.Task[None] | None = None
    done: bool = False
    delivery: _Delivery = field(default_factory=_Delivery)


class Moqt07Publisher(Moqt07Base):
    """Serves what the peer asks of :attr:`publish_origin`."""

    def init_publisher(self) -> None:
        self._served: dict[int, _Served] = {}
        self._fetches: dict[int, asyncio.Task[None]] = {}
        self._aliases: dict[int, int] = {}
        self._granted = self.options.max_subscribes
        self._last_request_id = -1
        self._announce_watches: dict[Namespace, asyncio.Task[None]] = {}

    # -- subscribe ids -------------------------------------------------------------------------

    def _take_request_id(self, request_id: int) -> None:
        if not self.cloudflare and request_id >= self._granted:
            raise TooManySubscribes(f"subscribe id {request_id} is not below MAX_SUBSCRIBE_ID {self._granted}")
        if request_id <= self._last_request_id and not self.cloudflare:
            raise ProtocolError(f"subscribe id {request_id} does not increase")
        self._last_request_id = max(self._last_request_id, request_id)

    def _release_request_id(self) -> None:
        if self.cloudflare or self.closed.done():
            return
        self._granted += 1
        self.send_control(MaxSubscribeId(self._granted))

    # -- SUBSCRIBE -----------------------------------------------------------------------------

    async def _open_track(self, namespace: Namespace, name: str) -> TrackConsumer:
        try:
            path = namespace_path(namespace)
        except HangError:
            raise NotFound(f"no track {name!r} in {namespace!r}") from None
        broadcast = self.publish_origin.consume(path)
        if broadcast is None:
            raise NotFound(f"no broadcast {path!r}")
        return await broadcast.subscribe(name)

    def on_subscribe(self, request: Subscribe) -> None:
        self._take_request_id(request.subscribe_id)
        if request.track_alias in self._aliases and not self.cloudflare:
            raise DuplicateTrackAlias(f"track alias {request.track_alias} is in use")
        if request.group_order > GroupOrder.DESCENDING:
            raise ProtocolError(f"group order {request.group_order}")
        served = _Served(request)
        self._served[request.subscribe_id] = served
        self._aliases[request.track_alias] = request.subscribe_id
        served.task = self.spawn(self._serve(served), f"subscription {request.subscribe_id}")

    async def _serve(self, served: _Served) -> None:
        request = served.request
        track: TrackConsumer | None = None
        try:
            track = await self._open_track(request.track_namespace, request.track_name)
            start_object = self._apply_filter(request, track)
            latest = track.producer.latest
            largest = (latest.sequence, max(0, len(latest.frames) - 1)) if latest is not None else None
            self.send_control(SubscribeOk(request.subscribe_id, 0, GroupOrder.ASCENDING,
                                          largest[0] if largest else None, largest[1] if largest else None))
            delivery = await self._deliver(served, track, start_object)
            final = delivery.last
            self.send_control(SubscribeDone(request.subscribe_id, delivery.status, delivery.reason,
                                            final[0] if final else None, final[1] if final else None))
        except (NotFound, RequestRefused) as exc:
            code = exc.code if isinstance(exc, RequestRefused) else SubscribeErrorCode.TRACK_DOES_NOT_EXIST
            self.send_control(SubscribeError(request.subscribe_id, code, str(exc), request.track_alias))
        finally:
            if track is not None:
                track.close()
            self._end_served(request.subscribe_id)

    def _end_served(self, subscribe_id: int) -> None:
        served = self._served.pop(subscribe_id, None)
        if served is not None and not served.done:
            served.done = True
            if self._aliases.get(served.request.track_alias) == subscribe_id:
                del self._aliases[served.request.track_alias]
            self._release_request_id()

    @staticmethod
    def _apply_filter(request: Subscribe, track: TrackConsumer) -> int:
        latest = track.producer.latest
        if request.filter_type == FilterType.LATEST_OBJECT:
            return len(latest.frames) if latest is not None else 0
        if request.filter_type in (FilterType.ABSOLUTE_START, FilterType.ABSOLUTE_RANGE):
            start = request.start_group or 0
            if latest is not None and start < latest.sequence:
                raise RequestRefused(SubscribeErrorCode.INVALID_RANGE,
                                     f"start group {start} is before the current group {latest.sequence}")
            if request.filter_type == FilterType.ABSOLUTE_RANGE and (request.end_group or 0) < start:
                raise RequestRefused(SubscribeErrorCode.INVALID_RANGE, "end group before start group")
            track.seek(start)
            return request.start_object or 0
        return 0

    async def _deliver(self, served: _Served, track: TrackConsumer, start_object: int) -> _Delivery:
        request = served.request
        timeout = param_int(request.parameters, Param.DELIVERY_TIMEOUT)
        skip_after = timeout / 1000 if timeout else self.options.skip_after
        ranged = request.filter_type == FilterType.ABSOLUTE_RANGE
        delivery = served.delivery
        first = True
        while True:
            try:
                group = await track.next_group(skip_after=skip_after)
            except TrackClosed as exc:
                delivery.status, delivery.reason = SubscribeDoneCode.TRACK_ENDED, f"track closed (code {exc.code})"
                return delivery
            if group is None:
                return delivery
            if ranged and group.sequence > (request.end_group or 0):
                break
            end = None
            if ranged and group.sequence == request.end_group and request.end_object:
                end = request.end_object - 1
            await self._send_group(served, track, group, start_object if first else 0, end)
            first = False
            if ranged and group.sequence >= (request.end_group or 0):
                break
        delivery.status, delivery.reason = SubscribeDoneCode.SUBSCRIPTION_ENDED, "range delivered"
        return delivery

    async def _send_group(self, served: _Served, track: TrackConsumer, group: GroupConsumer, start: int,
                          end: int | None) -> None:
        request, delivery = served.request, served.delivery
        priority = track.info.priority
        if track.producer.datagrams and await self._send_datagrams(request, group, start, end, delivery):
            return
        stream = await self.transport.open_uni()
        header = SubgroupHeader(request.track_alias, group.sequence, 0, max(0, 255 - priority),
                                request.subscribe_id if self.cloudflare else None)
        index = 0
        try:
            stream.write_nowait(encode_subgroup_header(header))
            while (end is None or index <= end) and (frame := await group.read_frame()) is not None:
                if index >= start:
                    await stream.write(encode_subgroup_object(index, frame.payload))
                    delivery.last = (group.sequence, index)
                index += 1
            stream.write_nowait(encode_subgroup_object(index, b"", ObjectStatus.END_OF_GROUP), fin=True)
        except asyncio.CancelledError:
            reset_quietly(stream)
            raise
        except HangError:  # the group was aborted, or the stream or session went away
            reset_quietly(stream)

    async def _send_datagrams(self, request: Subscribe, group: GroupConsumer, start: int, end: int | None,
                              delivery: _Delivery) -> bool:
        """Objects of a datagram track as datagrams; False (send a stream instead) if one is too large."""
        frames = []
        while (frame := await group.read_frame()) is not None:
            frames.append(frame)
            if end is not None and len(frames) > end:
                break
        if any(len(f.payload) > MAX_DATAGRAM_OBJECT for f in frames):
            log.debug("%s: group %d too large for datagrams, sent on a stream", self.label, group.sequence)
            return False
        for index, frame in enumerate(frames):
            if index >= start:
                self.transport.send_datagram(encode_datagram(
                    ObjectDatagram(request.track_alias, group.sequence, index, 128, frame.payload)))
                delivery.last = (group.sequence, index)
        self.transport.send_datagram(encode_datagram(ObjectDatagram(
            request.track_alias, group.sequence, len(frames), 128, b"", ObjectStatus.END_OF_GROUP)))
        return True

    def on_unsubscribe(self, message: Unsubscribe) -> None:
        served = self._served.get(message.subscribe_id)
        if served is None or served.task is None:
            return
        served.task.cancel()
        final = served.delivery.last
        self.send_control(SubscribeDone(message.subscribe_id, SubscribeDoneCode.UNSUBSCRIBED, "",
                                        final[0] if final else None, final[1] if final else None))
        self._end_served(message.subscribe_id)

    def on_subscribe_update(self, message: SubscribeUpdate) -> None:
        # Accepted and not applied: delivery keeps the SUBSCRIBE's range and stream priorities.
        log.debug("%s: SUBSCRIBE_UPDATE for %d ignored", self.label, message.subscribe_id)

    # -- TRACK_STATUS --------------------------------------------------------------------------

    def on_track_status_request(self, message: TrackStatusRequest) -> None:
        self.spawn(self._answer_track_status(message), "track status")

    async def _answer_track_status(self, message: TrackStatusRequest) -> None:
        status, group_id, object_id = TrackStatusCode.DOES_NOT_EXIST, 0, 0
        try:
            track = await self._open_track(message.track_namespace, message.track_name)
        except NotFound:
            track = None
        if track is not None:
            try:
                producer = track.producer
                if producer.latest is None and not producer.done:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(producer.wait_change(), STATUS_WAIT)
                latest = producer.latest
                if latest is None:
                    status = TrackStatusCode.FINISHED if producer.done else TrackStatusCode.NOT_YET_BEGUN
                else:
                    status = TrackStatusCode.FINISHED if producer.done else TrackStatusCode.IN_PROGRESS
                    group_id, object_id = latest.sequence, max(0, len(latest.frames) - 1)
            finally:
                track.close()
        self.send_control(TrackStatus(message.track_namespace, message.track_name, status, group_id, object_id))

    # -- FETCH ---------------------------------------------------------------------------------

    def on_fetch(self, message: Fetch) -> None:
        self._take_request_id(message.subscribe_id)
        task = self.spawn(self._serve_fetch(message), f"fetch {message.subscribe_id}")
        self._fetches[message.subscribe_id] = task

    async def _serve_fetch(self, request: Fetch) -> None:
        track: TrackConsumer | None = None
        stream: SendStream | None = None
        try:
            track = await self._open_track(request.track_namespace, request.track_name)
            producer = track.producer
            latest = producer.latest
            if latest is None or request.start_group > latest.sequence or request.end_group < request.start_group:
                raise RequestRefused(SubscribeErrorCode.INVALID_RANGE, "No Objects")
            descending = request.group_order == GroupOrder.DESCENDING
            self.send_control(FetchOk(request.subscribe_id, GroupOrder.DESCENDING if descending
                                      else GroupOrder.ASCENDING, producer.done, latest.sequence,
                                      max(0, len(latest.frames) - 1)))
            wanted = [g.sequence for g in producer.groups if request.start_group <= g.sequence <= request.end_group]
            stream = await self.transport.open_uni()
            stream.write_nowait(encode_fetch_header(request.subscribe_id))
            for sequence in sorted(wanted, reverse=descending):
                group = track.fetch(sequence)
                if group is None:
                    continue
                first = request.start_object if sequence == request.start_group else 0
                last = request.end_object - 1 if sequence == request.end_group and request.end_object else None
                index = 0
                while (last is None or index <= last) and (frame := await group.read_frame()) is not None:
                    if index >= first:
                        await stream.write(encode_fetch_object(WireObject(index, frame.payload, group_id=sequence,
                                                                          subgroup_id=0, publisher_priority=128)))
                    index += 1
            stream.finish()
        except (NotFound, RequestRefused) as exc:
            code = exc.code if isinstance(exc, RequestRefused) else SubscribeErrorCode.TRACK_DOES_NOT_EXIST
            self.send_control(FetchError(request.subscribe_id, code, str(exc)))
        except (asyncio.CancelledError, GroupAborted):
            if stream is not None:
                reset_quietly(stream)
            raise
        finally:
            if track is not None:
                track.close()
            if self._fetches.pop(request.subscribe_id, None) is not None:
                self._release_request_id()

    def on_fetch_cancel(self, message: FetchCancel) -> None:
        task = self._fetches.get(message.subscribe_id)
        if task is not None:
            task.cancel()

    # -- SUBSCRIBE_ANNOUNCES -------------------------------------------------------------------

    def on_subscribe_announces(self, message: SubscribeAnnounces) -> None:
        prefix = message.track_namespace_prefix
        for other in self._announce_watches:
            if other[: len(prefix)] == prefix or prefix[: len(other)] == other:
                self.send_control(SubscribeAnnouncesError(prefix, 0, "SUBSCRIBE_ANNOUNCES_OVERLAP"))
                return
        try:
            path = namespace_path(prefix)
        except HangError as exc:
            self.send_control(SubscribeAnnouncesError(prefix, 0, str(exc)))
            return
        self.send_control(SubscribeAnnouncesOk(prefix))
        self._announce_watches[prefix] = self.spawn(self._forward_announces(path), f"announces {path}")

    async def _forward_announces(self, prefix: str) -> None:
        watcher = self.publish_origin.announced(prefix)
        sent: set[str] = set()
        try:
            async for announcement in watcher:
                path = announcement.path
                if announcement.active and path not in sent and path not in self.remote_paths:
                    sent.add(path)
                    self.send_control(Announce(path_namespace(path)))
                elif not announcement.active and path in sent:
                    sent.discard(path)
                    self.send_control(Unannounce(path_namespace(path)))
        finally:
            watcher.close()

    def on_unsubscribe_announces(self, message: UnsubscribeAnnounces) -> None:
        task = self._announce_watches.pop(message.track_namespace_prefix, None)
        if task is not None:
            task.cancel()

    # -- our own broadcasts (client side) -----------------------------------------------------

    async def announce_published(self) -> None:
        """ANNOUNCE every broadcast in :attr:`publish_origin` and UNANNOUNCE it when it ends."""
        await self._forward_announces("")
