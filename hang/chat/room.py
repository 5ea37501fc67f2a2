"""A MoQ Chat participant: one ``chat`` track of our own, and the newest track of everyone else.

Each participant publishes namespace ``("moq-chat", chat-id, user, device, timestamp)`` with a
track ``chat``; every message is a new group with one object. Joining is SUBSCRIBE_ANNOUNCES on
``("moq-chat", chat-id)``, then a SUBSCRIBE to the newest timestamp per (user, device).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from hang.errors import HangError
from hang.model.broadcast import BroadcastProducer
from hang.model.track import TrackClosed, TrackConsumer
from hang.session.base import discard
from hang.session.moqt07 import Moqt07Session
from hang.wire.coding import join_path

PREFIX = "moq-chat"
TRACK = "chat"


@dataclass(frozen=True)
class ChatEvent:
    """Something that happened in the room: ``kind`` is "join", "leave" or "message"."""

    kind: str
    user: str
    device: str
    text: str = ""
    #: The message's group (its sequence number on the sender's track).
    group: int | None = None


@dataclass
class _Member:
    timestamp: int
    path: str
    task: asyncio.Task[None] | None = None


class ChatRoom:
    """Join a chat as ``user`` on ``device`` through a draft-07 session."""

    def __init__(self, session: Moqt07Session, chat_id: str, user: str, device: str = "12345",
                 timestamp: int | None = None) -> None:
        if any(not part or "/" in part for part in (chat_id, user, device)):
            raise HangError("chat id, user and device must be non-empty and contain no '/'")
        self.session = session
        self.chat_id, self.user, self.device = chat_id, user, device
        self.timestamp = timestamp if timestamp is not None else int(time.time())
        self.path = join_path(join_path(PREFIX, chat_id), f"{user}/{device}/{self.timestamp}")
        self.events: asyncio.Queue[ChatEvent] = asyncio.Queue()
        self._broadcast = BroadcastProducer()
        self._track = self._broadcast.create_track(TRACK)
        self._members: dict[tuple[str, str], _Member] = {}
        self._watch: asyncio.Task[None] | None = None

    async def join(self) -> None:
        """ANNOUNCE our track and follow everyone else's (SUBSCRIBE_ANNOUNCES on the chat)."""
        self.session.publish(self.path, self._broadcast.consume())
        self._watch = asyncio.ensure_future(self._follow())

    def send(self, text: str) -> int:
        """Send one message (a new group with one object); returns its group number."""
        group = self._track.append_group()
        group.write_frame(text.encode("utf-8"))
        group.finish()
        return group.sequence

    async def leave(self, linger: float = 0.2) -> None:
        """UNANNOUNCE, End of Track and Group on our track, UNSUBSCRIBE from everyone."""
        self.session.publish_origin.unpublish(self.path)
        self._broadcast.close()
        await asyncio.sleep(linger)  # let the end markers leave before the subscriptions go
        if self._watch is not None:
            discard(self._watch)
        for member in self._members.values():
            if member.task is not None:
                discard(member.task)
        self._members.clear()

    async def _follow(self) -> None:
        # Cancelling this task runs the iterator's clean-up, which sends UNSUBSCRIBE_ANNOUNCES.
        async for announcement in self.session.announced(join_path(PREFIX, self.chat_id)):
            self._on_announcement(announcement.path, announcement.active)

    def _on_announcement(self, path: str, active: bool) -> None:
        parts = path.split("/")
        if len(parts) != 5 or path == self.path:
            return
        user, device, stamp = parts[2], parts[3], parts[4]
        try:
            timestamp = int(stamp)
        except ValueError:
            return
        key = (user, device)
        member = self._members.get(key)
        if active:
            if member is not None and member.timestamp >= timestamp:
                return
            if member is not None and member.task is not None:
                discard(member.task)
            member = _Member(timestamp, path)
            self._members[key] = member
            member.task = asyncio.ensure_future(self._read(member, user, device))
            self.events.put_nowait(ChatEvent("join", user, device))
        elif member is not None and member.path == path:
            self._gone(key, member)

    def _gone(self, key: tuple[str, str], member: _Member) -> None:
        if self._members.get(key) is member:
            del self._members[key]
            self.events.put_nowait(ChatEvent("leave", key[0], key[1]))
        if member.task is not None and member.task is not asyncio.current_task():
            discard(member.task)

    async def _read(self, member: _Member, user: str, device: str) -> None:
        track: TrackConsumer | None = None
        try:
            track = await self.session.subscribe(member.path, TRACK)
            while (group := await track.next_group()) is not None:
                for frame in await group.read_all():
                    text = frame.payload.decode("utf-8", errors="replace")
                    self.events.put_nowait(ChatEvent("message", user, device, text, group.sequence))
        except (HangError, TrackClosed):
            pass
        finally:
            if track is not None:
                track.close()
        self._gone((user, device), member)
