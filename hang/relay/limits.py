"""The relay's limits: how many sessions it serves, and what each session may hold."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

from hang.model.track import DEFAULT_CACHE_BYTES
from hang.session.limits import SessionLimits
from hang.wire.constants import MAX_FRAME_SIZE, MAX_MESSAGE_SIZE


def default_session_limits() -> SessionLimits:
    """What one relay session may hold unless configured otherwise."""
    return SessionLimits(streams=256, subscriptions=128, announce_requests=32, announcements=64,
                         message_size=MAX_MESSAGE_SIZE, frame_size=MAX_FRAME_SIZE, cache_bytes=DEFAULT_CACHE_BYTES)


@dataclass
class RelayLimits:
    """Sessions served at once, plus the limits of each session.

    A session over ``sessions`` is closed at once with BoundsExceeded; the per-session limits are
    described in :class:`~hang.session.limits.SessionLimits`. Streams per session are also
    enforced by QUIC flow control (MAX_STREAMS), so a well-behaved peer waits instead of failing.
    """

    sessions: int | None = 1000
    session: SessionLimits = field(default_factory=default_session_limits)


#: ``hang relay`` flag -> (SessionLimits field or "sessions", help).
FLAGS = {
    "max-sessions": ("sessions", "sessions served at once"),
    "max-streams": ("streams", "streams one session may have served at once"),
    "max-subscriptions": ("subscriptions", "subscriptions one session may have open"),
    "max-announce-requests": ("announce_requests", "announcement watchers one session may have open"),
    "max-announcements": ("announcements", "broadcasts one session may announce"),
    "max-message-size": ("message_size", "largest control message, bytes"),
    "max-frame-size": ("frame_size", "largest media frame, bytes"),
    "max-cache-bytes": ("cache_bytes", "bytes of recent groups cached per track (also the largest group)"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one ``--max-...`` option per limit, defaulting to :class:`RelayLimits`'s values."""
    group = parser.add_argument_group("limits (protocol error to the offending peer only)")
    defaults = RelayLimits()
    for flag, (name, text) in FLAGS.items():
        value = defaults.sessions if name == "sessions" else getattr(defaults.session, name)
        group.add_argument(f"--{flag}", type=int, default=value, metavar="N", help=f"{text} (default {value})")


def from_arguments(args: argparse.Namespace) -> RelayLimits:
    """The limits the ``--max-...`` options ask for."""
    limits = RelayLimits()
    for flag, (name, _) in FLAGS.items():
        value = getattr(args, flag.replace("-", "_"))
        if value is not None and value < 1:
            raise ValueError(f"--{flag} must be at least 1")
        if name == "sessions":
            limits.sessions = value
        else:
            setattr(limits.session, name, value)
    return limits
