"""Transport-agnostic publish/subscribe state shared by sessions, the relay and the media code.

The vocabulary follows moq-lite: an origin holds broadcasts by path, a broadcast holds tracks by
name, a track is a sequence of groups, a group is a sequence of frames. Each level is a producer
(the writing side) handing out consumers (independent readers).
"""

from hang.model.broadcast import BroadcastConsumer, BroadcastProducer, TrackResolver
from hang.model.group import Frame, GroupAborted, GroupConsumer, GroupProducer
from hang.model.origin import Announcement, AnnouncementConsumer, Origin
from hang.model.track import TrackConsumer, TrackInfo, TrackProducer

__all__ = [
    "Announcement",
    "AnnouncementConsumer",
    "BroadcastConsumer",
    "BroadcastProducer",
    "Frame",
    "GroupAborted",
    "GroupConsumer",
    "GroupProducer",
    "Origin",
    "TrackConsumer",
    "TrackInfo",
    "TrackProducer",
    "TrackResolver",
]
