"""hang: Hang real-time conferencing over moq-lite (Media over QUIC) in Python.

::

    import hang

    async with hang.connect("http://localhost:4443/") as session:
        broadcast = hang.BroadcastProducer()
        chat = broadcast.create_track("chat")
        session.publish("room/alice", broadcast.consume())
        chat.write_frame(b"hello")
"""

from hang.errors import (
    ConnectError,
    DecodeError,
    ErrorCode,
    HangError,
    MediaError,
    NotFound,
    ProtocolError,
    SessionClosed,
)
from hang.model import (
    Announcement,
    BroadcastConsumer,
    BroadcastProducer,
    Frame,
    GroupConsumer,
    GroupProducer,
    Origin,
    TrackConsumer,
    TrackInfo,
    TrackProducer,
)
from hang.session.client import ClientConfig, connect
from hang.session.session import MoqSession
from hang.wire.constants import Version

__version__ = "0.1.0"

__all__ = [
    "Announcement",
    "BroadcastConsumer",
    "BroadcastProducer",
    "ClientConfig",
    "ConnectError",
    "DecodeError",
    "ErrorCode",
    "Frame",
    "GroupConsumer",
    "GroupProducer",
    "HangError",
    "MediaError",
    "MoqSession",
    "NotFound",
    "Origin",
    "ProtocolError",
    "SessionClosed",
    "TrackConsumer",
    "TrackInfo",
    "TrackProducer",
    "Version",
    "__version__",
    "connect",
]
