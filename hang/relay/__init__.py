"""The embedded relay: one origin shared by every session, plus a small HTTP side."""

from hang.relay.relay import Relay, RelayConfig

__all__ = ["Relay", "RelayConfig"]
