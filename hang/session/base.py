"""State and helpers shared by the publishing and subscribing halves of a moq-lite session."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from hang.errors import ErrorCode, HangError, ProtocolError, SessionClosed, StreamReset
from hang.model.broadcast import BroadcastConsumer
from hang.model.origin import Origin
from hang.session.limits import SessionLimits, Usage
from hang.transport.base import SendStream, Session
from hang.wire.coding import encode_varint
from hang.wire.constants import Version
from hang.wire.framing import encode_message
from hang.wire.messages import Message

log = logging.getLogger("hang.session")


class SessionBase:
    """Holds the transport, the negotiated version, the origins and the session's tasks."""

    def __init__(self, transport: Session, *, publish: Origin | None, subscribe: Origin | None,
                 origin_id: int, limits: SessionLimits | None = None) -> None:
        self.transport = transport
        #: Broadcasts we offer to the peer.
        self.publish_origin = publish if publish is not None else Origin()
        #: Where broadcasts the peer announces are published (None: we do not ask for them).
        self.subscribe_origin = subscribe
        self.origin_id = origin_id
        #: What the peer may make us hold (a relay sets these; a client leaves them open).
        self.limits = limits or SessionLimits()
        self.usage = Usage(self.limits)
        self._version: asyncio.Future[Version] = asyncio.get_running_loop().create_future()
        self._tasks: set[asyncio.Task[None]] = set()
        self.closed: asyncio.Future[SessionClosed] = asyncio.get_running_loop().create_future()
        self.label = f"{transport.kind} {transport.remote}"

    @property
    def version(self) -> Version:
        """The negotiated moq-lite version (only once the handshake finished)."""
        return self._version.result()

    async def wait_version(self) -> Version:
        """Wait for the handshake to settle the version."""
        return await asyncio.shield(self._version)

    def set_version(self, version: Version) -> None:
        """Record the negotiated version."""
        if not self._version.done():
            self._version.set_result(version)

    def spawn(self, coro: Coroutine[Any, Any, None], what: str) -> asyncio.Task[None]:
        """Run ``coro`` as part of the session; a protocol error in it closes the session."""
        task = asyncio.ensure_future(self._guard(coro, what))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        # A session closed before the task ever ran (e.g. refused right after its handshake) must
        # not leave ``coro`` "never awaited".
        task.add_done_callback(lambda _: coro.close())
        return task

    async def _guard(self, coro: Coroutine[Any, Any, None], what: str) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except ProtocolError as exc:
            log.warning("%s: %s: protocol error: %s", self.label, what, exc)
            self.close(self.close_code(exc), str(exc))
        except (SessionClosed, StreamReset):
            pass
        except HangError as exc:
            log.info("%s: %s: %s", self.label, what, exc)
        except Exception:
            log.exception("%s: %s failed", self.label, what)

    def publish(self, path: str, broadcast: BroadcastConsumer) -> None:
        """Offer ``broadcast`` to the peer at ``path`` until it closes (draft-07: its ANNOUNCE)."""
        self.publish_origin.publish(path, broadcast)

    async def wait_closed(self) -> None:
        """Wait until the session ends."""
        await asyncio.shield(self.closed)

    async def _watch_transport(self) -> None:
        info = await self.transport.closed
        self.close(info.code, info.reason)

    def close_code(self, error: ProtocolError) -> int:
        """The session close code for a protocol error (the moq-lite code here)."""
        return int(error.error_code)

    def close(self, code: int = 0, reason: str = "") -> None:
        """End the session with a moq-lite error code (0 = clean)."""
        if self.closed.done():
            return
        self.closed.set_result(SessionClosed(code, reason))
        if not self._version.done():
            self._version.set_exception(SessionClosed(code, reason))
            self._version.exception()
        self.transport.close(code, reason)
        for task in list(self._tasks):
            task.cancel()
        self.on_closed()

    def on_closed(self) -> None:
        """Hook for the halves to release what they hold when the session ends."""

    def send_message(self, stream: SendStream, message: Message, *, kind: int | None = None) -> None:
        """Write ``[kind] v(len) body`` on ``stream`` for the negotiated version."""
        head = encode_varint(kind) if kind is not None else b""
        stream.write_nowait(head + encode_message(message, self.version))


def _consume_result(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


def discard(*tasks: asyncio.Future[Any]) -> None:
    """Cancel helper tasks and make sure their outcome is never reported as unretrieved."""
    for task in tasks:
        task.cancel()
        task.add_done_callback(_consume_result)


def reset_quietly(stream: SendStream, code: int = ErrorCode.CANCEL) -> None:
    """Reset a send stream, ignoring a stream or session that is already gone."""
    with contextlib.suppress(HangError):
        stream.reset(code)


def finish_quietly(stream: SendStream) -> None:
    """FIN a send stream, ignoring a stream or session that is already gone."""
    with contextlib.suppress(HangError):
        stream.finish()
